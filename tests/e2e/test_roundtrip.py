"""Round trip: elections run with our Python API, checked by our verifier (with the result
computed independently from the plaintext votes) and by Belenios's own verifier, with Debian's
belenios-tool 3.0 (trixie, the default suite) and 3.3.0 (sid).

Each record has at most 12 ballots: belenios-verify checks every ballot in a chroot."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from elections import Built, Spec, blank, build_election, pick
from typer.testing import CliRunner

from unionvote.cli.main import app
from unionvote.record.messages import Question
from unionvote.verify import verify_record

CANDIDATES = ("Amélie", "Bartholomew", "Chloé", "Dmitri", "Eun-ji")
ONE_OF_FIVE = Question("Who should represent us?", CANDIDATES, 1, 1)
BLANK_ONE_OR_TWO = Question("Which days (or none)?", ("Mon", "Tue", "Wed"), 1, 2, blank=True)
UP_TO_5_OF_10 = Question(
    "Which demands? (up to five)", tuple(f"Demand {i}" for i in range(1, 11)), 0, 5
)
YES_NO = Question("Endorse the agreement?", ("Yes", "No"), 1, 1)


def one_of_five(seed: int, trustees: str = "single", decrypt: tuple[int, ...] = ()) -> Spec:
    return Spec(
        questions=(ONE_OF_FIVE,),
        voters=7,
        votes=tuple((v, (pick(5, c),)) for v, c in enumerate([0, 1, 1, 4, 2, 1, 0])),
        trustees=trustees,
        decrypt_with=decrypt,
        seed=seed,
    )


CASES: dict[str, Spec] = {
    "pick_1_of_5": one_of_five(1),
    "blank_allowed": Spec(
        questions=(BLANK_ONE_OR_TWO,),
        voters=6,
        votes=(
            (0, (blank(3),)),
            (1, (pick(3, 0),)),
            (2, (pick(3, 0, 2),)),
            (3, (blank(3),)),
            (4, (pick(3, 1, 2),)),
            (5, (pick(3, 2),)),
        ),
        seed=2,
    ),
    "several_questions": Spec(
        questions=(YES_NO, ONE_OF_FIVE, BLANK_ONE_OR_TWO, UP_TO_5_OF_10),
        voters=4,
        votes=(
            (0, (pick(2, 0), pick(5, 3), blank(3), pick(10, 0, 9))),
            (1, (pick(2, 1), pick(5, 3), pick(3, 1), pick(10))),
            (2, (pick(2, 0), pick(5, 0), pick(3, 0, 1), pick(10, 1, 2, 3, 4, 5))),
            (3, (pick(2, 0), pick(5, 4), blank(3), pick(10, 9))),
        ),
        seed=3,
    ),
    "up_to_5_of_10": Spec(
        questions=(UP_TO_5_OF_10,),
        voters=5,
        votes=(
            (0, (pick(10),)),  # none chosen: allowed, min is 0
            (1, (pick(10, 0, 1, 2, 3, 4),)),  # the maximum
            (2, (pick(10, 5, 6, 7, 8, 9),)),
            (3, (pick(10, 0, 9),)),
            (4, (pick(10, 4),)),
        ),
        seed=4,
    ),
    "weights": Spec(
        questions=(YES_NO, BLANK_ONE_OR_TWO),
        voters=5,
        weights=(1, 3, 1_000_000_000, 2, 7),
        votes=(
            (0, (pick(2, 0), pick(3, 0))),
            (1, (pick(2, 1), blank(3))),
            (2, (pick(2, 1), pick(3, 1, 2))),
            (3, (pick(2, 0), pick(3, 2))),
            (1, (pick(2, 0), pick(3, 0))),  # a weighted revote
        ),
        seed=5,
    ),
    # Counts and weights from 2^30 up are written as decimal strings, as Belenios writes them.
    "weights_past_2_30": Spec(
        questions=(YES_NO,),
        voters=3,
        weights=(1_500_000_000, 2, 1),
        votes=((0, (pick(2, 0),)), (1, (pick(2, 1),)), (2, (pick(2, 0),))),
        seed=16,
    ),
    "threshold_2_of_3_decrypt_1_2": one_of_five(6, "2of3", (1, 2)),
    "threshold_2_of_3_decrypt_2_3": one_of_five(7, "2of3", (3, 2)),
    "threshold_2_of_3_decrypt_all": one_of_five(8, "2of3", (1, 2, 3)),
    "threshold_3_of_5_decrypt_1_2_3": one_of_five(9, "3of5", (1, 2, 3)),
    "threshold_3_of_5_decrypt_2_4_5": one_of_five(10, "3of5", (5, 2, 4)),
    "threshold_3_of_5_decrypt_1_3_5": one_of_five(11, "3of5", (1, 3, 5)),
    "revotes": Spec(
        questions=(YES_NO, BLANK_ONE_OR_TWO),
        voters=4,
        votes=(
            (0, (pick(2, 0), pick(3, 0))),
            (1, (pick(2, 0), pick(3, 0))),
            (0, (pick(2, 1), blank(3))),
            (2, (pick(2, 1), pick(3, 1))),
            (0, (pick(2, 1), pick(3, 2))),
            (1, (pick(2, 1), blank(3))),
            (3, (pick(2, 0), pick(3, 0, 1))),
            (0, (pick(2, 0), pick(3, 1, 2))),  # voter 0's fourth and last ballot
        ),
        trustees="2of3",
        decrypt_with=(1, 3),
        seed=12,
    ),
    "zero_ballots": Spec(questions=(YES_NO, BLANK_ONE_OR_TWO), voters=3, seed=13),
    "one_ballot": Spec(
        questions=(YES_NO, BLANK_ONE_OR_TWO),
        voters=3,
        votes=((1, (pick(2, 1), blank(3))),),
        trustees="3of5",
        decrypt_with=(2, 3, 4),
        seed=14,
    ),
    "non_latin_names": Spec(
        questions=(
            Question(
                "Qui élire ? Кого выбрать? 選ぶのは誰？ من تختار؟",
                ("Zoë Ñúñez-Ærøskøbing", "Ибрагим Шевченко", "李小龍", "فاطمة الزهراء", "Ελένη"),
                1,
                2,
                blank=True,
            ),
            Question("Délégué·e ?", ("Jürgen «Jü» O'Brien", 'Say "no" \\ back'), 1, 1),
        ),
        voters=5,
        votes=(
            (0, (pick(5, 1, 2), pick(2, 0))),
            (1, (pick(5, 3), pick(2, 1))),
            (2, (blank(5), pick(2, 0))),
            (3, (pick(5, 0, 4), pick(2, 0))),
            (4, (pick(5, 2), pick(2, 1))),
        ),
        trustees="2of3",
        decrypt_with=(2, 3),
        name="Élection du comité — 委員会 — комитет — لجنة",
        description="Vote à bulletin secret ✓ ; ballots 🗳 ; ünïcödé",
        seed=15,
    ),
}

EXPECTED: dict[str, list[list[int]]] = {
    # checked by hand from the votes above, as well as computed by expected_result
    "pick_1_of_5": [[2, 3, 1, 0, 1]],
    "blank_allowed": [[2, 2, 1, 3]],
    "weights": [[6, 1_000_000_000], [0, 4, 1_000_000_000, 1_000_000_002]],
    "revotes": [[2, 2], [1, 1, 3, 1]],
    "weights_past_2_30": [[1_500_000_001, 2]],
    "zero_ballots": [[0, 0], [0, 0, 0, 0]],
    "one_ballot": [[0, 1], [1, 0, 0, 0]],
}

assert all(sum(1 for _ in s.votes) <= 12 for s in CASES.values())


_BUILT: dict[str, Built] = {}


def _build(name: str, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """Each case's record is built once per session and shared by the tests below."""
    if name not in _BUILT:
        path = tmp_path_factory.mktemp(name) / f"{name}.bel"
        _BUILT[name] = build_election(path, CASES[name])
    return _BUILT[name]


