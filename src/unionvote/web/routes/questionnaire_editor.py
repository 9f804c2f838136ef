"""The committee's question-by-question editor of a questionnaire: plain HTML forms, no script.

``/committee/questionnaire-editor`` starts a new questionnaire, and
``/committee/questionnaire-editor/<key>`` a new version of one, filled in from its current
definition. The whole editor is one form: adding, removing, moving a question or showing the
fields of another kind posts it and shows it again changed, saving nothing; **Preview** shows
the questions as campaigns will see them; **Save** saves.

The form is turned into a :class:`~unionvote.domain.questionnaire.Questionnaire`, written as the
questionnaire file (:func:`~unionvote.domain.questionnaire.questionnaire_text`) and given to the
same services as the file's page and ``unionvote questionnaire define``
(``preview_definition``, ``do_define_questionnaire``): the file's reader checks it and the
service versions it, refuses what may no longer change once links are sent or the comparison
is published, and audits the save (``questionnaire.define``). The form's own checks only say,
in the committee's language and beside each field, what the reader would refuse; anything the
reader still finds is listed the same way. Every problem is listed at the top with a link to
its field (an error summary), and nothing is saved.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Final

from fastapi import APIRouter
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from unionvote.domain.questionnaire import (
    CHOICE,
    KINDS,
    MAX_WORDS_LIMIT,
    POLICIES,
    TEXT,
    YES_NO,
    Question,
    Questionnaire,
    QuestionnaireError,
    QuestionnaireFileError,
    is_key,
    parse_questionnaire,
    questionnaire_text,
    zone_label,
)
from unionvote.errors import UnionVoteError
from unionvote.services.questionnaire import (
    definition_text,
    do_define_questionnaire,
    preview_definition,
)
from unionvote.services.staff import Role, StaffIdentity
from unionvote.web.auth import CommitteeMember, StaffViewer
from unionvote.web.deps import ServicesDep
from unionvote.web.i18n import gettext as _
from unionvote.web.routes.questionnaire import _STAFF_NOTICE, _page

__all__ = ["EditorForm", "QuestionForm", "router"]

router = APIRouter(include_in_schema=False)

EDITOR_PATH: Final = "/committee/questionnaire-editor"
MAX_QUESTIONS: Final = 60  # each question is ten fields; the form parser takes 1,000
_SOURCE: Final = "the editor"
_QUESTION_FIELD = re.compile(r"q([0-9]{1,3})-kind")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_TIME = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?")
_OFFSET = re.compile(r"([+-])([0-9]{2}):([0-9]{2})")
_OP = re.compile(
    r"(add-yes-no|add-choice|add-text|preview|save|(remove|up|down|kind)-([0-9]{1,3}))"
)
# The offsets offered for the due date: every whole hour, and the half and quarter hours in use.
_PART_HOURS: Final = ((-9, -30), (-3, -30), (3, 30), (4, 30), (5, 30), (5, 45), (6, 30), (8, 45))
_OFFSETS: Final = tuple(
    sorted(
        {datetime.timedelta(hours=h) for h in range(-12, 15)}
        | {datetime.timedelta(hours=h, minutes=m) for h, m in _PART_HOURS}
        | {datetime.timedelta(hours=h, minutes=30) for h in (9, 10)}
        | {datetime.timedelta(hours=12, minutes=45)}
    )
)


def _offset_value(offset: datetime.timedelta) -> str:
    """The form value of an offset: ``Z`` for UTC, else ``-05:00``."""
    if not offset:
        return "Z"
    minutes = int(offset.total_seconds()) // 60
    hours, rest = divmod(abs(minutes), 60)
    return f"{'-' if minutes < 0 else '+'}{hours:02d}:{rest:02d}"


def _parse_offset(value: str) -> datetime.timedelta | None:
    if value == "Z":
        return datetime.timedelta(0)
    found = _OFFSET.fullmatch(value)
    if found is None or int(found[2]) > 14 or int(found[3]) > 59:
        return None
    offset = datetime.timedelta(hours=int(found[2]), minutes=int(found[3]))
    return -offset if found[1] == "-" else offset


@dataclass
class QuestionForm:
    """One question as the editor's fields hold it (text as typed; lists one item a line)."""

    id: str = ""
    kind: str = YES_NO
    text: str = ""
    text_es: str = ""
    help: str = ""
    help_es: str = ""
    required: bool = True
    choices: str = ""
    choices_es: str = ""
    max_words: str = ""


