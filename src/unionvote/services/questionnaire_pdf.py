"""The questionnaire's comparison as a PDF for members, in English or Spanish.

One document per language, made from :func:`unionvote.services.questionnaire.publication_view`
(the same data as the comparison page): the title, the due date, each campaign's status in
plain words — "Answered", "Declined to answer", "Did not respond" — and then the answers: side by
side for yes/no and choice questions, one row per question and one column per candidate (at
most four candidates to a table; more candidates make more tables); then each free-text question
as a heading with one block per candidate beneath it, so an answer of any length flows across
pages (fpdf2 cannot split a table row across pages). A campaign that declined or did not respond
gets its status in every cell of its column and in its block under each text question, in the
same type as an answer, so a missing answer is never a blank.

The PDF embeds DejaVu Sans (regular, bold, oblique), the Unicode fonts matplotlib — one of the
project's dependencies — ships in ``mpl-data/fonts/ttf``: a candidate named "Nguyễn Thị Minh
Khai", "Łukasz Żółć", "Γιώργος" or "Дмитрий" is printed as written (Latin with every accent,
Greek, Cyrillic), and its text can be copied or searched in the PDF (each font carries its
Unicode map). Only the glyphs used are embedded.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from unionvote.domain.questionnaire import local_time
from unionvote.pdf_fonts import font_directory
from unionvote.services.questionnaire import Publication, PublishedCandidate

if TYPE_CHECKING:  # fpdf takes a second to import: only the PDF needs it
    from fpdf import FPDF

__all__ = ["PDF_LANGUAGES", "comparison_pdf", "pdf_name", "status_words"]

PDF_LANGUAGES: Final = ("en", "es")
_COLUMNS: Final = 4  # candidates side by side in one table
_FONT: Final = "DejaVu"
_FONT_FILES: Final = {
    "": "DejaVuSans.ttf",
    "B": "DejaVuSans-Bold.ttf",
    "I": "DejaVuSans-Oblique.ttf",
}


@dataclass(frozen=True)
class _Texts:
    heading: str
    due: str
    policy: Mapping[str, str]
    statuses: str
    candidate: str
    party: str
    status: str
    when: str
    comparison: str
    question: str
    status_words: Mapping[str, str]
    answered_on: str  # with {version}
    declined_on: str
    no_answer: str
    reason: str
    corrected: str  # with {version} and {earlier}
    published: str  # with {name}, {sha256}
    page: str
    earlier_heading: str
    earlier_version: str  # with {name}, {party}, {version}, {at}, {next}, {replaced}


_TEXTS: Final[Mapping[str, _Texts]] = {
    "en": _Texts(
        heading="Candidate questionnaire: the answers side by side",
        due="Answers were due by {due}.",
        policy={
            "publish-all": "Every answer is published as the campaign gave it.",
            "who-answered": "Only whether each campaign answered is published, not the answers.",
            "private": "The committee keeps the answers private.",
        },
        statuses="Each campaign's response",
        candidate="Candidate",
        party="Party",
        status="Response",
        when="When",
        comparison="The answers",
        question="Question",
        status_words={
            "answered": "Answered",
            "declined": "Declined to answer",
            "did-not-respond": "Did not respond",
            "awaiting": "No answer yet",
        },
        answered_on="version {version}",
        declined_on="declined",
        no_answer="No answer to this question",
        reason="Their reason: {reason}",
        corrected="{name} corrected their answers: version {version} is shown; earlier: {earlier}.",
        published="Published file {name}, SHA-256 {sha256}",
        page="Page {page}",
        earlier_heading="Earlier versions of corrected answers",
        earlier_version=(
            "{name} ({party}): version {version}, submitted {at}, replaced by version {next} "
            "on {replaced}"
        ),
    ),
    "es": _Texts(
        heading="Cuestionario para candidatos: las respuestas lado a lado",
        due="Las respuestas debían llegar a más tardar el {due}.",
        policy={
            "publish-all": "Se publica cada respuesta tal como la dio la campaña.",
            "who-answered": "Solo se publica si cada campaña respondió, no sus respuestas.",
            "private": "El comité mantiene las respuestas en privado.",
        },
        statuses="La respuesta de cada campaña",
        candidate="Candidato",
        party="Partido",
        status="Respuesta",
        when="Cuándo",
        comparison="Las respuestas",
        question="Pregunta",
        status_words={
            "answered": "Respondió",
            "declined": "Se negó a responder",
            "did-not-respond": "No respondió",
            "awaiting": "Aún sin respuesta",
        },
        answered_on="versión {version}",
        declined_on="se negó",
        no_answer="Sin respuesta a esta pregunta",
        reason="Su motivo: {reason}",
        corrected=(
            "{name} corrigió sus respuestas: se muestra la versión {version}; "
            "anteriores: {earlier}."
        ),
        published="Archivo publicado {name}, SHA-256 {sha256}",
        page="Página {page}",
        earlier_heading="Versiones anteriores de respuestas corregidas",
        earlier_version=(
            "{name} ({party}): versión {version}, enviada el {at}, reemplazada por la versión "
            "{next} el {replaced}"
        ),
    ),
}


def status_words(language: str) -> Mapping[str, str]:
    """The PDF's words for each candidate status in ``language`` (for the tests and the CLI)."""
    return _texts(language).status_words


