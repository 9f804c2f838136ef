"""Letters for postal mail: one US Letter page per member, ready for a #10 window envelope.

The address block sits 1 in from the left and 2 in from the top, inside the window of a #10
envelope (window 4½ × 1⅛ in, ⅞ in from the left, ½ in from the bottom) once the page is folded
in three. The credential is printed large in a monospace font, grouped as it is written
(``XXXXX-XXXXXX-XXXXX-XXXXXX``), so that 0/O and 1/l cannot be confused.

The text is set in DejaVu Sans, embedded (:mod:`unionvote.pdf_fonts`): a member named "Nguyễn
Thị Minh Khai" or "Łukasz Żółć" gets a letter with their name as written, in Latin with every
accent, Greek or Cyrillic. A letter DejaVu has no glyph for (Chinese, Japanese, Korean) is
printed without its accent when that has one, else as ``?``. The credential (Base58, ASCII) is
in the standard Courier.

fpdf2 keeps a document in memory until it is written, so a large run is split into files of
``pages_per_file`` pages (``letters-0001.pdf``, …): memory stays bounded and each file is a
batch for the printer. The files are independent, so ``workers`` processes print them at once:
this process reads the workspace (members and their private credentials, in order), hands each
worker the members of one file at a time (at most two files a worker in flight), and logs each
member's ``printed`` event once their file is safely written (temporary name, fsync, rename).
A file's bytes depend only on its members and the run's settings — never on the worker that
printed it or on the files before it: each file is a fresh document, the instructions are laid
out on a scratch document, and its creation date is the run's start (``now()``). The files are
readable only by their owner.
"""

from __future__ import annotations

import datetime
import functools
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

from unionvote.authority.delivery_log import DeliveryEvent, DeliveryLog, MemberDelivery
from unionvote.authority.errors import AuthorityError
from unionvote.authority.registered import RegisteredMember
from unionvote.authority.templates import Instructions, instructions
from unionvote.authority.workspace import Workspace, WorkspaceInfo, utc_now
from unionvote.crypto.credentials import PrivateCredential
from unionvote.pdf_fonts import FAMILY, font_files, printable

if TYPE_CHECKING:  # fpdf takes a second to import: only the letters need it
    from multiprocessing.queues import SimpleQueue

    from fpdf import FPDF

__all__ = ["PAGES_PER_FILE", "SELECTIONS", "LetterRun", "print_letters"]

#: ``all`` members, or those ``bounced``: email did not reach them (a bounce, or no address).
SELECTIONS = ("all", "bounced")
PAGES_PER_FILE = 5000

_LEFT = 25.4  # mm: 1 in, inside the envelope's window
_ADDRESS_TOP = 50.8  # mm: 2 in
_WIDTH = 215.9 - 2 * _LEFT
_LINE = 5.0
_FOOTER_TOP = 262.0
_STYLES = "B"  # the DejaVu styles used: regular and bold
_REPORT = 100  # a worker reports its progress every this many pages


@dataclass(frozen=True)
class LetterRun:
    files: list[Path]
    letters: int


@dataclass(frozen=True, slots=True)
class _Settings:
    """What every file of a run shares (sent to each worker)."""

    info: WorkspaceInfo
    contact: str
    date: str  # printed at the top of each letter
    created: datetime.datetime  # the PDFs' creation date: the run's start
    compress: bool


@dataclass(frozen=True, slots=True)
class _File:
    """One PDF to print: its path and its members, in order, with their credentials."""

    path: Path
    members: list[tuple[RegisteredMember, PrivateCredential]]


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
    workers: int = 1,
    now: Callable[[], datetime.datetime] = utc_now,
    progress: Callable[[int], None] | None = None,
) -> LetterRun:
    """Write the letters of the members ``only`` selects to ``out`` (split when large), on
    ``workers`` processes (1: in this process).

    ``progress`` is told the number of letters laid out so far, every hundred or so.
    """
    if only not in SELECTIONS:
        raise AuthorityError("letters.only", f"--only is one of {', '.join(SELECTIONS)}")
    if pages_per_file < 1:
        raise AuthorityError("letters.pages", "pages per file must be at least 1")
    if workers < 1:
        raise AuthorityError("letters.workers", "workers must be at least 1")
    if not out.parent.is_dir():
        raise AuthorityError("letters.out", f"the directory {out.parent} does not exist")
    log = DeliveryLog(workspace.deliveries_path)
    states = log.state() if only != "all" else {}  # every member: the log is not read
    chosen = (
        workspace.info.count
        if only == "all"
        else sum(1 for m in workspace.registered() if _selected(m, states, only))
    )
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
    font_files(_STYLES)  # a missing font is refused before anything is printed
    started = now()
    settings = _Settings(workspace.info, contact, started.date().isoformat(), started, compress)
    members = (pair for pair in workspace.members() if _selected(pair[0], states, only))
    files = (_File(name, list(islice(members, pages_per_file))) for name in names)
    laid_out = 0

    def pages(count: int) -> None:
        nonlocal laid_out
        laid_out += count
        if progress is not None:
            progress(laid_out)

    done = 0
    with log:
        for file in _printed(settings, files, min(workers, len(names)), pages):
            at = now()
            log.append(
                *(
                    DeliveryEvent(member.card_number, "post", "printed", at, detail=file.path.name)
                    for member, _ in file.members
                )
            )
            done += len(file.members)
    if done != chosen:  # pragma: no cover - members() checks the files' row counts
        raise AuthorityError("letters.count", f"{done} letters printed instead of {chosen}")
    return LetterRun(names, done)