@dataclass
class EditorForm:
    """The editor's fields. ``base_key``: the questionnaire a new version is made of ("" for a
    new questionnaire, whose key is typed)."""

    base_key: str = ""
    version: int = 1
    key: str = ""
    title: str = ""
    title_es: str = ""
    introduction: str = ""
    introduction_es: str = ""
    office: str = ""
    office_es: str = ""
    due_date: str = ""
    due_time: str = "23:59"
    due_offset: str = "Z"
    reminders: str = "7, 2"
    publication: str = ""
    forum: bool = False
    parties: str = ""
    parties_es: str = ""
    questions: list[QuestionForm] = field(default_factory=lambda: [QuestionForm()])


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _text(value: str) -> str:
    """A typed text as the file keeps it: line breaks as ``\\n``, no surrounding blanks."""
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


def editor_form(questionnaire: Questionnaire, *, version: int) -> EditorForm:
    """The fields of ``questionnaire``'s definition, for a new ``version`` of it."""
    q = questionnaire

    def es(text: str) -> str:
        return q.translations.get("es", {}).get(text, "") if text else ""

    def es_lines(texts: tuple[str, ...]) -> str:
        # A text left in English stays so (its "Spanish" line is the English): the editor
        # takes every Spanish line or none.
        if not any(es(t) for t in texts):
            return ""
        return "\n".join(es(t) or t for t in texts)

    due = q.due.astimezone(q.zone)
    return EditorForm(
        base_key=q.key,
        version=version,
        key=q.key,
        title=q.title,
        title_es=es(q.title),
        introduction=q.introduction,
        introduction_es=es(q.introduction),
        office=q.office,
        office_es=es(q.office),
        due_date=f"{due:%Y-%m-%d}",
        due_time=f"{due:%H:%M}" if not due.second else f"{due:%H:%M:%S}",
        due_offset=_offset_value(q.zone.utcoffset(None) or datetime.timedelta(0)),
        reminders=", ".join(str(d) for d in q.reminders),
        publication=q.publication,
        forum=q.answer_required_for_forum,
        parties="\n".join(q.parties),
        parties_es=es_lines(q.parties),
        questions=[
            QuestionForm(
                id=question.id,
                kind=question.kind,
                text=question.text,
                text_es=es(question.text),
                help=question.help,
                help_es=es(question.help),
                required=question.required,
                choices="\n".join(question.choices),
                choices_es=es_lines(question.choices),
                max_words="" if question.max_words is None else str(question.max_words),
            )
            for question in q.questions
        ],
    )


def posted_form(posted: FormData) -> EditorForm:
    """The editor's fields as posted; questions in the order of their numbers."""

    def get(name: str, limit: int = 20_000) -> str:
        value = posted.get(name)
        return value[:limit] if isinstance(value, str) else ""

    numbers = sorted(
        {int(m[1]) for name in posted if (m := _QUESTION_FIELD.fullmatch(name)) is not None}
    )
    version = get("version", 10)
    return EditorForm(
        base_key=get("base_key", 100),
        version=int(version) if version.isascii() and version.isdigit() else 1,
        key=get("key", 200).strip(),
        title=get("title", 1000),
        title_es=get("title-es", 1000),
        introduction=get("introduction"),
        introduction_es=get("introduction-es"),
        office=get("office", 1000),
        office_es=get("office-es", 1000),
        due_date=get("due-date", 100).strip(),
        due_time=get("due-time", 100).strip(),
        due_offset=get("due-offset", 10).strip(),
        reminders=get("reminders", 500),
        publication=get("publication", 40),
        forum=get("forum", 10) == "yes",
        parties=get("parties"),
        parties_es=get("parties-es"),
        questions=[
            QuestionForm(
                id=get(f"q{n}-id", 200).strip(),
                kind=get(f"q{n}-kind", 20),
                text=get(f"q{n}-text"),
                text_es=get(f"q{n}-text-es"),
                help=get(f"q{n}-help"),
                help_es=get(f"q{n}-help-es"),
                required=get(f"q{n}-required", 10) == "yes",
                choices=get(f"q{n}-choices"),
                choices_es=get(f"q{n}-choices-es"),
                max_words=get(f"q{n}-max-words", 100).strip(),
            )
            for n in numbers[:MAX_QUESTIONS]
        ],
    )


