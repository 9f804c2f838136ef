"""A candidate questionnaire, as a TOML file: the issues survey a union sends to every
candidate's campaign before it endorses.

``parse_questionnaire(text, source=...)`` reads the file and checks every rule it can; a file
with problems raises one :class:`QuestionnaireFileError` listing *all* of them with their line
and field, as the process file does. The file::

    format = "unionvote-questionnaire/1"
    key = "issues-2024"          # names the questionnaire; a new version keeps the key
    version = 1                  # a new definition of the same key must raise it
    title = "2024 Presidential Candidate Questionnaire"
    introduction = "..."         # optional
    office = "President of the United States"   # optional: the office the campaigns seek
    due = 2024-03-01T23:59:00Z   # answers after this time are refused
    reminders = [7, 2]           # days before the due date a reminder goes to who has not answered
    publication = "publish-all"  # or "who-answered" or "private"
    answer_required_for_forum = true   # only who answered may be in a forum or on a ballot
    parties = ["Democratic", "Republican"]   # optional: the campaigns' parties, translatable

    [[questions]]
    id = "pro-act"
    kind = "yes-no"              # or "choice" (with choices = [...]) or "text" (with max_words)
    text = "Will you sign the PRO Act?"
    help = "..."                 # optional
    required = true              # the default

    [translations.es]            # the Spanish of every text a campaign or member reads
    "Will you sign the PRO Act?" = "¿Firmará la Ley PRO?"

Answers are strings keyed by question id (``"yes"``/``"no"``; a choice's index ``"0"``, ``"1"``…;
free text). :func:`check_answers` checks them against the questions: a draft may leave questions
unanswered, a submission must answer every required one; a text over its word limit, an unknown
question, a value not offered are each refused with the question they concern.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from unionvote.domain.errors import DomainError
from unionvote.domain.process import _SYNTAX_LINE, Problem, _Locator, _Reader

__all__ = [
    "FORMAT",
    "KINDS",
    "POLICIES",
    "AnswerProblem",
    "Question",
    "Questionnaire",
    "QuestionnaireError",
    "QuestionnaireFileError",
    "answers_digest",
    "check_answers",
    "choice_index",
    "count_words",
    "has_control_characters",
    "is_key",
    "local_time",
    "parse_questionnaire",
    "questionnaire_text",
    "zone_label",
]

FORMAT: Final = "unionvote-questionnaire/1"
YES_NO: Final = "yes-no"
CHOICE: Final = "choice"
TEXT: Final = "text"
KINDS: Final = (YES_NO, CHOICE, TEXT)
PUBLISH_ALL: Final = "publish-all"
WHO_ANSWERED: Final = "who-answered"
PRIVATE: Final = "private"
POLICIES: Final = (PUBLISH_ALL, WHO_ANSWERED, PRIVATE)
LANGUAGES: Final = ("es",)
MAX_WORDS_LIMIT: Final = 5000  # the most a file may allow for one answer
MAX_ANSWER_CHARS: Final = 60_000  # whatever the word count, no answer is longer than this
_KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


@dataclass(frozen=True, slots=True)
class AnswerProblem:
    """What is wrong with the answer to one question (``question_id`` "" for the whole form)."""

    question_id: str
    check: str
    message: str


class QuestionnaireError(DomainError):
    """A questionnaire action was refused; nothing was changed. ``problems`` names the
    questions concerned, for a form to show each beside its field; ``at`` (in ``zone``) the
    time the refusal names, if any."""

    def __init__(
        self,
        check: str,
        detail: str,
        problems: Sequence[AnswerProblem] = (),
        *,
        at: datetime.datetime | None = None,
        zone: datetime.tzinfo = datetime.UTC,
    ) -> None:
        super().__init__(check, detail)
        self.problems = tuple(problems)
        # The time the refusal names (the due date, when a link was replaced, when the
        # answers were submitted…) and the questionnaire's zone, for a page to say it in its
        # own language.
        self.at = at
        self.zone = zone


class QuestionnaireFileError(QuestionnaireError):
    """A questionnaire file was refused; ``file_problems`` lists every problem, in line order."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.file_problems = tuple(sorted(problems, key=lambda p: p.line))
        lines = [f"{source}:{p.line}: {p.field}: {p.message}" for p in self.file_problems]
        count = len(lines)
        super().__init__(
            "questionnaire.file",
            f"{count} problem{'s' if count != 1 else ''} in {source}\n" + "\n".join(lines),
        )


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    kind: str
    text: str
    help: str = ""
    required: bool = True
    max_words: int | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Questionnaire:
    key: str
    version: int
    title: str
    due: datetime.datetime
    publication: str
    questions: tuple[Question, ...]
    introduction: str = ""
    office: str = ""
    reminders: tuple[int, ...] = ()  # days before the due date, largest first
    answer_required_for_forum: bool = False
    translations: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # The offset the file's due date was written in: times are shown in it (UTC for ``Z``).
    zone: datetime.timezone = datetime.UTC
    # The campaigns' parties, if the file lists them: each campaign's party must be one, and
    # ``[translations.es]`` may give their Spanish (shown on the Spanish pages and PDF).
    parties: tuple[str, ...] = ()

    def translated(self, text: str, language: str) -> str:
        """``text`` in ``language`` if the file translates it, else as written."""
        return self.translations.get(language, {}).get(text, text) if text else text

    def question(self, question_id: str) -> Question:
        for question in self.questions:
            if question.id == question_id:
                return question
        raise KeyError(question_id)

    def display(self, question: Question, value: str, language: str) -> str:
        """An answer as a reader sees it: "Yes"/"Sí", the choice's label, or the text."""
        if question.kind == YES_NO:
            yes, no = ("Sí", "No") if language == "es" else ("Yes", "No")
            return {"yes": yes, "no": no}.get(value, value)
        index = choice_index(value, len(question.choices)) if question.kind == CHOICE else None
        if index is not None:
            return self.translated(question.choices[index], language)
        return value

    def reminder_times(self) -> tuple[datetime.datetime, ...]:
        """When reminders are due, earliest first."""
        return tuple(self.due - datetime.timedelta(days=d) for d in self.reminders)

    def comparable(self) -> tuple[object, ...]:
        """What a campaign answers, and on what terms: the questions and the publication
        policy. Two definitions with the same comparable value can replace each other after
        links were sent."""
        return (
            self.key,
            self.title,
            self.introduction,
            self.office,
            self.questions,
            self.publication,
        )


