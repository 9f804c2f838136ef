"""The authority's workspace: made from registered.csv, private to its owner, never overwritten,
every credential valid and its public side the one the server will receive."""

from __future__ import annotations

import csv
import io
import json
import os
import random
import stat
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unionvote.authority import (
    AuthorityError,
    RegisteredHeader,
    RegisteredMember,
    Workspace,
    format_header,
    generate_workspace,
    read_registered,
)
from unionvote.authority.generation import SystemRandomBelow, derive_batch, random_digits
from unionvote.authority.registered import COLUMNS, HEADER_PREFIX
from unionvote.crypto.credentials import PrivateCredential, PublicCredential
from unionvote.crypto.encoding import BASE58_ALPHABET

UUID = "Vb3eZ2mHcXkQ7pT"


def registered_csv(
    path: Path,
    count: int,
    *,
    uuid: str = UUID,
    weights: list[int | None] | None = None,
    languages: list[str] | None = None,
    declared: int | None = None,
) -> Path:
    header = {
        "count": count if declared is None else declared,
        "stage": "membership-vote",
        "title": "General membership vote",
        "union": "IAM",
        "uuid": uuid,
    }
    with path.open("w", encoding="utf-8", newline="") as stream:
        stream.write(HEADER_PREFIX + json.dumps(header) + "\n")
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow([*COLUMNS, *(["language"] if languages else [])])
        for i in range(count):
            weight = weights[i] if weights else None
            row = [
                f"10{i:05d}",
                f"First{i}",
                f"Last{i}",
                f"member{i}@members.example",
                f"{i} Main St",
                "Springfield",
                "62704",
                "IL",
                "US",
                "751",
                "" if weight is None else str(weight),
            ]
            writer.writerow(row + ([languages[i]] if languages else []))
    return path


def test_generate_makes_one_valid_credential_per_member(tmp_path: Path) -> None:
    source = registered_csv(tmp_path / "registered.csv", 25)
    workspace = generate_workspace(source, tmp_path / "ws", vote_url="https://vote.example")
    assert workspace.info.count == 25 and workspace.info.uuid == UUID
    assert workspace.info.election == "IAM — General membership vote"
    public = json.loads(workspace.public_path.read_text())
    assert public["uuid"] == UUID and public["stage"] == "membership-vote"
    assert len(public["credentials"]) == 25
    members = list(Workspace.open(tmp_path / "ws").members())
    assert [m.card_number for m, _ in members] == [e["card_number"] for e in public["credentials"]]
    for (member, credential), entry in zip(members, public["credentials"], strict=True):
        assert credential.checksum_ok  # our 22-character form, with its check character
        assert str(credential.public(UUID).key) == entry["public_credential"]
        assert entry["weight"] is None and member.weight is None
    assert len({c.reveal() for _, c in members}) == 25
    # the public file holds no private credential
    text = workspace.public_path.read_text()
    assert not any(c.reveal() in text for _, c in members)


def test_workspace_is_private_to_its_owner(tmp_path: Path) -> None:
    workspace = generate_workspace(registered_csv(tmp_path / "r.csv", 3), tmp_path / "ws")
    assert stat.S_IMODE(workspace.directory.stat().st_mode) == 0o700
    for name in ("private-credentials.csv", "registered.csv", "deliveries.jsonl"):
        assert stat.S_IMODE((workspace.directory / name).stat().st_mode) == 0o600
    os.chmod(workspace.directory, 0o755)
    with pytest.raises(AuthorityError, match="chmod 700"):
        Workspace.open(workspace.directory)


def test_an_existing_workspace_is_never_overwritten(tmp_path: Path) -> None:
    source = registered_csv(tmp_path / "r.csv", 3)
    generate_workspace(source, tmp_path / "ws")
    before = (tmp_path / "ws" / "private-credentials.csv").read_bytes()
    with pytest.raises(AuthorityError, match="refusing to overwrite"):
        generate_workspace(source, tmp_path / "ws")
    assert (tmp_path / "ws" / "private-credentials.csv").read_bytes() == before
    (tmp_path / "empty").mkdir(mode=0o755)
    generate_workspace(source, tmp_path / "empty")  # an empty directory is taken, and closed
    assert stat.S_IMODE((tmp_path / "empty").stat().st_mode) == 0o700


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.write_text(p.read_text().replace(HEADER_PREFIX, "# ")), "comment line"),
        (lambda p: p.write_text("\n".join(p.read_text().splitlines()[:-1]) + "\n"), "truncated"),
        (lambda p: p.write_text(p.read_text().replace(",751,", ",751,,")), "fields instead"),
        (lambda p: p.write_text(p.read_text().replace("1000001,", "1000000,")), "appears twice"),
        (lambda p: p.write_text(p.read_text().replace(UUID, "not-base58!")), "uuid"),
    ],
)
def test_a_bad_registered_file_leaves_nothing(tmp_path: Path, change, message: str) -> None:
    source = registered_csv(tmp_path / "r.csv", 4)
    change(source)
    with pytest.raises(AuthorityError, match=message):
        generate_workspace(source, tmp_path / "ws")
    assert not (tmp_path / "ws").exists()


def test_weights_and_languages_are_read(tmp_path: Path) -> None:
    source = registered_csv(tmp_path / "r.csv", 3, weights=[2, 5, 1], languages=["es", "", "EN"])
    workspace = generate_workspace(source, tmp_path / "ws")
    entries = json.loads(workspace.public_path.read_text())["credentials"]
    assert [e["weight"] for e in entries] == [2, 5, 1]
    assert [m.language for m in workspace.registered()] == ["es", "en", "en"]
    mixed = registered_csv(tmp_path / "m.csv", 3, weights=[2, None, 1])  # type: ignore[list-item]
    with pytest.raises(AuthorityError, match="every member has a weight or none"):
        generate_workspace(mixed, tmp_path / "ws2")
    french = registered_csv(tmp_path / "f.csv", 1, languages=["fr"])
    with pytest.raises(AuthorityError, match="language 'fr'"):
        generate_workspace(french, tmp_path / "ws3")