def _id_from(text: str, taken: set[str]) -> str:
    """A question's id made from its English text: "Will you sign?" → "will-you-sign"."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    base = re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:40].strip("-") or "question"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


class _Problems:
    """The problems of the form, each with the id of the field it concerns, in page order."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, field_id: str, message: str) -> None:
        if all(field_id != known for known, _message in self.items):
            self.items.append((field_id, message))

    def __bool__(self) -> bool:
        return bool(self.items)


def _translations(
    form: EditorForm, questions: list[tuple[int, QuestionForm]], problems: _Problems
) -> dict[str, str]:
    """The Spanish of every text, keyed by its English as the file's ``[translations.es]``."""
    spanish: dict[str, str] = {}

    def one(field_id: str, english: str, translated: str) -> None:
        english, translated = _text(english), _text(translated)
        if not translated:
            return
        if not english:
            problems.add(field_id, _("Write the English text first: this is its Spanish."))
        elif spanish.setdefault(english, translated) != translated:
            problems.add(
                field_id,
                _(
                    "The same English text has another Spanish translation elsewhere in the "
                    "questionnaire: give it the same one."
                ),
            )

    def lines(field_id: str, english: list[str], text: str, count_message: str) -> None:
        translated = _lines(text)
        if translated and len(translated) != len(english):
            problems.add(field_id, count_message % {"count": len(english)})
            return
        for e, t in zip(english, translated, strict=False):
            one(field_id, e, t)

    one("title-es", form.title, form.title_es)
    one("introduction-es", form.introduction, form.introduction_es)
    one("office-es", form.office, form.office_es)
    lines(
        "parties-es",
        _lines(form.parties),
        form.parties_es,
        _("Give one Spanish name a line for each party (%(count)d), in the same order, or none."),
    )
    for n, question in questions:
        one(f"q{n}-text-es", question.text, question.text_es)
        one(f"q{n}-help-es", question.help, question.help_es)
        if question.kind == CHOICE:
            lines(
                f"q{n}-choices-es",
                _lines(question.choices),
                question.choices_es,
                _(
                    "Give one Spanish option a line for each option (%(count)d), in the same "
                    "order, or none."
                ),
            )
    return spanish


def _due(form: EditorForm, problems: _Problems) -> tuple[datetime.datetime, datetime.timezone]:
    placeholder = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    offset = _parse_offset(form.due_offset)
    zone = datetime.UTC if not offset else datetime.timezone(offset)
    date = _DATE.fullmatch(form.due_date)
    time = _TIME.fullmatch(form.due_time)
    if date is None:
        problems.add("due-date", _("Enter the due date as year-month-day, such as 2026-09-01."))
    if time is None:
        problems.add("due-time", _("Enter the time as hours:minutes, 24-hour, such as 23:59."))
    if offset is None:
        problems.add("due-offset", _("Choose the time zone's offset from UTC."))
    if date is None or time is None or offset is None:
        return placeholder, zone
    try:
        day = datetime.date(int(date[1]), int(date[2]), int(date[3]))
    except ValueError:
        problems.add("due-date", _("This date does not exist: check the month and the day."))
        return placeholder, zone
    try:
        clock = datetime.time(int(time[1]), int(time[2]), int(time[3] or 0))
    except ValueError:
        problems.add("due-time", _("This time does not exist: hours 0 to 23, minutes 0 to 59."))
        return placeholder, zone
    local = datetime.datetime.combine(day, clock, tzinfo=datetime.timezone(offset))
    return local.astimezone(datetime.UTC), zone