def pdf_name(key: str, language: str) -> str:
    """The PDF's file name: ``questionnaire-<key>.pdf`` in English, ``…-es.pdf`` in Spanish."""
    return f"questionnaire-{key}.pdf" if language == "en" else f"questionnaire-{key}-{language}.pdf"


def _texts(language: str) -> _Texts:
    return _TEXTS.get(language, _TEXTS["en"])


def _add_fonts(pdf: FPDF) -> None:
    directory = font_directory()
    for style, name in _FONT_FILES.items():
        pdf.add_font(_FONT, style, str(directory / name))


def _plain(text: str) -> str:
    """Text as the PDF prints it: as written, but never a control character (a pasted answer
    may hold a tab or a stray form feed, which a PDF text string would not show)."""
    return "".join(" " if (ord(c) < 32 and c != "\n") or c == "\x7f" else c for c in text)


def _time(value: datetime.datetime, zone: datetime.tzinfo = datetime.UTC) -> str:
    """To the minute, in the questionnaire's zone (the offset of its due date), named."""
    return local_time(value, zone)


def _when(candidate: PublishedCandidate, texts: _Texts, zone: datetime.tzinfo) -> str:
    if candidate.status == "answered" and candidate.submitted_at is not None:
        version = texts.answered_on.format(version=candidate.version)
        return f"{_time(candidate.submitted_at, zone)} ({version})"
    if candidate.status == "declined" and candidate.declined_at is not None:
        return _time(candidate.declined_at, zone)
    return ""


def _cell(candidate: PublishedCandidate, question_id: str, texts: _Texts) -> str:
    """What one candidate's column says for one question: the answer, or the status."""
    if candidate.answers is None:
        return texts.status_words.get(candidate.status, candidate.status)
    for answer in candidate.answers:
        if answer.question_id == question_id:
            return answer.display or texts.no_answer
    return texts.no_answer


class _Document:
    """fpdf2 with a page footer in the document's language."""

    def __init__(self, texts: _Texts, compress: bool) -> None:
        from fpdf import FPDF

        texts_ = texts

        class _PDF(FPDF):
            def footer(self) -> None:
                self.set_y(-12)
                self.set_font(_FONT, size=8)
                self.cell(0, 6, _plain(texts_.page.format(page=self.page_no())), align="C")

        self.pdf: FPDF = _PDF(orientation="landscape", unit="mm", format="letter")
        _add_fonts(self.pdf)
        self.pdf.set_compression(compress)
        self.pdf.set_auto_page_break(True, margin=16)
        self.pdf.set_margins(14, 14, 14)


