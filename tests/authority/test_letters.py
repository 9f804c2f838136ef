"""Letters: one page per member with their own credential and address, split into files when
large, readable only by their owner, and logged as ``printed``."""

from __future__ import annotations

import datetime
import re
import stat
import zlib
from pathlib import Path

import pytest
from test_workspace import registered_csv

from unionvote.authority import (
    AuthorityError,
    DeliveryEvent,
    DeliveryLog,
    Workspace,
    generate_workspace,
    print_letters,
)

AT = datetime.datetime(2024, 4, 3, 8, 0, tzinfo=datetime.UTC)


def page_texts(pdf: bytes) -> list[list[str]]:
    """The text shown on each page, from an uncompressed PDF's content streams in order."""
    assert pdf.startswith(b"%PDF-")
    streams = re.findall(rb"stream\n(.*?)\nendstream", pdf, flags=re.DOTALL)
    pages = [s for s in streams if b" Tj" in s]
    count = re.search(rb"/Count (\d+)", pdf)  # the page tree: no outline here
    assert count is not None and int(count.group(1)) == len(pages)
    return [[t.decode("latin-1") for t in re.findall(rb"\((.*?)\) Tj", page)] for page in pages]


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
        assert any("IAM - General membership vote" in t for t in texts)
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


def test_letters_outside_latin1_are_printed_without_accents(tmp_path: Path) -> None:
    source = registered_csv(tmp_path / "r.csv", 1)
    source.write_text(source.read_text().replace("First0,Last0", "Thị,Nguyễn 李"))
    workspace = generate_workspace(source, tmp_path / "ws")
    print_letters(workspace, tmp_path / "l.pdf", compress=False, now=lambda: AT)
    [texts] = page_texts((tmp_path / "l.pdf").read_bytes())
    assert "Thi Nguyen ?" in texts


def test_nothing_to_print_writes_nothing(tmp_path: Path) -> None:
    workspace = make(tmp_path, 2)
    run = print_letters(workspace, tmp_path / "none.pdf", only="bounced", now=lambda: AT)
    assert run.files == [] and not (tmp_path / "none.pdf").exists()
