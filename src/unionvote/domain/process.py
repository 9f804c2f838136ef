"""A union's endorsement process, as a TOML file: who may vote, the stages, the questions and
their candidates, the report rules and the decision rule.

``parse_process(text, source=...)`` reads the file and checks every rule it can; a file with
problems raises one ``ProcessError`` that lists *all* of them, each with the file, the line and
the field (``iam-2024.toml:14: stages[0].questions[0].candidates[2].party: unknown party …``).
``Process.to_questions(stage_id)`` gives the homomorphic questions of a stage, ready for the
election record.

Write-in: a Belenios homomorphic question can only count 0/1 choices (only the totals are ever
decrypted), so it cannot carry a name. A ``write-in`` extra option is therefore recorded as a
plain choice labelled ``"Write-in"``: the report says how many members wanted someone not on the
list, never who. Collecting names would need a non-homomorphic question, which we do not offer.

An "issues" question (``options``, ``min = 0``, ``max = 5``) is an approval question: each
member picks up to five; the report ranks the issues by how many members picked them. A true
ranking cannot be tallied homomorphically either.

Translations: the file's text is English, the language of the election record and the report.
A ``[translations.es]`` table gives the website's Spanish for the texts members read — the
union's name, party names, stage titles, questions and options —, keyed by the English text
exactly as the file writes it (like a gettext catalog). Candidates' names are not translated;
the extra options' labels are translated by the website's own catalog. Translations are part
of the file, so of its digest, but of nothing in the election record.
"""

from __future__ import annotations

import datetime
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from fractions import Fraction
from typing import Any, Final

from unionvote.domain.decision import DecisionRule
from unionvote.domain.errors import DomainError
from unionvote.record.messages import Question

__all__ = [
    "TRANSLATED_LANGUAGES",
    "Answer",
    "AnswerKind",
    "Candidate",
    "DecisionRules",
    "Eligibility",
    "ExtraOption",
    "Membership",
    "Problem",
    "Process",
    "ProcessError",
    "ProcessQuestion",
    "ReportRules",
    "Stage",
    "parse_process",
]

MEMBERS = "members"
COUNCIL_ROLE = "council role: "
TOP_OF_EACH_PARTY = "top vote-getter of each party"
NEAREST_POINT = "nearest point"
BREAKDOWNS = ("state", "local")
TRANSLATED_LANGUAGES: Final = ("es",)
"""The languages a file may translate its texts into: the website's, but English, the file's."""
Path = tuple[str | int, ...]


# -- errors -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a process file: where (``line``, 1-based) and in which field."""

    line: int
    field: str
    message: str


class ProcessError(DomainError):
    """A process file was refused; ``problems`` lists every problem found, in line order."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = tuple(sorted(problems, key=lambda p: p.line))
        lines = [f"{source}:{p.line}: {p.field}: {p.message}" for p in self.problems]
        count = len(lines)
        super().__init__(
            "process",
            f"{count} problem{'s' if count != 1 else ''} in {source}\n" + "\n".join(lines),
        )


# -- the process ----------------------------------------------------------------------------


class ExtraOption(Enum):
    """Answers offered beside the candidates."""

    UNDECIDED = "undecided"
    NO_ENDORSEMENT = "no-endorsement"
    WRITE_IN = "write-in"  # recorded without the name: see the module docstring

    @property
    def label(self) -> str:
        return {"undecided": "Undecided", "no-endorsement": "No endorsement"}.get(
            self.value, "Write-in"
        )


class AnswerKind(Enum):
    CANDIDATE = "candidate"
    OPTION = "option"
    EXTRA = "extra"


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer of a question as the report sees it: its label, and its party if a candidate."""

    label: str
    kind: AnswerKind
    party: str | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    name: str
    party: str

    @property
    def answer(self) -> Answer:
        return Answer(self.name, AnswerKind.CANDIDATE, self.party)


@dataclass(frozen=True, slots=True)
class Membership:
    """A membership figure with what it counts ("members", "active members", "workers"...)."""

    figure: int
    counts: str


@dataclass(frozen=True, slots=True)
class Eligibility:
    """Who may vote: members in these countries, with these dues statuses, on the cutoff date."""

    countries: tuple[str, ...]
    dues_statuses: tuple[str, ...]
    cutoff: datetime.date


