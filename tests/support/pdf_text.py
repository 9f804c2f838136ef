"""The text an fpdf2 PDF shows, page by page, read back for the tests.

Each page's content stream (deflated when compressed) is read for the strings it shows, in the
order it draws them. A string in an embedded Unicode font (two bytes a glyph, as fpdf2 writes
DejaVu Sans) is read through that font's ToUnicode map, so "Nguyễn" or "Łukasz" reads as
written; a string in a standard font (Helvetica, Courier) is Latin-1. The same reading as
``pdf_text`` in ``tests/web/test_questionnaire.py``, with the pages kept apart.
"""

from __future__ import annotations

import re
import zlib
from contextlib import suppress

__all__ = ["page_strings", "pdf_pages"]

_OBJECT = re.compile(rb"(\d+) 0 obj(.*?)endobj", re.DOTALL)
_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.DOTALL)
_TEXT_OPS = re.compile(
    rb"/(\w+)\s+[\d.]+\s+Tf"  # a font chosen
    rb"|(\((?:\\.|[^\\)])*\))\s*Tj"  # a literal string shown
    rb"|<([0-9A-Fa-f\s]*)>\s*Tj",  # a hex string shown
    re.DOTALL,
)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _unescape(literal: bytes) -> bytes:
    out = bytearray()
    i = 1
    while i < len(literal) - 1:
        char = literal[i : i + 1]
        if char == b"\\":
            following = literal[i + 1 : i + 2]
            if following.isdigit():
                digits = re.match(rb"[0-7]{1,3}", literal[i + 1 : i + 4])
                assert digits is not None
                out.append(int(digits[0], 8))
                i += 1 + len(digits[0])
                continue
            out += _ESCAPES.get(following, following)
            i += 2
            continue
        out += char
        i += 1
    return bytes(out)


def _stream(body: bytes) -> bytes | None:
    match = _STREAM.search(body)
    if match is None:
        return None
    data = match[1]
    length = re.search(rb"/Length\s+(\d+)\s*[/>]", body[: match.start()])
    if length is not None:  # exactly: deflated data may itself end in a carriage return
        start = match.start(1)
        data = body[start : start + int(length[1])]
    if b"/FlateDecode" in body[: match.start()]:
        with suppress(zlib.error):
            data = zlib.decompress(data)
    return data


def _cmap(data: bytes) -> dict[bytes, str]:
    """A ToUnicode CMap: each 2-byte code → the text it stands for."""
    out: dict[bytes, str] = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", data, re.DOTALL):
        for code, text in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            out[bytes.fromhex(code.decode())] = bytes.fromhex(text.decode()).decode("utf-16-be")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", data, re.DOTALL):
        for low, high, first in re.findall(
            rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block
        ):
            width = len(low) // 2
            start = int(first, 16)
            for offset, code in enumerate(range(int(low, 16), int(high, 16) + 1)):
                out[code.to_bytes(width, "big")] = chr(start + offset)
    return out


def pdf_pages(content: bytes) -> list[list[str]]:
    """Each page's shown strings, pages in the document's order."""
    assert content.startswith(b"%PDF-"), "not a PDF"
    objects = {int(m[1]): m[2] for m in _OBJECT.finditer(content)}
    maps: dict[bytes, dict[bytes, str]] = {}  # a font's resource name → its ToUnicode map
    for name, number in re.findall(rb"/(F\d+)\s+(\d+)\s+0\s+R", content):
        unicode_ref = re.search(rb"/ToUnicode\s+(\d+)\s+0\s+R", objects.get(int(number), b""))
        if unicode_ref is not None:
            data = _stream(objects.get(int(unicode_ref[1]), b""))
            if data is not None:
                maps[name] = _cmap(data)
    tree = next(body for body in objects.values() if re.search(rb"/Type\s*/Pages\b", body))
    kids = re.search(rb"/Kids\s*\[(.*?)\]", tree, re.DOTALL)
    assert kids is not None
    pages = []
    for number in re.findall(rb"(\d+)\s+0\s+R", kids[1]):
        contents = re.search(rb"/Contents\s+(\d+)\s+0\s+R", objects[int(number)])
        assert contents is not None
        data = _stream(objects[int(contents[1])]) or b""
        current: dict[bytes, str] | None = None
        shown: list[str] = []
        for match in _TEXT_OPS.finditer(data):
            font, literal, hexed = match.groups()
            if font is not None:
                current = maps.get(font)
                continue
            raw = _unescape(literal) if literal is not None else bytes.fromhex(hexed.decode())
            if current is None:
                shown.append(raw.decode("latin-1"))
            else:
                shown.append(
                    "".join(current.get(raw[i : i + 2], "\ufffd") for i in range(0, len(raw), 2))
                )
        pages.append(shown)
    count = re.search(rb"/Count\s+(\d+)", tree)
    assert count is not None and int(count[1]) == len(pages)
    return pages


def page_strings(content: bytes) -> list[str]:
    """Every page's text as one string (its shown strings joined by spaces)."""
    return [" ".join(page) for page in pdf_pages(content)]
