"""Cast-or-audit in Debian's Chromium: "Check the encryption" shows and offers to download the
audited ballot; Python's ``unionvote check-audited-ballot``, independent of the browser's code,
confirms that it encrypts the candidate the member chose; the audited ballot was never cast
(the board is unchanged), and the member then casts a fresh ballot."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))

from browser_support import (
    VotingSite,
    cast,
    check_the_encryption,
    choose,
    chromium,
    on_board,
    page,
    review,
    screenshots,
    sign_in,
    voting_site,
)
from cli_process_support import Person

__all__ = ["chromium", "page", "voting_site"]

pytestmark = pytest.mark.slow


def _status(site: VotingSite) -> dict[str, Any]:
    answer = httpx.get(site.path("/api/stages/{stage}/status"), timeout=30)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_check_the_encryption(voting_site: VotingSite, page: Any, tmp_path: Path) -> None:
    site = voting_site
    member = site.take_member()
    chosen = site.candidate("Vivek Ramaswamy")
    sign_in(page, site, member)
    choose(page, member, chosen)
    review(page)
    before = _status(site)
    board_before = httpx.get(site.path("/stages/{stage}/board"), timeout=30).text

    check_the_encryption(page)
    page.get_by_text("This ballot was not cast.").wait_for()
    shown = page.locator("#step-audit").inner_text()
    assert chosen.name in shown and chosen.party in shown, shown
    audited_tracker = page.locator("#audit-tracker").inner_text().strip()
    assert audited_tracker
    screenshots(page, "booth-audit")
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download the checked ballot (JSON)").click()
    audited = tmp_path / "audited-ballot.json"
    downloading.value.save_as(audited)
    json.loads(audited.read_text(encoding="utf-8"))  # a JSON document

    # Anyone checks it with the Python implementation, which shares no code with the booth's.
    observer = Person("observer", tmp_path / "observer")
    checked = observer.run("check-audited-ballot", audited)
    assert "OK: the ballot is valid and encrypts exactly these answers" in checked
    assert chosen.name in checked
    others = [c.name for c in site.candidates if c.name != chosen.name]
    assert not [name for name in others if name in checked], checked
    assert f"Tracker: {audited_tracker}" in checked

    # Claiming another answer is caught: the revealed randomness opens the real one only.
    forged = _claim_another_answer(json.loads(audited.read_text(encoding="utf-8")))
    if forged is not None:
        lie = tmp_path / "forged.json"
        lie.write_text(json.dumps(forged), encoding="utf-8")
        refused = observer.run("check-audited-ballot", lie, code=1)
        assert "error" in refused.lower()

    # The audited ballot was not cast: the board is as it was, and its tracker is not on it.
    assert _status(site)["ballots_received"] == before["ballots_received"]
    assert audited_tracker not in httpx.get(site.path("/stages/{stage}/board"), timeout=30).text
    assert on_board(site, audited_tracker).get("state") in ("not-found", "not_found", None)
    assert board_before.count("<li") == httpx.get(
        site.path("/stages/{stage}/board"), timeout=30
    ).text.count("<li")

    # Back to the choice: casting makes a fresh ballot (fresh randomness, another tracker).
    page.get_by_role("button", name="Back to my choice").click()
    fresh = cast(page)
    assert fresh.tracker != audited_tracker
    assert _status(site)["ballots_received"] == before["ballots_received"] + 1


def _claim_another_answer(audited: dict[str, Any]) -> dict[str, Any] | None:
    """The audited ballot with its claimed answers moved to the next choice (its proofs and
    randomness untouched), or None when the file keeps no claimed answers."""
    for key in ("answers", "choices", "plaintexts"):
        claimed = audited.get(key)
        if isinstance(claimed, list) and claimed and isinstance(claimed[0], list):
            row = claimed[0]
            if row and all(bit in (0, 1) for bit in row):
                audited[key] = [row[-1:] + row[:-1], *claimed[1:]]
                return audited
    return None
