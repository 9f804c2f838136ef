"""The Unicode font of unionvote's PDFs: DejaVu Sans, as matplotlib ships it.

fpdf2's standard fonts know only Latin-1: "Nguyễn Thị Minh Khai" or "Łukasz Żółć" cannot be
written with them. matplotlib, one of unionvote's dependencies, ships DejaVu Sans (regular,
bold, oblique) in ``mpl-data/fonts/ttf``; a PDF that embeds it prints Latin with every accent,
Greek and Cyrillic, and its text can be copied or searched (each font carries its Unicode map).
DejaVu has no Chinese, Japanese or Korean glyphs: :func:`printable` says what a text becomes.

This module sits beside :mod:`unionvote.errors`, outside the layers, because both the server's
questionnaire PDF (``services``) and the credential authority's letters (``authority``, which
must never import the server's code) use it; it imports neither, nor fpdf or matplotlib (the
font files are found without importing matplotlib, a second's work a PDF does not need).
"""

from __future__ import annotations

import functools
import importlib.util
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from unionvote.errors import UnionVoteError

__all__ = ["FAMILY", "FILES", "FontError", "font_directory", "font_files", "printable"]

#: The family name the PDFs register the fonts under.
FAMILY: Final = "DejaVu"
#: fpdf2's style ("", "B", "I") → the file of that style.
FILES: Final = {
    "": "DejaVuSans.ttf",
    "B": "DejaVuSans-Bold.ttf",
    "I": "DejaVuSans-Oblique.ttf",
}


class FontError(UnionVoteError):
    """The Unicode font is not installed."""


def font_directory(names: Iterable[str] = FILES.values()) -> Path:
    """Where matplotlib keeps its TrueType fonts (``mpl-data/fonts/ttf``), holding ``names``."""
    wanted = tuple(names)
    spec = importlib.util.find_spec("matplotlib")
    locations = list(spec.submodule_search_locations or ()) if spec is not None else []
    for location in locations:
        directory = Path(location) / "mpl-data" / "fonts" / "ttf"
        if all((directory / name).is_file() for name in wanted):
            return directory
    raise FontError(
        "the PDF's Unicode font (DejaVu Sans, shipped with matplotlib) was not found: "
        "reinstall unionvote's dependencies (pip install matplotlib)"
    )


def font_files(styles: str = "") -> dict[str, Path]:
    """The regular style and each of ``styles`` ("B" bold, "I" oblique) → its font file."""
    return dict(_located(styles))


@functools.cache
def _located(styles: str) -> tuple[tuple[str, Path], ...]:
    chosen = {style: FILES[style] for style in dict.fromkeys(["", *styles])}
    directory = font_directory(chosen.values())
    return tuple((style, directory / name) for style, name in chosen.items())


@functools.cache
def _covered(paths: tuple[Path, ...]) -> frozenset[int]:
    """The characters every one of the fonts ``paths`` has a glyph for."""
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]  # fpdf2 needs it

    sets = []
    for path in paths:
        with TTFont(path, lazy=True) as font:
            sets.append(frozenset(font.getBestCmap()))
    return frozenset.intersection(*sets)


def printable(text: str, styles: str = "") -> str:
    """``text`` as the fonts of ``styles`` can print it: as written where DejaVu Sans has the
    glyphs; otherwise a letter without its accent when that has one, else ``?`` (never an
    empty box); a control character becomes a space."""
    covered = _covered(tuple(path for _, path in _located(styles)))
    if all(ord(c) in covered for c in text):
        return text
    out = []
    for ch in text:
        if ord(ch) in covered:
            out.append(ch)
        elif unicodedata.category(ch) == "Cc":
            out.append(" ")
        else:
            base = "".join(
                c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)
            )
            out.append(base if base and all(ord(c) in covered for c in base) else "?")
    return "".join(out)
