"""Letters for postal mail: one US Letter page per member, ready for a #10 window envelope.

The address block sits 1 in from the left and 2 in from the top, inside the window of a #10
envelope (window 4½ × 1⅛ in, ⅞ in from the left, ½ in from the bottom) once the page is folded
in three. The credential is printed large in a monospace font, grouped as it is written
(``XXXXX-XXXXXX-XXXXX-XXXXXX``), so that 0/O and 1/l cannot be confused.

fpdf2 keeps a document in memory until it is written, so a large run is split into files of
``pages_per_file`` pages (``letters-0001.pdf``, …): memory stays bounded and each file is a
batch for the printer. The instructions are laid out once per language and placed line by line
on each page (laying out a paragraph costs far more than placing it). The PDF's text uses the
standard PDF fonts (Latin-1): any other letter in a name or address is printed without its
accent (``ễ`` → ``e``), or as ``?`` when it has no Latin form. Each member's ``printed`` event is
logged once their file is safely written; the files are readable only by their owner.
"""

from __future__ import annotations

import datetime
import os
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from unionvote.authority.delivery_log import DeliveryEvent, DeliveryLog, MemberDelivery
from unionvote.authority.errors import AuthorityError
from unionvote.authority.registered import RegisteredMember
from unionvote.authority.templates import Instructions, instructions
from unionvote.authority.workspace import Workspace, utc_now
from unionvote.crypto.credentials import PrivateCredential

if TYPE_CHECKING:  # fpdf takes a second to import: only the letters need it
    from fpdf import FPDF

__all__ = ["SELECTIONS", "LetterRun", "print_letters"]

#: ``all`` members, or those ``bounced``: email did not reach them (a bounce, or no address).
SELECTIONS = ("all", "bounced")
PAGES_PER_FILE = 5000

_LEFT = 25.4  # mm: 1 in, inside the envelope's window
_ADDRESS_TOP = 50.8  # mm: 2 in
_WIDTH = 215.9 - 2 * _LEFT
_LINE = 5.0
_FOOTER_TOP = 262.0
_REPLACEMENTS = str.maketrans({"—": "-", "–": "-", "’": "'", "‘": "'", "“": '"', "”": '"'})


@dataclass(frozen=True)
class LetterRun:
    files: list[Path]
    letters: int


@dataclass(frozen=True, slots=True)
class _Layout:
    """One language's instructions, already broken into lines for the page's width."""

    texts: Instructions
    intro: list[str]
    keep: list[str]
    steps: list[list[str]]
    not_you: list[str]
    footer: list[str]


def print_letters(
    workspace: Workspace,
    out: Path,
    *,
    only: str = "all",
    contact: str = "",
    pages_per_file: int = PAGES_PER_FILE,
    compress: bool = True,
    now: Callable[[], datetime.datetime] = utc_now,
    progress: Callable[[int], None] | None = None,
) -> LetterRun:
    """Write the letters of the members ``only`` selects to ``out`` (split when large)."""
    if only not in SELECTIONS:
        raise AuthorityError("letters.only", f"--only is one of {', '.join(SELECTIONS)}")
    if pages_per_file < 1:
        raise AuthorityError("letters.pages", "pages per file must be at least 1")
    if not out.parent.is_dir():
        raise AuthorityError("letters.out", f"the directory {out.parent} does not exist")
    log = DeliveryLog(workspace.deliveries_path)
    states = log.state()
    chosen = sum(1 for m in workspace.registered() if _selected(m, states, only))
    if chosen == 0:
        return LetterRun([], 0)
    batches = (chosen + pages_per_file - 1) // pages_per_file
    names = (
        [out]
        if batches == 1
        else [out.with_name(f"{out.stem}-{n:04d}{out.suffix}") for n in range(1, batches + 1)]
    )
    for name in names:
        if name.exists():
            raise AuthorityError("letters.exists", f"{name} exists; refusing to overwrite it")
    layouts: dict[str, _Layout] = {}
    date = now().date().isoformat()
    members = (pair for pair in workspace.members() if _selected(pair[0], states, only))
    done = 0
    with log:
        for name in names:
            pdf = _document(workspace, compress)
            cards = []
            for member, credential in _take(members, pages_per_file):
                pdf.add_page()
                layout = layouts.get(member.language)
                if layout is None:
                    layout = _layout(
                        pdf, instructions(workspace.info, member.language, contact=contact)
                    )
                    layouts[member.language] = layout
                _page(pdf, layout, member, credential, workspace, date)
                cards.append(member.card_number)
            _write(pdf, name)
            at = now()
            log.append(
                *(DeliveryEvent(card, "post", "printed", at, detail=name.name) for card in cards)
            )
            done += len(cards)
            if progress is not None:
                progress(done)
    return LetterRun(names, done)