def comparison_pdf(publication: Publication, *, compress: bool = True) -> bytes:
    """The comparison of ``publication`` (already in its language) as a PDF's bytes."""
    from fpdf.fonts import FontFace

    texts = _texts(publication.language)
    document = _Document(texts, compress)
    pdf = document.pdf
    pdf.set_title(_plain(publication.title))
    pdf.set_lang(publication.language)
    pdf.set_creator("unionvote questionnaire")
    pdf.add_page()
    pdf.set_font(_FONT, style="B", size=16)
    pdf.multi_cell(0, 8, _plain(publication.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(_FONT, size=11)
    pdf.multi_cell(0, 6, _plain(texts.heading), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font(_FONT, size=10)
    if publication.introduction:
        pdf.multi_cell(0, 5, _plain(publication.introduction), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
    pdf.multi_cell(
        0,
        5,
        _plain(texts.due.format(due=_time(publication.due_at, publication.zone))),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    policy = texts.policy.get(publication.policy, "")
    if policy:
        pdf.multi_cell(0, 5, _plain(policy), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    heading = FontFace(emphasis="BOLD", fill_color=(230, 230, 230))
    pdf.set_font(_FONT, style="B", size=12)
    pdf.multi_cell(0, 7, _plain(texts.statuses), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(_FONT, size=10)
    with pdf.table(
        col_widths=(3, 2, 2, 3), headings_style=heading, text_align="LEFT", line_height=5
    ) as table:
        table.row([_plain(t) for t in (texts.candidate, texts.party, texts.status, texts.when)])
        for candidate in publication.candidates:
            status = texts.status_words.get(candidate.status, candidate.status)
            table.row(
                [
                    _plain(candidate.name),
                    _plain(candidate.party),
                    _plain(status),
                    _plain(_when(candidate, texts, publication.zone)),
                ]
            )
    notes = _notes(publication.candidates, texts, publication.zone)
    if notes:
        pdf.ln(2)
        for note in notes:
            pdf.multi_cell(0, 5, _plain(note), new_x="LMARGIN", new_y="NEXT")

    if publication.policy != "who-answered" and publication.questions:
        # Yes/no and choice answers are short: side by side, one row per question. A free-text
        # answer can run to pages, and a table row cannot be split across pages: each text
        # question is a heading followed by one block per candidate, which flows across pages.
        short = [q for q in publication.questions if q.kind != "text"]
        long = [q for q in publication.questions if q.kind == "text"]
        pdf.ln(4)
        pdf.set_font(_FONT, style="B", size=12)
        pdf.multi_cell(0, 7, _plain(texts.comparison), new_x="LMARGIN", new_y="NEXT")
        if short:
            for group in _groups(publication.candidates):
                pdf.ln(2)
                pdf.set_font(_FONT, size=10)
                with pdf.table(
                    col_widths=(3, *([3] * len(group))),
                    headings_style=heading,
                    text_align="LEFT",
                    line_height=5,
                ) as table:
                    table.row(
                        [
                            _plain(texts.question),
                            *(_plain(f"{c.name} ({c.party})") for c in group),
                        ]
                    )
                    for question in short:
                        table.row(
                            [
                                _plain(question.text),
                                *(_plain(_cell(c, question.id, texts)) for c in group),
                            ]
                        )
        for question in long:
            pdf.ln(4)
            pdf.set_font(_FONT, style="B", size=11)
            pdf.multi_cell(0, 6, _plain(question.text), new_x="LMARGIN", new_y="NEXT")
            for candidate in publication.candidates:
                pdf.ln(1)
                pdf.set_font(_FONT, style="B", size=10)
                pdf.multi_cell(
                    0,
                    5,
                    _plain(f"{candidate.name} ({candidate.party})"),
                    new_x="LMARGIN",
                    new_y="NEXT",
                )
                pdf.set_font(_FONT, size=10)
                pdf.multi_cell(
                    0,
                    5,
                    _plain(_cell(candidate, question.id, texts)),
                    new_x="LMARGIN",
                    new_y="NEXT",
                )
        _earlier(pdf, publication, texts)
    if publication.published is not None:
        pdf.ln(4)
        pdf.set_font(_FONT, size=8)
        pdf.multi_cell(
            0,
            4,
            _plain(
                texts.published.format(
                    name=publication.published.name, sha256=publication.published.sha256
                )
            ),
            new_x="LMARGIN",
            new_y="NEXT",
        )
    return bytes(pdf.output())


def replaced_by(candidate: PublishedCandidate, index: int) -> tuple[int, datetime.datetime | None]:
    """The version that replaced earlier version number ``index`` of ``candidate``, and when."""
    if index + 1 < len(candidate.earlier_versions):
        following = candidate.earlier_versions[index + 1]
        return following.version, following.submitted_at
    return candidate.version, candidate.submitted_at


def _earlier(pdf: FPDF, publication: Publication, texts: _Texts) -> None:
    """Each corrected candidate's earlier versions, after the current answers: a heading per
    version, then each question and that version's answer, as text flowing across pages."""
    corrected = [c for c in publication.candidates if c.earlier_answers]
    if not corrected:
        return
    zone = publication.zone
    questions = {q.id: q.text for q in publication.questions}
    pdf.ln(4)
    pdf.set_font(_FONT, style="B", size=12)
    pdf.multi_cell(0, 7, _plain(texts.earlier_heading), new_x="LMARGIN", new_y="NEXT")
    for candidate in corrected:
        for index, (version, answers) in enumerate(
            zip(candidate.earlier_versions, candidate.earlier_answers, strict=True)
        ):
            following, replaced = replaced_by(candidate, index)
            label = texts.earlier_version.format(
                name=candidate.name,
                party=candidate.party,
                version=version.version,
                at=_time(version.submitted_at, zone),
                next=following,
                replaced=_time(replaced, zone) if replaced is not None else "",
            )
            pdf.ln(2)
            pdf.set_font(_FONT, style="B", size=10)
            pdf.multi_cell(0, 5, _plain(label), new_x="LMARGIN", new_y="NEXT")
            for answer in answers:
                pdf.set_font(_FONT, style="I", size=10)
                pdf.multi_cell(
                    0,
                    5,
                    _plain(questions.get(answer.question_id, answer.question_id)),
                    new_x="LMARGIN",
                    new_y="NEXT",
                )
                pdf.set_font(_FONT, size=10)
                pdf.multi_cell(
                    0, 5, _plain(answer.display or texts.no_answer), new_x="LMARGIN", new_y="NEXT"
                )


def _notes(
    candidates: Sequence[PublishedCandidate], texts: _Texts, zone: datetime.tzinfo
) -> list[str]:
    """Decline reasons and corrections, in plain sentences under the status table."""
    notes = []
    for candidate in candidates:
        if candidate.status == "declined" and candidate.decline_reason:
            status = texts.status_words["declined"]
            reason = texts.reason.format(reason=candidate.decline_reason)
            notes.append(f"{candidate.name} - {status}. {reason}")
        if candidate.earlier_versions:
            earlier = ", ".join(
                f"{v.version} ({_time(v.submitted_at, zone)})" for v in candidate.earlier_versions
            )
            notes.append(
                texts.corrected.format(
                    name=candidate.name, version=candidate.version, earlier=earlier
                )
            )
    return notes


def _groups(candidates: Sequence[PublishedCandidate]) -> list[Sequence[PublishedCandidate]]:
    return [candidates[i : i + _COLUMNS] for i in range(0, len(candidates), _COLUMNS)] or [[]]