@pytest.fixture(scope="module", params=list(CASES))
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    return _build(request.param, tmp_path_factory)


def test_unionvote_verifies_with_the_expected_result(built: Built) -> None:
    expected = built.expected
    name = built.path.stem
    if name in EXPECTED:
        assert expected == EXPECTED[name]
    assert built.result is not None
    assert [list(q) for q in built.result.result] == expected
    report = verify_record(built.path)
    assert report.ok, [f.line() for f in report.failures]
    assert report.stopped is None
    assert report.phase == "decrypted"
    assert report.result == expected
    assert report.ballots_checked == len(built.spec.votes)
    assert report.ballots_counted == len({voter for voter, _ in built.spec.votes})
    assert report.verdict().startswith(f"unionvote verify: PASS: {len(built.spec.votes)} ballot")
    assert report.election["uuid"] == built.uuid
    assert report.election["name"] == built.spec.name
    assert report.election["voters"] == built.spec.voters
    # every check the verifier makes on such a record ran at least once, and passed
    must_run = {
        "archive",
        "archive.chain",
        "setup.election",
        "setup.trustees",
        "setup.public_key",
        "setup.credentials",
        "tally.encrypted",
        "tally.count",
        "decryption.owner",
        "decryption.proof",
        "decryption.missing",
        "result.counts",
    }
    if built.spec.votes:
        must_run |= {
            "ballot.signature",
            "ballot.individual_proof",
            "ballot.overall_proof",
            "ballot.credential",
            "ballot.election",
            "ballot.canonical",
        }
    ran = {name for name, check in report.checks.items() if check.checked > 0}
    assert must_run <= ran, must_run - ran
    owners = report.checks["decryption.proof"].checked
    assert owners == len(built.decrypting_owners())


def test_revoted_ballots_are_not_counted(built: Built) -> None:
    """Every receipt is for a distinct ballot; a revote is flagged exactly when the voter had
    voted before."""
    seen: set[int] = set()
    for (voter, _), receipt in zip(built.spec.votes, built.receipts, strict=True):
        assert receipt.replaced_earlier_ballot == (voter in seen)
        assert not receipt.already_recorded
        seen.add(voter)
    assert len({r.tracker for r in built.receipts}) == len(built.receipts)


@pytest.mark.belenios
@pytest.mark.parametrize("suite", [None, "sid"], ids=["default_suite", "sid"])
def test_belenios_verifies(
    built: Built, suite: str | None, belenios_verify: Callable[..., tuple[int, str]]
) -> None:
    code, output = belenios_verify(built.path, suite)
    assert code == 0, output
    last = output.strip().splitlines()[-1]
    assert f"PASS: {len(built.spec.votes)} ballots and the whole record" in last, output
    if suite is not None:
        assert f"({suite}," in last


@pytest.mark.parametrize("name", ["non_latin_names", "weights"])
def test_unionvote_cli_verifies(name: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    built = _build(name, tmp_path_factory)
    result = CliRunner().invoke(app, ["verify", str(built.path)])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    lines = result.output.rstrip("\n").splitlines()
    assert lines[-1].startswith(f"unionvote verify: PASS: {len(built.spec.votes)} ballots")
    for question, counts in zip(built.spec.questions, built.expected, strict=True):
        labels = (["(blank)"] if question.blank else []) + list(question.answers)
        assert question.question.splitlines()[0] in result.output
        for label, count in zip(labels, counts, strict=True):
            assert any(label in line and str(count) in line for line in lines), (label, count)