def _selected(member: RegisteredMember, states: dict[str, MemberDelivery], only: str) -> bool:
    if only == "all":
        return True
    state = states.get(member.card_number)
    address = (state.email_address if state else "") or member.email
    return not address or (state is not None and state.email_status == "bounced")


def _take(
    members: Iterator[tuple[RegisteredMember, PrivateCredential]], count: int
) -> Iterator[tuple[RegisteredMember, PrivateCredential]]:
    for _ in range(count):
        pair = next(members, None)
        if pair is None:
            return
        yield pair


def _document(workspace: Workspace, compress: bool) -> FPDF:
    from fpdf import FPDF

    pdf = FPDF(unit="mm", format="letter")
    pdf.set_compression(compress)
    pdf.set_auto_page_break(False)
    pdf.set_title(_latin1(f"Voting credentials: {workspace.info.election}"))
    pdf.set_creator("unionvote credentials letters")
    return pdf


def _layout(pdf: FPDF, texts: Instructions) -> _Layout:
    pdf.set_font("Helvetica", size=10.5)

    def lines(text: str, indent: float = 0.0) -> list[str]:
        result = pdf.multi_cell(_WIDTH - indent, _LINE, _latin1(text), dry_run=True, output="LINES")
        assert isinstance(result, list)  # output="LINES" gives the lines
        return [str(line) for line in result]

    return _Layout(
        texts=texts,
        intro=lines(texts.intro),
        keep=lines(texts.keep),
        steps=[lines(step, indent=6) for step in texts.steps],
        not_you=lines(texts.not_you_text),
        footer=lines(texts.footer),
    )


def _page(
    pdf: FPDF,
    layout: _Layout,
    member: RegisteredMember,
    credential: PrivateCredential,
    workspace: Workspace,
    date: str,
) -> None:
    texts = layout.texts
    pdf.set_font("Helvetica", size=8)
    pdf.text(_LEFT, 18, _latin1(texts.authority))
    pdf.text(_LEFT, 22, _latin1(workspace.info.election))
    pdf.text(215.9 - _LEFT - 20, 18, date)
    pdf.set_font("Helvetica", size=11)
    y = _ADDRESS_TOP + 4
    for line in member.address_lines()[:5]:
        pdf.text(_LEFT, y, _latin1(line))
        y += _LINE
    y = 100.0
    pdf.set_font("Helvetica", style="B", size=15)
    pdf.text(_LEFT, y, _latin1(texts.title))
    pdf.set_font("Helvetica", size=10.5)
    y += 9
    pdf.text(_LEFT, y, _latin1(texts.greeting(member)))
    y = _lines(pdf, layout.intro, y + 7)
    pdf.text(_LEFT, y, _latin1(texts.card(member)))
    y = _lines(pdf, [texts.label], y + 8)
    pdf.set_draw_color(0)
    pdf.set_line_width(0.4)
    pdf.rect(_LEFT, y - 3, _WIDTH, 16)
    pdf.set_font("Courier", style="B", size=24)
    code = credential.reveal()
    pdf.text(_LEFT + (_WIDTH - pdf.get_string_width(code)) / 2, y + 7.5, code)
    pdf.set_font("Helvetica", size=10.5)
    y = _lines(pdf, layout.keep, y + 21)
    pdf.set_font("Helvetica", style="B", size=11)
    pdf.text(_LEFT, y + 3, _latin1(texts.how))
    pdf.set_font("Helvetica", size=10.5)
    y += 9
    for number, step in enumerate(layout.steps, start=1):
        pdf.text(_LEFT, y, f"{number}.")
        y = _lines(pdf, step, y, indent=6)
    pdf.set_font("Helvetica", style="B", size=11)
    pdf.text(_LEFT, y + 3, _latin1(texts.not_you))
    pdf.set_font("Helvetica", size=10.5)
    y = _lines(pdf, layout.not_you, y + 9)
    if y > _FOOTER_TOP:
        raise AuthorityError(
            "letters.layout", f"the {texts.language} instructions do not fit on one page"
        )
    pdf.set_font("Helvetica", size=8)
    _lines(pdf, layout.footer, _FOOTER_TOP)


def _lines(pdf: FPDF, lines: list[str], y: float, *, indent: float = 0.0) -> float:
    for line in lines:
        pdf.text(_LEFT + indent, y, _latin1(line))
        y += _LINE
    return y


def _write(pdf: FPDF, path: Path) -> None:
    partial = path.with_name(f".{path.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(bytes(pdf.output()))
            stream.flush()
            os.fsync(stream.fileno())
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _latin1(text: str) -> str:
    """``text`` in the standard PDF fonts' Latin-1: accents dropped where needed, else ``?``."""
    text = text.translate(_REPLACEMENTS)
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        out = []
        for ch in text:
            if ord(ch) < 256:
                out.append(ch)
                continue
            base = "".join(
                c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)
            )
            out.append(base if base and all(ord(c) < 256 for c in base) else "?")
        text = "".join(out)
    return text
