"""Letters: one page per member with their own credential and address, split into files when
large, readable only by their owner, and logged as ``printed``."""

from __future__ import annotations

import datetime
import json
import re
import stat
import zlib
from pathlib import Path

import pytest
from pdf_text import pdf_pages
from test_workspace import registered_csv

from unionvote.authority import (
    AuthorityError,
    DeliveryEvent,
    DeliveryLog,
    Workspace,
    generate_workspace,
    letters,
    print_letters,
)

AT = datetime.datetime(2024, 4, 3, 8, 0, tzinfo=datetime.UTC)


def page_texts(pdf: bytes) -> list[list[str]]:
    """The strings shown on each page, in the order they are drawn."""
    return pdf_pages(pdf)


def make(tmp_path: Path, count: int, **kwargs: object) -> Workspace:
    source = registered_csv(tmp_path / "r.csv", count, **kwargs)  # type: ignore[arg-type]
    return generate_workspace(source, tmp_path / "ws", vote_url="https://vote.iam.example")


def test_one_page_per_member_with_their_credential_and_address(tmp_path: Path) -> None:
    workspace = make(tmp_path, 4, languages=["en", "es", "en", "es"])
    out = tmp_path / "letters.pdf"
    run = print_letters(workspace, out, compress=False, now=lambda: AT)
    assert run.files == [out] and run.letters == 4
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    pages = page_texts(out.read_bytes())
    members = list(workspace.members())
    assert len(pages) == len(members)
    for (member, credential), texts in zip(members, pages, strict=True):
        assert credential.reveal() in texts  # in one piece, grouped as it is written
        assert member.name in texts and member.street in texts
        assert "Springfield, IL 62704" in texts
        assert "IAM — General membership vote" in texts
        heading = (
            "Su credencial de votaci\xf3n" if member.language == "es" else "Your voting credential"
        )
        assert heading in texts
        others = {c.reveal() for m, c in members if m is not member}
        assert not others & set(texts)
    events = list(DeliveryLog(workspace.deliveries_path).events())
    assert [(e.card_number, e.channel, e.status, e.detail) for e in events] == [
        (m.card_number, "post", "printed", "letters.pdf") for m, _ in members
    ]


def test_compressed_letters_are_a_pdf_with_one_page_per_member(tmp_path: Path) -> None:
    workspace = make(tmp_path, 3)
    run = print_letters(workspace, tmp_path / "letters.pdf", now=lambda: AT)
    content = run.files[0].read_bytes()
    assert content.startswith(b"%PDF-") and b"/Count 3" in content
    streams = re.findall(rb"stream\n(.*?)\nendstream", content, flags=re.DOTALL)
    shown = b"".join(zlib.decompress(s) for s in streams if s.startswith(b"x"))
    assert all(f"({c.reveal()}) Tj".encode() in shown for _, c in workspace.members())


def test_large_runs_are_split_into_numbered_files(tmp_path: Path) -> None:
    workspace = make(tmp_path, 5)
    run = print_letters(
        workspace, tmp_path / "letters.pdf", pages_per_file=2, compress=False, now=lambda: AT
    )
    assert [p.name for p in run.files] == [
        "letters-0001.pdf",
        "letters-0002.pdf",
        "letters-0003.pdf",
    ]
    assert [len(page_texts(p.read_bytes())) for p in run.files] == [2, 2, 1]
    details = [e.detail for e in DeliveryLog(workspace.deliveries_path).events()]
    assert details == ["letters-0001.pdf"] * 2 + ["letters-0002.pdf"] * 2 + ["letters-0003.pdf"]
    with pytest.raises(AuthorityError, match="refusing to overwrite"):
        print_letters(workspace, tmp_path / "letters.pdf", pages_per_file=2)


def test_only_bounced_prints_for_members_email_did_not_reach(tmp_path: Path) -> None:
    source = registered_csv(tmp_path / "r.csv", 4)
    source.write_text(source.read_text().replace("member3@members.example", ""))
    workspace = generate_workspace(source, tmp_path / "ws")
    with DeliveryLog(workspace.deliveries_path) as log:
        log.append(
            DeliveryEvent("1000000", "email", "sent", AT, message_id="<0@a>"),
            DeliveryEvent("1000001", "email", "bounced", AT, detail="550 user unknown"),
            DeliveryEvent("1000002", "email", "sent", AT, message_id="<2@a>"),
            DeliveryEvent("1000002", "email", "bounced", AT, message_id="<2@a>"),
        )
    out = tmp_path / "bounced.pdf"
    run = print_letters(workspace, out, only="bounced", compress=False, now=lambda: AT)
    assert run.letters == 3
    names = [texts[3] for texts in page_texts(out.read_bytes())]
    assert names == ["First1 Last1", "First2 Last2", "First3 Last3"]
    state = DeliveryLog(workspace.deliveries_path).state()
    assert [card for card, s in sorted(state.items()) if s.printed] == [
        "1000001",
        "1000002",
        "1000003",
    ]
    with pytest.raises(AuthorityError, match="--only is one of"):
        print_letters(workspace, tmp_path / "x.pdf", only="some")


NAMES = [
    ("Nguyễn Thị", "Minh Khai"),
    ("Łukasz", "Żółć"),
    ("Γιώργος", "Παπαδόπουλος"),
    ("Дмитрий", "Шостакович"),
    ("Thị", "Nguyễn 李"),
    ("Tab\tin", "Name"),
]