def is_key(text: str) -> bool:
    """Whether ``text`` may be a questionnaire's key or a question's id."""
    return _KEY.fullmatch(text) is not None


def count_words(text: str) -> int:
    return len(text.split())


_INDEX = re.compile(r"[0-9]{1,4}")  # ASCII digits only: "²" or "١" is no choice
# Control characters a typed answer never holds (a NUL cannot even be stored by PostgreSQL);
# a tab and a line break are kept.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def choice_index(value: str, count: int) -> int | None:
    """The choice ``value`` names ("0", "1"… in ASCII digits), or None if it names none."""
    if _INDEX.fullmatch(value) and int(value) < count:
        return int(value)
    return None


def has_control_characters(text: str) -> bool:
    return _CONTROL.search(text) is not None


def check_answers(
    questionnaire: Questionnaire, answers: Mapping[str, str], *, complete: bool
) -> dict[str, str]:
    """The answers, normalised (stripped, every question present, "" for unanswered), or a
    :class:`QuestionnaireError` naming each problem. ``complete``: every required question
    must be answered (a submission); otherwise (a draft) any may be blank."""
    problems: list[AnswerProblem] = []
    known = {q.id for q in questionnaire.questions}
    for key in answers:
        if key not in known:
            problems.append(
                AnswerProblem(key, "questionnaire.answer", "There is no such question.")
            )
    out: dict[str, str] = {}
    for q in questionnaire.questions:
        raw = answers.get(q.id, "")
        if not isinstance(raw, str):
            problems.append(AnswerProblem(q.id, "questionnaire.answer", "Expected text."))
            continue
        value = raw.replace("\r\n", "\n").strip()
        if has_control_characters(value):
            problems.append(
                AnswerProblem(q.id, "questionnaire.answer", "The answer holds a control character.")
            )
            continue
        if q.kind == CHOICE and choice_index(value, len(q.choices)) is not None:
            value = str(int(value))  # "01" is choice 1, stored as "1"
        out[q.id] = value
        if not value:
            if complete and q.required:
                problems.append(
                    AnswerProblem(
                        q.id, "questionnaire.incomplete", "This question needs an answer."
                    )
                )
            continue
        if q.kind == YES_NO and value not in ("yes", "no"):
            problems.append(AnswerProblem(q.id, "questionnaire.answer", "Answer yes or no."))
        elif q.kind == CHOICE and choice_index(value, len(q.choices)) is None:
            problems.append(
                AnswerProblem(
                    q.id,
                    "questionnaire.answer",
                    f"The answer is not one of the {len(q.choices)} choices.",
                )
            )
        elif q.kind == TEXT:
            words = count_words(value)
            limit = q.max_words or MAX_WORDS_LIMIT
            if words > limit:
                problems.append(
                    AnswerProblem(
                        q.id,
                        "questionnaire.too-long",
                        f"The answer has {words} words; the limit is {limit}.",
                    )
                )
            elif len(value) > MAX_ANSWER_CHARS:
                problems.append(
                    AnswerProblem(
                        q.id,
                        "questionnaire.too-long",
                        f"The answer is {len(value)} characters long; at most "
                        f"{MAX_ANSWER_CHARS} are allowed.",
                    )
                )
    if problems:
        checks = [p.check for p in problems]
        check = next(
            c
            for c in ("questionnaire.answer", "questionnaire.too-long", "questionnaire.incomplete")
            if c in checks
        )
        detail = " ".join(f"Question {p.question_id!r}: {p.message}" for p in problems)
        raise QuestionnaireError(check, detail, problems)
    return out


