"""The server never receives nor logs a private credential or a plaintext choice: every request
the browser sends while a member signs in, votes, votes again and checks the encryption is
recorded (URL, headers, body), and so is everything the server printed."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))

from browser_support import (
    Candidate,
    Member,
    VotingSite,
    cast,
    check_the_encryption,
    choose,
    chromium,
    new_page,
    review,
    say,
    sign_in,
    voting_site,
)

__all__ = ["chromium", "voting_site"]

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Sent:
    method: str
    url: str
    navigation: bool
    headers: dict[str, str]
    body: bytes


def _record(page: Any) -> list[Sent]:
    sent: list[Sent] = []

    def keep(request: Any) -> None:
        sent.append(
            Sent(
                request.method,
                request.url,
                request.is_navigation_request(),
                request.all_headers(),
                request.post_data_buffer or b"",
            )
        )

    page.on("request", keep)
    return sent


def _credential_forms(credential: str) -> list[str]:
    bare = credential.replace("-", "")
    return list(
        dict.fromkeys([credential, bare, quote(credential), bare.lower(), credential.lower()])
    )


def _choice_forms(site: VotingSite, candidate: Candidate) -> list[str]:
    """How a plaintext choice could travel: the name (as is and URL-encoded), the answers as
    the protocol writes them (one list per question, 0/1 per choice), the index."""
    size = len(site.candidates)
    bits = [1 if i == candidate.index else 0 for i in range(size)]
    return [
        candidate.name,
        quote(candidate.name),
        quote_plus(candidate.name),
        json.dumps([bits]),
        json.dumps([bits], separators=(",", ":")),
        json.dumps(bits, separators=(",", ":")),
        f'"choice":{candidate.index}',
        f'"answers":[[{candidate.index}]]',
    ]


def _leaks(sent: list[Sent], forms: list[str], *, bodies_only: bool = False) -> list[str]:
    found = []
    for request in sent:
        body = request.body.decode("utf-8", errors="replace")
        places = {"body": body}
        if not bodies_only:
            places["url"] = request.url
            places["headers"] = json.dumps(request.headers)
        for where, text in places.items():
            for form in forms:
                if form in text:
                    found.append(f"{request.method} {request.url} — {form!r} in its {where}")
    return found


def test_no_credential_and_no_choice_reaches_the_server(
    voting_site: VotingSite, chromium: Any
) -> None:
    site = voting_site
    member: Member = site.take_member()
    first, second, audited = (
        site.candidate(n) for n in ("Marianne Williamson", "Asa Hutchinson", "Mike Pence")
    )
    page = new_page(chromium)
    sent = _record(page)
    try:
        sign_in(page, site, member)
        choose(page, member, first)
        review(page)
        one = cast(page)
        page.goto(site.path("/vote/{stage}/ballot"))
        choose(page, member, second)
        review(page)
        two = cast(page)
        assert say("en", "This vote replaces your earlier one") in two.text
        # The cast-or-audit path: the audited ballot is never cast.
        page.goto(site.path("/vote/{stage}/ballot"))
        choose(page, member, audited)
        review(page)
        check_the_encryption(page)
        page.wait_for_load_state("networkidle")
    finally:
        page.context.close()

    posts = [r for r in sent if r.method == "POST"]
    assert any("/api/stages/" in r.url and r.url.endswith("/ballots") for r in posts), (
        "the test saw no ballot sent: " + "\n".join(f"{r.method} {r.url}" for r in sent)
    )
    assert one.tracker != two.tracker

    leaked = _leaks(sent, _credential_forms(member.credential))
    assert not leaked, "the private credential reached the server:\n" + "\n".join(leaked)
    for candidate in (first, second, audited):
        leaked = _leaks(sent, _choice_forms(site, candidate))
        assert not leaked, "a plaintext choice reached the server:\n" + "\n".join(leaked)

    # The audited ballot was not sent to be cast: only the two cast ballots were posted.
    ballots = [r for r in posts if r.url.endswith("/ballots")]
    assert len(ballots) == 2, [r.url for r in ballots]

    # The server's database (and its journal) holds neither the credential nor a choice list.
    files = [site.database_path, site.database_path.with_name(site.database_path.name + "-wal")]
    stored = b"".join(path.read_bytes() for path in files if path.exists())
    for form in _credential_forms(member.credential):
        assert form.encode() not in stored, "the server's database holds the private credential"

    # The server's own output (uvicorn's access log, the app's log) holds neither.
    log = site.log_text()
    assert log.strip(), "the server printed nothing at all: is its log captured?"
    for form in _credential_forms(member.credential):
        assert form not in log, "the server's log shows the private credential"
    for candidate in (first, second, audited):
        assert candidate.name not in log, f"the server's log names {candidate.name}"
    assert not re.search(r"\[\[[01](, ?[01]){5,}\]\]", log), "the server logged a choice list"