def test_names_in_any_script_are_printed_as_written(tmp_path: Path) -> None:
    source = registered_csv(tmp_path / "r.csv", len(NAMES), languages=["en", "es"] * 3)
    text = source.read_text()
    for i, (first, last) in enumerate(NAMES):
        text = text.replace(f"First{i},Last{i},", f"{first},{last},")
    source.write_text(text.replace("0 Main St", "0 Ulica Świętokrzyska"))
    workspace = generate_workspace(source, tmp_path / "ws", contact="Zoë Ødegård")
    print_letters(workspace, tmp_path / "l.pdf", now=lambda: AT)  # compressed, as printed
    pages = page_texts((tmp_path / "l.pdf").read_bytes())
    shown = [texts[3] for texts in pages]
    assert shown == [
        "Nguyễn Thị Minh Khai",
        "Łukasz Żółć",
        "Γιώργος Παπαδόπουλος",
        "Дмитрий Шостакович",
        "Thị Nguyễn ?",  # DejaVu Sans has no Chinese: a question mark, never an empty box
        "Tab in Name",  # a control character is a space
    ]
    assert "Dear Nguyễn Thị Minh Khai," in pages[0] and "Estimado/a Łukasz Żółć:" in pages[1]
    assert "0 Ulica Świętokrzyska" in pages[0]
    assert any("Zoë Ødegård" in line for line in pages[2])
    assert "Su credencial de votación" in pages[1]


def test_nothing_to_print_writes_nothing(tmp_path: Path) -> None:
    workspace = make(tmp_path, 2)
    run = print_letters(workspace, tmp_path / "none.pdf", only="bounced", now=lambda: AT)
    assert run.files == [] and not (tmp_path / "none.pdf").exists()


def test_two_workers_write_the_same_files_as_one(tmp_path: Path) -> None:
    workspace = make(tmp_path, 23, languages=["en", "es", "en"] * 7 + ["es", "en"])
    runs, logs, seen = {}, {}, {}
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        out.mkdir()
        before = workspace.deliveries_path.read_bytes()
        counts: list[int] = []
        runs[workers] = print_letters(
            workspace,
            out / "letters.pdf",
            pages_per_file=3,
            workers=workers,
            now=lambda: AT,
            progress=counts.append,
        )
        assert counts == sorted(counts) and counts[-1] == 23
        seen[workers] = counts
        logs[workers] = workspace.deliveries_path.read_bytes()[len(before) :]
        workspace.deliveries_path.write_bytes(before)
    one, two = runs[1], runs[2]
    assert [p.name for p in one.files] == [p.name for p in two.files]
    assert len(one.files) == 8 and one.letters == two.letters == 23
    for a, b in zip(one.files, two.files, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name  # the creation date is the run's start
        assert stat.S_IMODE(b.stat().st_mode) == 0o600
    assert not [p for p in (tmp_path / "w2").iterdir() if p.name.endswith(".partial")]
    pages = [page for path in two.files for page in page_texts(path.read_bytes())]
    members = list(workspace.members())
    assert [page[3] for page in pages] == [m.name for m, _ in members]
    assert [c.reveal() for _, c in members] == [page[11] for page in pages]
    # one event per member either way, each naming the file that holds their letter
    # (two workers log each file as it is written, so the files may come in another order)
    events = {
        workers: sorted(
            (event["card_number"], event["detail"])
            for event in map(json.loads, log.decode().splitlines())
        )
        for workers, log in logs.items()
    }
    assert events[1] == events[2]
    assert {detail for _, detail in events[2]} == {p.name for p in two.files}


def test_a_failing_file_stops_the_run_with_the_error(tmp_path: Path) -> None:
    workspace = make(tmp_path, 6)
    with pytest.raises(AuthorityError, match="do not fit on one page"):
        print_letters(
            workspace,
            tmp_path / "letters.pdf",
            contact="the election officer " * 40,
            pages_per_file=2,
            workers=2,
            now=lambda: AT,
        )
    assert list(tmp_path.glob("*letters*")) == []
    assert list(DeliveryLog(workspace.deliveries_path).events()) == []
    with pytest.raises(AuthorityError, match="at least 1"):
        print_letters(workspace, tmp_path / "letters.pdf", workers=0)


def test_remembered_encodings_change_no_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The letters remember how each string is encoded in the embedded fonts (a third of the
    cost); fpdf2 encoding every string afresh writes the very same files."""
    workspace = make(tmp_path, 7, languages=["en", "es", "es", "en", "en", "es", "en"])
    fast = print_letters(workspace, tmp_path / "fast.pdf", pages_per_file=4, now=lambda: AT)
    settings = letters._Settings(workspace.info, "", "2024-04-03", AT, True)
    document = letters._document(settings)
    assert {type(font).__name__ for font in document.fonts.values()} == {"RememberingTTFFont"}
    letters._close(document)
    monkeypatch.setattr(letters, "_remember_encodings", lambda pdf: None)
    plain = print_letters(workspace, tmp_path / "plain.pdf", pages_per_file=4, now=lambda: AT)
    assert len(fast.files) == len(plain.files) == 2
    for a, b in zip(fast.files, plain.files, strict=True):
        assert a.read_bytes() == b.read_bytes()