def answers_digest(answers: Mapping[str, str]) -> str:
    """SHA-256 of the canonical JSON of a set of answers: what a submission freezes."""
    return hashlib.sha256(canonical_json(answers)).hexdigest()


def canonical_json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


# -- reading the file ---------------------------------------------------------------------------

_TOP = (
    "format",
    "key",
    "version",
    "title",
    "introduction",
    "office",
    "due",
    "reminders",
    "publication",
    "answer_required_for_forum",
    "parties",
    "questions",
    "translations",
)


def parse_questionnaire(text: str, *, source: str = "<questionnaire>") -> Questionnaire:
    """Read a questionnaire file; raises :class:`QuestionnaireFileError` listing every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        match = _SYNTAX_LINE.search(message)
        line = int(match.group(1)) if match and match.group(1) else text.count("\n") + 1
        detail = _SYNTAX_LINE.sub("", message).strip()
        raise QuestionnaireFileError(source, [Problem(line, "syntax", detail)]) from error
    r = _Reader(_Locator(text))
    questionnaire = _read(r, data)
    if r.problems:
        raise QuestionnaireFileError(source, r.problems)
    return questionnaire


def _read(r: _Reader, data: Mapping[str, Any]) -> Questionnaire:
    r.keys(data, (), _TOP)
    fmt = data.get("format")
    if fmt != FORMAT:
        r.problem(("format",), f"expected {FORMAT!r}")
    key = r.text(data, "key", ())
    if key and not _KEY.fullmatch(key):
        r.problem(("key",), "use lower-case letters, digits and hyphens (at most 63)")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        r.problem(("version",), "expected a whole number, 1 or more")
        version = 1
    title = r.text(data, "title", ())
    if len(title) > 300:
        r.problem(("title",), "at most 300 characters")
    introduction = r.text(data, "introduction", ()) if "introduction" in data else ""
    office = r.text(data, "office", ()) if "office" in data else ""
    if len(office) > 200:
        r.problem(("office",), "at most 200 characters (a campaign's office is)")
    due = _read_due(r, data)
    zone = _due_zone(data.get("due"))
    reminders = _read_reminders(r, data)
    publication = r.choice(data, "publication", (), POLICIES, PUBLISH_ALL)
    if "publication" not in data:
        r.problem(("publication",), f"required: one of {', '.join(POLICIES)}")
    forum = r.boolean(data, "answer_required_for_forum", (), False)
    parties = r.texts(data, "parties", ()) if "parties" in data else ()
    if len(set(parties)) != len(parties):
        r.problem(("parties",), "a party is listed twice")
    questions = _read_questions(r, data)
    questionnaire = Questionnaire(
        key=key,
        version=version,
        title=title,
        due=due,
        publication=publication,
        questions=questions,
        introduction=introduction,
        office=office,
        reminders=reminders,
        answer_required_for_forum=forum,
        zone=zone,
        parties=parties,
    )
    translations = _read_translations(r, r.table(data, "translations", ()), questionnaire)
    return replace(questionnaire, translations=translations)


def _due_zone(value: object) -> datetime.timezone:
    """The fixed offset a due date was written with (UTC when it gives ``Z``, none or +00:00)."""
    if isinstance(value, datetime.datetime):
        offset = value.utcoffset()
        if offset:
            return datetime.timezone(offset)
    return datetime.UTC


def zone_label(zone: datetime.tzinfo) -> str:
    """``UTC`` or the offset as ``UTC-05:00``."""
    offset = zone.utcoffset(None) or datetime.timedelta(0)
    if not offset:
        return "UTC"
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{rest:02d}"


def local_time(at: datetime.datetime, zone: datetime.tzinfo) -> str:
    """``2024-03-01 23:59 UTC-05:00``: a time in the questionnaire's zone, the zone named."""
    return f"{at.astimezone(zone):%Y-%m-%d %H:%M} {zone_label(zone)}"