def _reminders(form: EditorForm, problems: _Problems) -> tuple[int, ...]:
    parts = [p for p in re.split(r"[\s,;]+", form.reminders.strip()) if p]
    days: list[int] = []
    for part in parts:
        if not (part.isascii() and part.isdigit()) or not 1 <= int(part) <= 365:
            problems.add(
                "reminders",
                _(
                    "Give whole numbers of days before the due date, 1 to 365, separated by "
                    "commas, such as 7, 2 (or leave it empty for no reminder)."
                ),
            )
            return ()
        days.append(int(part))
    if len(set(days)) != len(days):
        problems.add("reminders", _("A reminder day is listed twice."))
    return tuple(sorted(set(days), reverse=True))


def _question(n: int, form: QuestionForm, taken: set[str], problems: _Problems) -> Question | None:
    text = _text(form.text)
    if form.kind not in KINDS:
        problems.add(f"q{n}-kind", _("Choose the kind of question."))
        return None
    if not text:
        problems.add(f"q{n}-text", _("Write the question (in English)."))
    qid = form.id.strip() or _id_from(text, taken)
    if not is_key(qid):
        problems.add(
            f"q{n}-id",
            _("Use lower-case letters, digits and hyphens (at most 63), such as pro-act."),
        )
    elif qid in taken:
        problems.add(f"q{n}-id", _("Another question has this short name: each needs its own."))
    taken.add(qid)
    max_words: int | None = None
    choices: tuple[str, ...] = ()
    if form.kind == TEXT:
        words = form.max_words.strip()
        if not (words.isascii() and words.isdigit()) or not 1 <= int(words) <= MAX_WORDS_LIMIT:
            problems.add(
                f"q{n}-max-words",
                _("Enter the word limit as a whole number from 1 to %(limit)d.")
                % {"limit": MAX_WORDS_LIMIT},
            )
        else:
            max_words = int(words)
    elif form.kind == CHOICE:
        choices = tuple(_lines(form.choices))
        if len(choices) < 2:
            problems.add(f"q{n}-choices", _("Give at least two options, one a line."))
        elif len(set(choices)) != len(choices):
            problems.add(f"q{n}-choices", _("An option is listed twice."))
    return Question(qid, form.kind, text, _text(form.help), form.required, max_words, choices)


def build(form: EditorForm) -> tuple[Questionnaire | None, list[tuple[str, str]]]:
    """The questionnaire the form describes, or the problems (field id, message) that keep it
    from being one; the file's reader checks it again on saving."""
    problems = _Problems()
    if not is_key(form.key):
        problems.add(
            "key",
            _("Use lower-case letters, digits and hyphens (at most 63), such as issues-2026."),
        )
    title = _text(form.title)
    if not title:
        problems.add("title", _("Give the questionnaire a title."))
    elif len(title) > 300:
        problems.add("title", _("The title is too long: at most 300 characters."))
    office = _text(form.office)
    if len(office) > 200:
        problems.add("office", _("The office is too long: at most 200 characters."))
    due, zone = _due(form, problems)
    reminders = _reminders(form, problems)
    if form.publication not in POLICIES:
        problems.add("publication-publish-all", _("Choose how the answers are published."))
    parties = tuple(_lines(form.parties))
    if len(set(parties)) != len(parties):
        problems.add("parties", _("A party is listed twice."))
    numbered = list(enumerate(form.questions, start=1))
    if not numbered:
        problems.add("add-yes-no", _("Add at least one question."))
    taken: set[str] = {q.id.strip() for q in form.questions if q.id.strip()}
    questions: list[Question] = []
    seen: set[str] = set()
    for n, question in numbered:
        # an id typed for a later question is kept for it: made ids avoid every typed one
        typed = question.id.strip()
        made = _question(n, question, (taken - {typed}) | seen, problems)
        if made is not None:
            seen.add(made.id)
            questions.append(made)
    spanish = _translations(form, numbered, problems)
    if problems:
        return None, problems.items
    questionnaire = Questionnaire(
        key=form.key,
        version=form.version,
        title=title,
        due=due,
        publication=form.publication,
        questions=tuple(questions),
        introduction=_text(form.introduction),
        office=office,
        reminders=reminders,
        answer_required_for_forum=form.forum,
        translations={"es": spanish} if spanish else {},
        zone=zone,
        parties=parties,
    )
    return questionnaire, []