@dataclass(frozen=True, slots=True)
class ProcessQuestion:
    """A question of a stage. Its answers are its candidates (or plain ``options``), then its
    extra options; a derived question takes its candidates from an earlier stage's result."""

    id: str
    question: str
    candidates: tuple[Candidate, ...] = ()
    options: tuple[str, ...] = ()
    extra_options: tuple[ExtraOption, ...] = ()
    min: int = 1
    max: int = 1
    blank: bool = False
    candidates_from: str | None = None

    def answers(self, derived: Sequence[Candidate] | None = None) -> tuple[Answer, ...]:
        if self.candidates_from is not None and derived is None:
            raise DomainError(
                "process.question",
                f"question {self.id!r} takes its candidates from question "
                f"{self.candidates_from!r}: give the derived candidates",
            )
        candidates = self.candidates if derived is None else tuple(derived)
        return (
            tuple(c.answer for c in candidates)
            + tuple(Answer(o, AnswerKind.OPTION) for o in self.options)
            + tuple(Answer(e.label, AnswerKind.EXTRA) for e in self.extra_options)
        )

    def to_question(self, derived: Sequence[Candidate] | None = None) -> Question:
        answers = self.answers(derived)
        if not self.min <= self.max <= len(answers) or len({a.label for a in answers}) != len(
            answers
        ):
            raise DomainError(
                "process.question",
                f"question {self.id!r}: {len(answers)} distinct answers needed for "
                f"min {self.min}, max {self.max}",
            )
        return Question(
            self.question, tuple(a.label for a in answers), self.min, self.max, self.blank
        )


@dataclass(frozen=True, slots=True)
class DecisionRules:
    rule: DecisionRule = DecisionRule.SIMPLE_MAJORITY
    weights: bool = False


@dataclass(frozen=True, slots=True)
class Stage:
    """A stage: its electorate (``"members"`` or ``"council role: <role>"``) and questions; a
    derived stage names the stage whose result gives its candidates, and the rule for it. A
    stage may name a candidate questionnaire (``questionnaire``): its ballot is then set up
    only with candidates that questionnaire's rule lets onto a ballot."""

    id: str
    title: str
    electorate: str
    questions: tuple[ProcessQuestion, ...]
    derived_from: str | None = None
    rule: str | None = None
    decision: DecisionRules | None = None
    questionnaire: str | None = None