def _selected(member: RegisteredMember, states: dict[str, MemberDelivery], only: str) -> bool:
    if only == "all":
        return True
    state = states.get(member.card_number)
    address = (state.email_address if state else "") or member.email
    return not address or (state is not None and state.email_status == "bounced")


# -- the pool -----------------------------------------------------------------------------------


def _printed(
    settings: _Settings, files: Iterator[_File], workers: int, pages: Callable[[int], None]
) -> Iterator[_File]:
    """Print ``files``; yield each once it is written (in order with one worker, else as
    they finish). If one fails, the files already being printed are finished and yielded
    (they are on disk), none is started, and the error is raised."""
    if workers <= 1:
        for file in files:
            _print_file(settings, file, pages)
            yield file
        return
    context = multiprocessing.get_context()
    reports: SimpleQueue[int] = context.SimpleQueue()
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_start_worker, initargs=(reports,)
    ) as pool:
        pending: dict[Future[None], _File] = {}
        error: BaseException | None = None

        def submit() -> None:
            file = next(files, None)
            if file is not None:
                pending[pool.submit(_print_job, settings, file)] = file

        try:
            for _ in range(2 * workers):
                submit()
            while pending:
                finished, _ = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                while not reports.empty():
                    pages(reports.get())
                for future in sorted(finished, key=lambda f: pending[f].path.name):
                    file = pending.pop(future)
                    problem = future.exception()
                    if problem is not None:
                        if error is None:
                            error = problem
                            for other in pending:
                                other.cancel()
                        continue
                    yield file
                    if error is None:
                        submit()
                pending = {f: file for f, file in pending.items() if not f.cancelled()}
        finally:
            for future in pending:
                future.cancel()
        while not reports.empty():
            pages(reports.get())
    if error is not None:
        raise error


_reports: SimpleQueue[int] | None = None


def _start_worker(reports: SimpleQueue[int]) -> None:
    global _reports
    _reports = reports


def _print_job(settings: _Settings, file: _File) -> None:
    def report(count: int) -> None:
        if _reports is not None:
            _reports.put(count)

    _print_file(settings, file, report)


# -- one file -----------------------------------------------------------------------------------


def _print_file(settings: _Settings, file: _File, pages: Callable[[int], None]) -> None:
    pdf = _document(settings)
    date = printable(settings.date)
    unreported = 0
    try:
        for member, credential in file.members:
            pdf.add_page()
            layout = _layout(settings.info, member.language, settings.contact)
            _page(pdf, layout, member, credential, settings.info, date)
            unreported += 1
            if unreported == _REPORT:
                pages(unreported)
                unreported = 0
        _write(pdf, file.path)
    finally:
        _close(pdf)
    if unreported:
        pages(unreported)


def _close(pdf: FPDF) -> None:
    """Close the embedded fonts' files (writing a document does, an error must too)."""
    for font in pdf.fonts.values():
        close = getattr(font, "close", None)
        if close is not None:
            close()


def _new_pdf() -> FPDF:
    from fpdf import FPDF

    pdf = FPDF(unit="mm", format="letter")
    for style, path in font_files(_STYLES).items():
        pdf.add_font(FAMILY, style, str(path))
    return pdf


def _document(settings: _Settings) -> FPDF:
    pdf = _new_pdf()
    _remember_encodings(pdf)
    pdf.set_compression(settings.compress)
    pdf.set_auto_page_break(False)
    pdf.set_creation_date(settings.created)
    pdf.set_title(f"Voting credentials: {settings.info.election}")  # metadata: any Unicode
    pdf.set_creator("unionvote credentials letters")
    return pdf


#: (font, string) → the string as the font's subset encodes it, for the document being printed.
_ENCODED: dict[tuple[int, str], str] = {}