def _field_of(path: str) -> str:
    """The editor's field for a problem the file's reader found (``questions[2].text``…)."""
    found = re.match(r"questions\[([0-9]+)\](?:\.([a-z_]+))?", path)
    if found is not None:
        n = int(found[1]) + 1
        name = {"max_words": "max-words", None: "text"}.get(found[2], found[2] or "text")
        return (
            f"q{n}-{name}"
            if name in ("id", "kind", "text", "help", "choices", "max-words")
            else f"q{n}-text"
        )
    top = path.split(".", 1)[0].split("[", 1)[0]
    return {
        "due": "due-date",
        "publication": "publication-publish-all",
        "answer_required_for_forum": "forum",
        "translations": "title-es",
    }.get(
        top,
        top
        if top in ("key", "title", "introduction", "office", "reminders", "parties")
        else "title",
    )


def _refusal_field(form: EditorForm, error: QuestionnaireError) -> tuple[str, str]:
    """A service's refusal of the save, in the committee's language, and the field it
    concerns."""
    if error.check == "questionnaire.version" and not form.base_key:
        return "key", _(
            "A questionnaire with this key exists already: choose another key, or change that "
            "questionnaire from its page."
        )
    if error.check == "questionnaire.version":
        return "title", _(
            "Someone saved a newer version of this questionnaire meanwhile: open the editor "
            "again from the questionnaire's page. Nothing was saved."
        )
    if error.check == "questionnaire.published":
        return "due-date", _(
            "The comparison is published already: the due date can no longer move later "
            "(campaigns would answer with their rivals' answers already published)."
        )
    if (
        error.check == "questionnaire.sent"
        and "policy" in error.detail
        and "published" in error.detail
    ):
        return "publication-publish-all", _(
            "The comparison is published already: the publication policy can no longer change."
        )
    if error.check == "questionnaire.sent":
        return "q1-text", _(
            "The personal links are sent already: the questions, the title, the introduction, "
            "the office and the publication policy can no longer change (campaigns may be "
            "answering them). The due date, the reminders, the forum rule, the parties and the "
            "Spanish texts may."
        )
    if error.check == "questionnaire.closed":
        return "title", _("This questionnaire is closed: it can no longer change.")
    return "title", _("This was not done: %(reason)s") % {"reason": error.detail}


def _offsets(current: str) -> list[tuple[str, str]]:
    values = [_offset_value(o) for o in _OFFSETS]
    if current not in values and _parse_offset(current) is not None:
        values.append(current)
    labels = []
    for value in values:
        offset = _parse_offset(value) or datetime.timedelta(0)
        labels.append((value, zone_label(datetime.timezone(offset))))
    return labels


def _editor_page(
    request: Request,
    identity: StaffIdentity,
    form: EditorForm,
    *,
    problems: list[tuple[str, str]] | None = None,
    focus: str = "",
    notice: str = "",
    preview: tuple[Any, ...] = (),
    text: str = "",
    status: int = 200,
) -> Response:
    errors = dict(reversed(problems or []))
    return _page(
        request,
        "questionnaire/committee_editor.html",
        {
            "identity": identity,
            "can_act": identity.role is Role.COMMITTEE,
            "form": form,
            "kinds": KINDS,
            "policies": POLICIES,
            "offsets": _offsets(form.due_offset),
            "problems": problems or [],
            "errors": errors,
            "focus": "error-summary" if problems else focus,
            "notice": notice,
            "previews": preview,
            "file_text": text,
            "editor_path": EDITOR_PATH,
            "max_words_limit": MAX_WORDS_LIMIT,
        },
        status,
    )