@dataclass(frozen=True, slots=True)
class ReportRules:
    """How results are published: candidates whose exact share is *strictly* above
    ``threshold_percent`` are listed, rounded to the nearest point (halves away from zero);
    groups of fewer than ``min_group_size`` ballots are never shown."""

    threshold_percent: Fraction = Fraction(2)
    rounding: str = NEAREST_POINT
    min_group_size: int = 50
    party_totals: bool = True
    breakdowns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Process:
    union: str
    short_name: str
    membership: Membership | None
    eligibility: Eligibility
    parties: tuple[str, ...]
    stages: tuple[Stage, ...]
    report: ReportRules
    translations: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Per language (``"es"``), each English text of the file with its translation."""

    def translated(self, text: str, language: str) -> str:
        """``text`` (the union's name, a party, a title, a question, an option) in
        ``language`` as the file translates it; the file's own text if it does not."""
        return self.translations.get(language, {}).get(text, text)

    def stage(self, stage_id: str) -> Stage:
        for stage in self.stages:
            if stage.id == stage_id:
                return stage
        raise DomainError("process.stage", f"no stage {stage_id!r}")

    def to_questions(
        self, stage_id: str, derived: Mapping[str, Sequence[Candidate]] | None = None
    ) -> tuple[Question, ...]:
        """The stage's questions for the election record; ``derived`` gives, per question id,
        the candidates of a derived question (see ``decision.top_vote_getters_by_party``)."""
        derived = derived or {}
        return tuple(q.to_question(derived.get(q.id)) for q in self.stage(stage_id).questions)


# -- where things are in the text -------------------------------------------------------------

_KEY_TOKEN = re.compile(r"\s*(?:([A-Za-z0-9_-]+)|\"((?:[^\"\\]|\\.)*)\"|'([^']*)')\s*")
_STRINGS = re.compile(r"\"\"\".*?\"\"\"|'''.*?'''|\"(?:[^\"\\]|\\.)*\"|'[^']*'")


def _split_keys(text: str) -> tuple[str, ...]:
    keys: list[str] = []
    for part in _dotted_parts(text):
        match = _KEY_TOKEN.fullmatch(part)
        if match is None:
            return tuple(keys)
        keys.append(next(g for g in match.groups() if g is not None))
    return tuple(keys)


def _dotted_parts(text: str) -> list[str]:
    parts, current, quote = [], "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == ".":
            parts.append(current)
            current = ""
            continue
        current += ch
    return [*parts, current]


class _Locator:
    """Maps a path (``("stages", 0, "questions", 1, "min")``) to the line that writes it, by
    scanning the text the way TOML reads it: table headers, arrays of tables, ``key = value``
    lines; multi-line strings and arrays are skipped over."""

    def __init__(self, text: str) -> None:
        self._lines: dict[Path, int] = {}
        counts: dict[Path, int] = {}
        current: Path = ()
        depth = 0
        in_string: str | None = None
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if in_string is not None:
                if line.count(in_string) % 2 == 1:
                    in_string = None
                continue
            if depth > 0:
                depth += _bracket_delta(line)
                continue
            if not line or line.startswith("#"):
                continue
            if line.startswith("[["):
                keys = _split_keys(line[2 : line.find("]]")])
                base = self._resolve(keys[:-1], counts) + keys[-1:]
                index = counts.get(base, 0)
                counts[base] = index + 1
                current = (*base, index)
                self._lines.setdefault(base, number)
                self._lines[current] = number
            elif line.startswith("["):
                current = self._resolve(_split_keys(line[1 : line.find("]")]), counts)
                self._lines.setdefault(current, number)
            elif "=" in line:
                key, _, value = _partition_key(line)
                self._lines.setdefault((*current, *_split_keys(key)), number)
                value = value.strip()
                for quotes in ('"""', "'''"):
                    if value.startswith(quotes) and value.count(quotes) == 1:
                        in_string = quotes
                depth = max(0, _bracket_delta(value))

    @staticmethod
    def _resolve(keys: tuple[str, ...], counts: Mapping[Path, int]) -> Path:
        path: Path = ()
        for key in keys:
            path = (*path, key)
            if path in counts:
                path = (*path, counts[path] - 1)
        return path

    def line(self, path: Path) -> int:
        """The line of ``path``, or of its nearest written ancestor (1 if none)."""
        while path:
            if path in self._lines:
                return self._lines[path]
            path = path[:-1]
        return 1


def _partition_key(line: str) -> tuple[str, str, str]:
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "=":
            return line[:i], "=", line[i + 1 :]
    return line, "", ""


def _bracket_delta(text: str) -> int:
    text = _STRINGS.sub("", text).split("#", 1)[0]
    return text.count("[") + text.count("{") - text.count("]") - text.count("}")


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _field(path: Path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        key = part if _BARE_KEY.fullmatch(part) else '"' + part.replace('"', '\\"') + '"'
        out += f".{key}" if out else key
    return out or "(file)"


# -- reading ----------------------------------------------------------------------------------


class _Reader:
    """Typed access to the parsed TOML that records a ``Problem`` instead of raising, so that
    every problem of a file is reported at once."""

    def __init__(self, locator: _Locator) -> None:
        self.locator = locator
        self.problems: list[Problem] = []

    def problem(self, path: Path, message: str) -> None:
        self.problems.append(Problem(self.locator.line(path), _field(path), message))

    def keys(self, table: Mapping[str, Any], path: Path, allowed: Sequence[str]) -> None:
        for key in table:
            if key not in allowed:
                self.problem((*path, key), f"unknown field (expected one of: {', '.join(allowed)})")

    def table(self, parent: Mapping[str, Any], key: str, path: Path) -> Mapping[str, Any]:
        value = parent.get(key, {})
        if not isinstance(value, dict):
            self.problem((*path, key), "expected a table")
            return {}
        return value

    def tables(self, parent: Mapping[str, Any], key: str, path: Path) -> list[Mapping[str, Any]]:
        value = parent.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.problem((*path, key), f"expected an array of tables ([[{_field((*path, key))}]])")
            return []
        return value

    def text(
        self, table: Mapping[str, Any], key: str, path: Path, default: str | None = None
    ) -> str:
        value = table.get(key, default)
        if value is None:
            self.problem((*path, key), "required")
            return ""
        if not isinstance(value, str) or not value.strip():
            self.problem((*path, key), "expected a non-empty string")
            return ""
        return value

    def integer(self, table: Mapping[str, Any], key: str, path: Path, default: int) -> int:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem((*path, key), "expected a whole number")
            return default
        if value < 0:
            self.problem((*path, key), "must not be negative")
            return default
        return value

    def boolean(self, table: Mapping[str, Any], key: str, path: Path, default: bool) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            self.problem((*path, key), "expected true or false")
            return default
        return value

    def texts(self, table: Mapping[str, Any], key: str, path: Path) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.problem((*path, key), "expected an array of non-empty strings")
            return ()
        return tuple(value)

    def choice(
        self, table: Mapping[str, Any], key: str, path: Path, allowed: Sequence[str], default: str
    ) -> str:
        value = table.get(key, default)
        if value not in allowed:
            self.problem((*path, key), f"{value!r} is not one of: {', '.join(allowed)}")
            return default
        return str(value)


_SYNTAX_LINE = re.compile(r"\(at line (\d+), column \d+\)|\(at end of document\)")


def parse_process(text: str, *, source: str = "<process>") -> Process:
    """Read a process file; raises ``ProcessError`` listing every problem with its line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        match = _SYNTAX_LINE.search(message)
        line = int(match.group(1)) if match and match.group(1) else text.count("\n") + 1
        detail = _SYNTAX_LINE.sub("", message).strip()
        raise ProcessError(source, [Problem(line, "syntax", detail)]) from error
    reader = _Reader(_Locator(text))
    process = _read_process(reader, data)
    if reader.problems:
        raise ProcessError(source, reader.problems)
    return process


def _read_process(r: _Reader, data: Mapping[str, Any]) -> Process:
    r.keys(data, (), ["union", "eligibility", "parties", "report", "stages", "translations"])
    for required in ("union", "eligibility", "stages"):
        if required not in data:
            r.problem((), f"missing [{required}]")
    union = r.table(data, "union", ())
    r.keys(union, ("union",), ["name", "short_name", "membership"])
    name = r.text(union, "name", ("union",))
    short_name = r.text(union, "short_name", ("union",), default=name or "union")
    membership = None
    if "membership" in union:
        table = r.table(union, "membership", ("union",))
        path: Path = ("union", "membership")
        r.keys(table, path, ["figure", "counts"])
        membership = Membership(r.integer(table, "figure", path, 0), r.text(table, "counts", path))

    parties = _read_parties(r, data)
    eligibility = _read_eligibility(r, r.table(data, "eligibility", ()))
    report = _read_report(r, r.table(data, "report", ()))
    stages = _read_stages(r, r.tables(data, "stages", ()), parties)
    if not stages and "stages" in data:
        r.problem(("stages",), "a process needs at least one stage")
    process = Process(name, short_name, membership, eligibility, parties, stages, report)
    translations = _read_translations(r, r.table(data, "translations", ()), process)
    return replace(process, translations=translations)


def _translatable(process: Process) -> set[str]:
    """The texts of a file that members read and a translation may replace."""
    texts = {process.union, process.short_name, *process.parties}
    if process.membership is not None:
        texts.add(process.membership.counts)
    for stage in process.stages:
        texts.add(stage.title)
        for question in stage.questions:
            texts.add(question.question)
            texts.update(question.options)
    return texts


def _read_translations(
    r: _Reader, table: Mapping[str, Any], process: Process
) -> dict[str, dict[str, str]]:
    translatable = _translatable(process)
    names = {c.name for s in process.stages for q in s.questions for c in q.candidates}
    extras = {e.label for e in ExtraOption}
    translations: dict[str, dict[str, str]] = {}
    for language, texts in table.items():
        path: Path = ("translations", language)
        if language not in TRANSLATED_LANGUAGES:
            known = ", ".join(TRANSLATED_LANGUAGES)
            r.problem(
                path,
                f"unknown language {language!r} (the file is in English; translate to: {known})",
            )
            continue
        if not isinstance(texts, dict):
            r.problem(path, 'expected a table of "English text" = "translation"')
            continue
        found: dict[str, str] = {}
        for source, translation in texts.items():
            where: Path = (*path, source)
            if not isinstance(translation, str) or not translation.strip():
                r.problem(where, "expected a non-empty string")
            elif source in translatable:
                found[source] = translation
            elif source in names:
                r.problem(where, "a candidate's name is not translated")
            elif source in extras:
                r.problem(where, "the extra options' labels are translated by unionvote itself")
            else:
                r.problem(
                    where,
                    f"no text {source!r} in this file to translate (the key is the English "
                    "text exactly as the file writes it)",
                )
        translations[language] = found
    return translations


def _read_parties(r: _Reader, data: Mapping[str, Any]) -> tuple[str, ...]:
    parties: list[str] = []
    for i, table in enumerate(r.tables(data, "parties", ())):
        path: Path = ("parties", i)
        r.keys(table, path, ["name"])
        party = r.text(table, "name", path)
        if party in parties:
            r.problem((*path, "name"), f"party {party!r} is declared twice")
        elif party:
            parties.append(party)
    return tuple(parties)


def _read_eligibility(r: _Reader, table: Mapping[str, Any]) -> Eligibility:
    path: Path = ("eligibility",)
    r.keys(table, path, ["countries", "dues_statuses", "cutoff"])
    countries = r.texts(table, "countries", path)
    statuses = r.texts(table, "dues_statuses", path)
    for key, values in (("countries", countries), ("dues_statuses", statuses)):
        if not values and key in table:
            r.problem((*path, key), "must list at least one")
        elif key not in table and table:
            r.problem((*path, key), "required")
    cutoff = table.get("cutoff")
    if isinstance(cutoff, datetime.datetime) or not isinstance(cutoff, datetime.date):
        if table:
            r.problem((*path, "cutoff"), "expected a date (YYYY-MM-DD, unquoted)")
        cutoff = datetime.date.min
    return Eligibility(countries, statuses, cutoff)


def _read_report(r: _Reader, table: Mapping[str, Any]) -> ReportRules:
    path: Path = ("report",)
    r.keys(
        table,
        path,
        ["threshold_percent", "rounding", "min_group_size", "party_totals", "breakdowns"],
    )
    threshold = Fraction(2)
    raw = table.get("threshold_percent", 2)
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        r.problem((*path, "threshold_percent"), "expected a number")
    elif not 0 <= raw < 100:
        r.problem((*path, "threshold_percent"), f"{raw} is out of range (0 to under 100)")
    else:
        threshold = Fraction(str(raw))  # str: 2.5 is 5/2, not the binary float's expansion
    rounding = r.choice(table, "rounding", path, [NEAREST_POINT], NEAREST_POINT)
    min_group = r.integer(table, "min_group_size", path, 50)
    if min_group < 1:
        r.problem((*path, "min_group_size"), "must be at least 1")
    breakdowns = r.texts(table, "breakdowns", path)
    for b in breakdowns:
        if b not in BREAKDOWNS:
            r.problem((*path, "breakdowns"), f"{b!r} is not one of: {', '.join(BREAKDOWNS)}")
    return ReportRules(
        threshold,
        rounding,
        max(min_group, 1),
        r.boolean(table, "party_totals", path, True),
        breakdowns,
    )


_STAGE_KEYS = [
    "id",
    "title",
    "electorate",
    "derived_from",
    "rule",
    "questions",
    "decision",
    "questionnaire",
]
_QUESTIONNAIRE_KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_QUESTION_KEYS = [
    "id",
    "question",
    "candidates",
    "options",
    "extra_options",
    "min",
    "max",
    "blank",
    "candidates_from",
]


def _read_stages(
    r: _Reader, tables: Sequence[Mapping[str, Any]], parties: Sequence[str]
) -> tuple[Stage, ...]:
    stages: list[Stage] = []
    for i, table in enumerate(tables):
        path: Path = ("stages", i)
        r.keys(table, path, _STAGE_KEYS)
        stage_id = r.text(table, "id", path)
        if any(s.id == stage_id for s in stages):
            r.problem((*path, "id"), f"stage {stage_id!r} is defined twice")
        electorate = r.text(table, "electorate", path)
        if electorate and not (
            electorate == MEMBERS
            or (electorate.startswith(COUNCIL_ROLE) and electorate[len(COUNCIL_ROLE) :].strip())
        ):
            r.problem(
                (*path, "electorate"),
                f"{electorate!r}: expected {MEMBERS!r} or {COUNCIL_ROLE!r} followed by a role",
            )
        source: Stage | None = None
        derived_from = table.get("derived_from")
        rule = None
        if derived_from is not None:
            source = next((s for s in stages if s.id == derived_from), None)
            if source is None:
                r.problem(
                    (*path, "derived_from"),
                    f"unknown stage {derived_from!r} (a stage derives from an earlier stage)",
                )
            rule = r.choice(table, "rule", path, [TOP_OF_EACH_PARTY], TOP_OF_EACH_PARTY)
        elif "rule" in table:
            r.problem((*path, "rule"), "a rule needs derived_from")
        decision = None
        if "decision" in table:
            decision = _read_decision(r, r.table(table, "decision", path), (*path, "decision"))
        questionnaire = table.get("questionnaire")
        if questionnaire is not None and not (
            isinstance(questionnaire, str) and _QUESTIONNAIRE_KEY.fullmatch(questionnaire)
        ):
            r.problem(
                (*path, "questionnaire"),
                "expected a questionnaire's key (lower-case letters, digits and dashes)",
            )
            questionnaire = None
        questions = tuple(
            _read_question(r, q, (*path, "questions", j), parties, source)
            for j, q in enumerate(r.tables(table, "questions", path))
        )
        if not questions:
            r.problem(path, f"stage {stage_id!r} has no questions")
        seen: set[str] = set()
        for j, q in enumerate(questions):
            if q.id in seen:
                r.problem((*path, "questions", j, "id"), f"question {q.id!r} is defined twice")
            seen.add(q.id)
        stages.append(
            Stage(
                stage_id,
                r.text(table, "title", path, default=stage_id or "stage"),
                electorate,
                questions,
                derived_from if isinstance(derived_from, str) else None,
                rule,
                decision,
                questionnaire,
            )
        )
    return tuple(stages)


def _read_decision(r: _Reader, table: Mapping[str, Any], path: Path) -> DecisionRules:
    r.keys(table, path, ["rule", "weights"])
    rules = [rule.value for rule in DecisionRule]
    rule = r.choice(table, "rule", path, rules, DecisionRule.SIMPLE_MAJORITY.value)
    return DecisionRules(DecisionRule(rule), r.boolean(table, "weights", path, False))


def _read_question(
    r: _Reader,
    table: Mapping[str, Any],
    path: Path,
    parties: Sequence[str],
    source: Stage | None,
) -> ProcessQuestion:
    r.keys(table, path, _QUESTION_KEYS)
    question_id = r.text(table, "id", path)
    text = r.text(table, "question", path)
    candidates: list[Candidate] = []
    for k, c in enumerate(r.tables(table, "candidates", path)):
        cpath: Path = (*path, "candidates", k)
        r.keys(c, cpath, ["name", "party"])
        candidate = Candidate(r.text(c, "name", cpath), r.text(c, "party", cpath))
        if candidate.party and candidate.party not in parties:
            declared = "declared: " + (", ".join(parties) or "none")
            r.problem((*cpath, "party"), f"unknown party {candidate.party!r} ({declared})")
        if any(other.name == candidate.name for other in candidates):
            r.problem((*cpath, "name"), f"candidate {candidate.name!r} is listed twice")
        candidates.append(candidate)
    options = r.texts(table, "options", path)
    extras: list[ExtraOption] = []
    for value in r.texts(table, "extra_options", path):
        try:
            extras.append(ExtraOption(value))
        except ValueError:
            allowed = ", ".join(e.value for e in ExtraOption)
            r.problem((*path, "extra_options"), f"{value!r} is not one of: {allowed}")
    candidates_from = table.get("candidates_from")
    if candidates_from is not None:
        if source is None:
            r.problem((*path, "candidates_from"), "only a derived stage's questions take this")
        elif not any(q.id == candidates_from and q.candidates for q in source.questions):
            r.problem(
                (*path, "candidates_from"),
                f"stage {source.id!r} has no candidate question {candidates_from!r}",
            )
        if candidates or options:
            r.problem((*path, "candidates_from"), "takes no candidates or options of its own")
    elif candidates and options:
        r.problem((*path, "options"), "a question has candidates or options, not both")
    elif not candidates and not options:
        r.problem(path, f"question {question_id!r} has no candidates or options")

    minimum = r.integer(table, "min", path, 1)
    maximum = r.integer(table, "max", path, 1)
    blank = r.boolean(table, "blank", path, False)
    labels = [c.name for c in candidates] + list(options) + [e.label for e in extras]
    if len(set(labels)) != len(labels):
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        r.problem(path, f"answers must be distinct: {', '.join(map(repr, dupes))}")
    if minimum > maximum:
        r.problem((*path, "min"), f"min {minimum} is greater than max {maximum}")
    elif candidates_from is None and maximum > len(labels) and labels:
        r.problem((*path, "max"), f"max {maximum} is more than the {len(labels)} answers")
    return ProcessQuestion(
        question_id,
        text,
        tuple(candidates),
        options,
        tuple(extras),
        minimum,
        maximum,
        blank,
        candidates_from if isinstance(candidates_from, str) else None,
    )