def _remember_encodings(pdf: FPDF) -> None:
    """Have ``pdf``'s embedded fonts remember how they encode each string.

    Encoding a string for an embedded font (``TTFFont.encode_text``: each character's code in
    the document's subset of the font, looked up one by one) is about a third of a letter's
    cost, and most of a letter's strings — the instructions — are the same on every page.
    Within one document a character's code never changes once given, so the remembered
    encoding is the one fpdf2 would make again and the file is the same, byte for byte (a test
    compares). A process prints one document at a time: the memory is cleared for each.
    """
    _ENCODED.clear()
    remembering = _remembering_font()
    for font in pdf.fonts.values():
        if type(font) is remembering.__base__:
            font.__class__ = remembering


@functools.cache
def _remembering_font() -> type:
    from fpdf.fonts import TTFFont

    class RememberingTTFFont(TTFFont):
        __slots__ = ()  # the same layout: an existing font can take this class

        def encode_text(self, text: str) -> str:
            key = (id(self), text)
            encoded = _ENCODED.get(key)
            if encoded is None:
                encoded = _ENCODED[key] = str(super().encode_text(text))
            return encoded

    return RememberingTTFFont


@functools.cache
def _scratch() -> FPDF:
    """A document that is never written, for measuring the instructions' lines."""
    pdf = _new_pdf()
    pdf.add_page()
    return pdf


@functools.lru_cache(maxsize=16)
def _layout(info: WorkspaceInfo, language: str, contact: str) -> _Layout:
    texts = instructions(info, language, contact=contact)
    pdf = _scratch()
    pdf.set_font(FAMILY, size=10.5)

    def lines(text: str, indent: float = 0.0) -> list[str]:
        result = pdf.multi_cell(
            _WIDTH - indent, _LINE, printable(text, _STYLES), dry_run=True, output="LINES"
        )
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
    info: WorkspaceInfo,
    date: str,
) -> None:
    texts = layout.texts
    pdf.set_font(FAMILY, size=8)
    pdf.text(_LEFT, 18, printable(texts.authority, _STYLES))
    pdf.text(_LEFT, 22, printable(info.election, _STYLES))
    pdf.text(215.9 - _LEFT - 20, 18, date)
    pdf.set_font(FAMILY, size=11)
    y = _ADDRESS_TOP + 4
    for line in member.address_lines()[:5]:
        pdf.text(_LEFT, y, printable(line, _STYLES))
        y += _LINE
    y = 100.0
    pdf.set_font(FAMILY, style="B", size=15)
    pdf.text(_LEFT, y, printable(texts.title, _STYLES))
    pdf.set_font(FAMILY, size=10.5)
    y += 9
    pdf.text(_LEFT, y, printable(texts.greeting(member), _STYLES))
    y = _lines(pdf, layout.intro, y + 7)
    pdf.text(_LEFT, y, printable(texts.card(member), _STYLES))
    y = _lines(pdf, [printable(texts.label, _STYLES)], y + 8)
    pdf.set_draw_color(0)
    pdf.set_line_width(0.4)
    pdf.rect(_LEFT, y - 3, _WIDTH, 16)
    pdf.set_font("Courier", style="B", size=24)
    code = credential.reveal()
    pdf.text(_LEFT + (_WIDTH - pdf.get_string_width(code)) / 2, y + 7.5, code)
    pdf.set_font(FAMILY, size=10.5)
    y = _lines(pdf, layout.keep, y + 21)
    pdf.set_font(FAMILY, style="B", size=11)
    pdf.text(_LEFT, y + 3, printable(texts.how, _STYLES))
    pdf.set_font(FAMILY, size=10.5)
    y += 9
    for number, step in enumerate(layout.steps, start=1):
        pdf.text(_LEFT, y, f"{number}.")
        y = _lines(pdf, step, y, indent=6)
    pdf.set_font(FAMILY, style="B", size=11)
    pdf.text(_LEFT, y + 3, printable(texts.not_you, _STYLES))
    pdf.set_font(FAMILY, size=10.5)
    y = _lines(pdf, layout.not_you, y + 9)
    if y > _FOOTER_TOP:
        raise AuthorityError(
            "letters.layout", f"the {texts.language} instructions do not fit on one page"
        )
    pdf.set_font(FAMILY, size=8)
    _lines(pdf, layout.footer, _FOOTER_TOP)


def _lines(pdf: FPDF, lines: list[str], y: float, *, indent: float = 0.0) -> float:
    for line in lines:
        pdf.text(_LEFT + indent, y, line)
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
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a crash
    finally:
        os.close(directory)