def test_a_pool_of_processes_gives_the_same_kind_of_result(tmp_path: Path) -> None:
    source = registered_csv(tmp_path / "r.csv", 4500)  # three batches over two workers
    workspace = generate_workspace(source, tmp_path / "ws", workers=2)
    members = list(workspace.members())
    entries = json.loads(workspace.public_path.read_text())["credentials"]
    assert [m.card_number for m, _ in members] == [f"10{i:05d}" for i in range(4500)]
    assert len({c.reveal() for _, c in members}) == 4500
    for (_, credential), entry in list(zip(members, entries, strict=True))[::97]:
        assert str(credential.public(UUID).key) == entry["public_credential"]
    assert len({e["public_credential"] for e in entries}) == 4500


def test_the_files_are_written_as_json_and_csv_would(tmp_path: Path) -> None:
    """The workers write the two files' lines; they are what ``csv`` and ``json`` write."""
    source = registered_csv(tmp_path / "r.csv", 4500, weights=[i % 7 + 1 for i in range(4500)])
    source.write_text(source.read_text().replace("\n1000003,", '\n"A,""é \\ z",'))
    workspace = generate_workspace(source, tmp_path / "ws", workers=2)
    members = list(workspace.members())
    assert members[3][0].card_number == 'A,"é \\ z'
    private = io.StringIO()
    writer = csv.writer(private, lineterminator="\n")
    writer.writerow(["card_number", "credential"])
    writer.writerows((m.card_number, c.reveal()) for m, c in members)
    assert workspace.private_path.read_text(encoding="utf-8") == private.getvalue()
    entries = [
        json.dumps(
            {
                "card_number": m.card_number,
                "public_credential": str(c.public(UUID).key),
                "weight": m.weight,
            }
        )
        for m, c in members
    ]
    assert workspace.public_path.read_text(encoding="utf-8") == (
        f'{{"uuid": "{UUID}", "stage": "membership-vote", "credentials": [\n'
        + ",\n".join(entries)
        + "\n]}\n"
    )


def test_digits_in_bulk_are_the_draw_of_system_random_below(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """random_digits keeps and maps bytes exactly as SystemRandomBelow(58) does, a block at a
    time: the same bytes give the same digits, so the bulk draw is as uniform."""
    source = random.Random(5).randbytes(200_000)

    def stream() -> Callable[[int], bytes]:
        position = 0

        def urandom(n: int) -> bytes:
            nonlocal position
            position += n
            return source[position - n : position]

        return urandom

    monkeypatch.setattr(os, "urandom", stream())
    bulk = random_digits(21 * 3000).decode()
    monkeypatch.setattr(os, "urandom", stream())
    rng = SystemRandomBelow()
    assert bulk == "".join(BASE58_ALPHABET[rng(58)] for _ in range(21 * 3000))
    monkeypatch.setattr(os, "urandom", stream())
    made = [private for private, _ in derive_batch(UUID, 3000)]
    monkeypatch.setattr(os, "urandom", stream())
    rng = SystemRandomBelow()
    assert made == [PrivateCredential.generate(rng).reveal() for _ in range(3000)]


def test_derived_pairs_match() -> None:
    for private, public in derive_batch(UUID, 20):
        credential = PrivateCredential.typed(private)
        assert PublicCredential.from_json(public) == credential.public(UUID)


@settings(max_examples=60)
@given(st.integers(min_value=1, max_value=300))
def test_system_random_below_stays_in_range(n: int) -> None:
    rng = SystemRandomBelow()
    assert all(0 <= rng(n) < n for _ in range(200))


def test_system_random_below_is_uniform_on_base58() -> None:
    rng = SystemRandomBelow()
    draws = 58 * 2000
    counts = Counter(rng(58) for _ in range(draws))
    expected = draws / 58
    chi2 = sum((counts[d] - expected) ** 2 / expected for d in range(58))
    # 57 degrees of freedom: above 110 happens with probability about 2e-5 for a fair source;
    # a modulo bias (bytes 232–255 folded onto 0–23) gives about 1,400.
    assert chi2 < 110
    assert "redacted" in repr(rng)


field_text = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=30).map(
    str.strip
)


@settings(max_examples=50)
@given(
    st.lists(
        st.tuples(field_text, field_text, field_text, st.none() | st.integers(1, 2**40)),
        min_size=1,
        max_size=8,
    ),
    st.booleans(),
)
def test_any_member_survives_the_registered_file(
    rows: list[tuple[str, str, str, int | None]], weighted: bool
) -> None:
    members = [
        RegisteredMember(
            card_number=f"C{i}",
            first_name=first,
            last_name=last,
            email=f"m{i}@members.example",
            street=street,
            city="Dayton, Ohio",
            postal_code="45402",
            state="OH",
            country="US",
            local='Lodge "A"',
            weight=(weight or 1) if weighted else None,
        )
        for i, (first, last, street, weight) in enumerate(rows)
    ]
    stream = io.StringIO(newline="")
    stream.write(format_header(RegisteredHeader(UUID, "membership-vote", len(members))) + "\n")
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(COLUMNS)
    for m in members:
        writer.writerow([*(getattr(m, c) for c in COLUMNS[:-1]), m.weight or ""])
    stream.seek(0)
    header, read = read_registered(stream)
    assert header.count == len(members) and list(read) == members