def _read_due(r: _Reader, data: Mapping[str, Any]) -> datetime.datetime:
    placeholder = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    value = data.get("due")
    if value is None:
        r.problem(("due",), "required: the date and time answers are due (2024-03-01T23:59:00Z)")
        return placeholder
    if not isinstance(value, datetime.datetime):
        r.problem(("due",), "expected a date and time with its zone (2024-03-01T23:59:00Z)")
        return placeholder
    if value.tzinfo is None or value.utcoffset() is None:
        r.problem(("due",), "the due time needs a time zone (…T23:59:00Z or …-05:00)")
        return placeholder
    return value.astimezone(datetime.UTC)


def _read_reminders(r: _Reader, data: Mapping[str, Any]) -> tuple[int, ...]:
    value = data.get("reminders", [])
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 365 for v in value
    ):
        r.problem(("reminders",), "expected an array of days before the due date (1 to 365)")
        return ()
    if len(set(value)) != len(value):
        r.problem(("reminders",), "a day is listed twice")
    return tuple(sorted(set(value), reverse=True))


def _read_questions(r: _Reader, data: Mapping[str, Any]) -> tuple[Question, ...]:
    tables = r.tables(data, "questions", ())
    if not tables and "questions" not in data:
        r.problem(("questions",), "a questionnaire needs at least one [[questions]]")
    seen: set[str] = set()
    questions: list[Question] = []
    for i, table in enumerate(tables):
        path = ("questions", i)
        r.keys(table, path, ["id", "kind", "text", "help", "required", "max_words", "choices"])
        qid = r.text(table, "id", path)
        if qid and not _KEY.fullmatch(qid):
            r.problem((*path, "id"), "use lower-case letters, digits and hyphens (at most 63)")
        if qid in seen:
            r.problem((*path, "id"), f"question {qid!r} is defined twice")
        seen.add(qid)
        kind = r.choice(table, "kind", path, KINDS, YES_NO)
        if "kind" not in table:
            r.problem((*path, "kind"), f"required: one of {', '.join(KINDS)}")
        text = r.text(table, "text", path)
        help_text = r.text(table, "help", path) if "help" in table else ""
        required = r.boolean(table, "required", path, True)
        max_words: int | None = None
        choices: tuple[str, ...] = ()
        if kind == TEXT:
            if "max_words" not in table:
                r.problem((*path, "max_words"), "a text question needs its word limit")
            else:
                max_words = r.integer(table, "max_words", path, 0)
                if not 1 <= max_words <= MAX_WORDS_LIMIT:
                    r.problem((*path, "max_words"), f"expected 1 to {MAX_WORDS_LIMIT} words")
        elif "max_words" in table:
            r.problem((*path, "max_words"), "only a text question has a word limit")
        if kind == CHOICE:
            choices = r.texts(table, "choices", path)
            if len(choices) < 2:
                r.problem((*path, "choices"), "a choice question needs at least two choices")
            if len(set(choices)) != len(choices):
                r.problem((*path, "choices"), "a choice is listed twice")
        elif "choices" in table:
            r.problem((*path, "choices"), "only a choice question has choices")
        questions.append(Question(qid, kind, text, help_text, required, max_words, choices))
    return tuple(questions)