@router.get(EDITOR_PATH)
def new_questionnaire(request: Request, identity: StaffViewer) -> Response:
    return _editor_page(request, identity, EditorForm())


@router.get(EDITOR_PATH + "/{key}")
def new_version(
    request: Request, key: str, services: ServicesDep, identity: StaffViewer
) -> Response:
    version, text = definition_text(services, key)
    form = editor_form(parse_questionnaire(text, source=key), version=version + 1)
    return _editor_page(request, identity, form)


def _changed(form: EditorForm, op: str, n: int) -> tuple[EditorForm, str, str]:
    """``form`` after an editing step (add, remove, move, show a kind's fields): the form, the
    field to focus and the step in words. Nothing is saved."""
    questions = list(form.questions)
    count = len(questions)
    if op.startswith("add-"):
        if count >= MAX_QUESTIONS:
            return (
                form,
                "add-yes-no",
                _("A questionnaire has at most %(count)d questions.") % {"count": MAX_QUESTIONS},
            )
        questions.append(QuestionForm(kind=op.removeprefix("add-")))
        return (
            dataclasses.replace(form, questions=questions),
            f"q{count + 1}-text",
            _("Question %(n)d is added.") % {"n": count + 1},
        )
    if not 1 <= n <= count:
        return form, "", ""
    if op == "remove":
        del questions[n - 1]
        return (
            dataclasses.replace(form, questions=questions),
            "questions-heading",
            _("Question %(n)d is removed; the questions after it moved up.") % {"n": n},
        )
    if op in ("up", "down"):
        to = n - 1 if op == "up" else n + 1
        if not 1 <= to <= count:
            return form, f"q{n}-{op}", ""
        questions[n - 1], questions[to - 1] = questions[to - 1], questions[n - 1]
        button = op if (to > 1 if op == "up" else to < count) else ("down" if op == "up" else "up")
        return (
            dataclasses.replace(form, questions=questions),
            f"q{to}-{button}",
            _("Question %(n)d moved: it is question %(to)d now.") % {"n": n, "to": to},
        )
    return form, f"q{n}-kind", _("The fields of question %(n)d are shown for its kind.") % {"n": n}


@router.post(EDITOR_PATH)
async def edit(request: Request, services: ServicesDep, who: CommitteeMember) -> Response:
    posted = await request.form(max_fields=MAX_QUESTIONS * 12 + 40)
    form = posted_form(posted)
    op_value = posted.get("op")
    found = _OP.fullmatch(op_value) if isinstance(op_value, str) else None
    op = found[2] or found[1] if found is not None else "preview"
    n = int(found[3]) if found is not None and found[3] else 0
    if op not in ("preview", "save"):
        changed, focus, notice = _changed(form, op, n)
        return _editor_page(request, who, changed, focus=focus, notice=notice)
    questionnaire, problems = build(form)
    if questionnaire is None:
        return _editor_page(request, who, form, problems=problems, status=422)
    for question, made in zip(form.questions, questionnaire.questions, strict=True):
        question.id = made.id  # an id made from the text is shown, and kept from now on
    text = questionnaire_text(questionnaire)
    try:
        if op == "preview":
            previews = tuple(
                preview_definition(services, text, language=code, source=_SOURCE)
                for code in ("en", "es")
            )
            return _editor_page(
                request, who, form, preview=previews, text=text, focus="preview-heading"
            )
        defined = do_define_questionnaire(services.acting_as(who.actor), text, source=_SOURCE)
    except QuestionnaireFileError as error:
        found_problems = [(_field_of(p.field), p.message) for p in error.file_problems]
        return _editor_page(request, who, form, problems=found_problems, status=422)
    except QuestionnaireError as error:
        return _editor_page(request, who, form, problems=[_refusal_field(form, error)], status=422)
    except UnionVoteError as error:
        message = _("This was not done: %(reason)s") % {"reason": str(error)}
        return _editor_page(request, who, form, problems=[("title", message)], status=422)
    request.session[_STAFF_NOTICE] = "defined"
    return RedirectResponse(f"/committee/questionnaires/{defined.key}", status_code=303)