def _read_translations(
    r: _Reader, table: Mapping[str, Any], questionnaire: Questionnaire
) -> dict[str, dict[str, str]]:
    texts = {questionnaire.title, questionnaire.introduction, questionnaire.office}
    texts.update(questionnaire.parties)
    for q in questionnaire.questions:
        texts.update((q.text, q.help, *q.choices))
    texts.discard("")
    out: dict[str, dict[str, str]] = {}
    for language, entries in table.items():
        path = ("translations", language)
        if language not in LANGUAGES:
            r.problem(path, f"unknown language (expected one of: {', '.join(LANGUAGES)})")
            continue
        if not isinstance(entries, dict):
            r.problem(path, "expected a table of English text = translation")
            continue
        out[language] = {}
        for english, translated in entries.items():
            if english not in texts:
                r.problem((*path, english), "this text is not in the questionnaire")
            elif not isinstance(translated, str) or not translated.strip():
                r.problem((*path, english), "expected a non-empty string")
            else:
                out[language][english] = translated
    return out


# -- writing the file ---------------------------------------------------------------------------


def _toml_string(text: str) -> str:
    """``text`` as a TOML basic string: quotes, backslashes and control characters escaped."""
    out = ['"']
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _toml_strings(texts: Sequence[str]) -> str:
    return "[" + ", ".join(_toml_string(t) for t in texts) + "]"


def questionnaire_text(questionnaire: Questionnaire) -> str:
    """The file of ``questionnaire``, in the format :func:`parse_questionnaire` reads: what
    the committee's question-by-question editor saves, so that a definition made on the page
    and one written by hand go through the same reader, the same checks and the same service.
    Reading the text back gives the same questionnaire (its values are not checked here: the
    reader does that, every problem with its line)."""
    q = questionnaire
    due = q.due.astimezone(q.zone)
    due_text = due.isoformat()
    if not (q.zone.utcoffset(None) or datetime.timedelta(0)):
        due_text = due_text.removesuffix("+00:00") + "Z"
    lines = [
        f"format = {_toml_string(FORMAT)}",
        f"key = {_toml_string(q.key)}",
        f"version = {q.version}",
        f"title = {_toml_string(q.title)}",
    ]
    if q.introduction:
        lines.append(f"introduction = {_toml_string(q.introduction)}")
    if q.office:
        lines.append(f"office = {_toml_string(q.office)}")
    lines += [
        f"due = {due_text}",
        f"reminders = [{', '.join(str(d) for d in q.reminders)}]",
        f"publication = {_toml_string(q.publication)}",
        f"answer_required_for_forum = {'true' if q.answer_required_for_forum else 'false'}",
    ]
    if q.parties:
        lines.append(f"parties = {_toml_strings(q.parties)}")
    for question in q.questions:
        lines += ["", "[[questions]]", f"id = {_toml_string(question.id)}"]
        lines.append(f"kind = {_toml_string(question.kind)}")
        lines.append(f"text = {_toml_string(question.text)}")
        if question.help:
            lines.append(f"help = {_toml_string(question.help)}")
        if not question.required:
            lines.append("required = false")
        if question.kind == TEXT and question.max_words is not None:
            lines.append(f"max_words = {question.max_words}")
        if question.kind == CHOICE:
            lines.append(f"choices = {_toml_strings(question.choices)}")
    for language in sorted(q.translations):
        entries = q.translations[language]
        if entries:
            lines += ["", f"[translations.{language}]"]
            lines += [f"{_toml_string(k)} = {_toml_string(v)}" for k, v in entries.items()]
    return "\n".join(lines) + "\n"
