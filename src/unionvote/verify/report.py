"""The verifier's report: every named check, how many items it covered, and what failed.

Check names are stable (tests, scripts and observers key on them); ``CHECKS`` lists them in
the order they are made, each with what it establishes when it passes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["CHECKS", "CheckResult", "Failure", "Report"]

CHECKS: Final[dict[str, str]] = {
    "archive": "the archive is a Belenios .bel tar: header, entry names, content hashes",
    "archive.chain": "every event names the previous one as its parent, heights count up",
    "setup.election": "the election entry is canonical, group Ed25519, questions well formed",
    "setup.trustees": "every trustee key is proven (proof of knowledge, threshold parameters)",
    "setup.public_key": "the election key is the product of the trustees' keys",
    "setup.credentials": "the public credentials are valid points, distinct, weights consistent",
    "ballot.canonical": "each ballot is canonical JSON of the specification's shape",
    "ballot.election": "each ballot names this election (uuid and fingerprint φ)",
    "ballot.shape": "each ballot answers every question with the right number of choices",
    "ballot.duplicate": "no ballot appears twice in the record (a replay)",
    "ballot.credential": "each ballot's credential is on the public list",
    "ballot.signature": "each ballot is signed with its credential over its own content",
    "ballot.individual_proof": "each encrypted choice is proven to be 0 or 1",
    "ballot.overall_proof": "each answer's number of choices is proven within [min, max]",
    "ballot.blank_proof": "each answer is proven blank or not blank, never both",
    "tally.encrypted": "the encrypted tally is the product of the last ballot of each voter",
    "tally.count": "the number of ballots and total weight counted are right",
    "decryption.owner": "each partial decryption is by a trustee of this election, once",
    "decryption.proof": "each decryption factor is proven against its trustee's key",
    "decryption.missing": "enough trustees decrypted (every Single, a threshold of each group)",
    "result.counts": "the published counts are the decryption of the encrypted tally",
    # The stage's published files beside the record (verify/sidecars.py), when there are any.
    "published.manifest": "manifest.json lists every published file and the record, hashes right",
    "subtallies.election": "subtallies.json names this election (uuid and fingerprint φ)",
    "subtallies.coverage": "every counted ballot is in exactly one aggregate of each dimension",
    "subtallies.encrypted": "each aggregate's encrypted tally is the product of its ballots",
    "subtallies.size": "each aggregate has its ballot count and at least the minimum group size",
    "subtallies.decryption": "each aggregate's partial decryptions are proven, enough trustees",
    "subtallies.result": "each aggregate's counts are the decryption of its encrypted tally",
    "subtallies.sum": "each dimension's counts add up to the record's result",
    "report.json": "report.json is the report rebuilt from the record and the published files",
    "report.text": "report.txt and report.html are the rebuilt report's text and page",
    "council.link": "council.json's candidates and hashes match the earlier stage's files",
    "decision.result": "decision.json is the process's decision rule applied to the result",
    "endorsement.links": "endorsement.json's links and decision match the published files",
}


@dataclass(frozen=True, slots=True)
class Failure:
    check: str
    detail: str
    entry: str | None = None

    def line(self) -> str:
        where = f" [{self.entry}]" if self.entry else ""
        return f"{self.check}{where}: {self.detail}"


@dataclass(slots=True)
class CheckResult:
    name: str
    checked: int = 0
    failures: list[Failure] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass(slots=True)
class Report:
    """What one verification found. ``ok`` only when every check passed and nothing stopped
    the verification early."""

    record: str
    checks: dict[str, CheckResult] = field(default_factory=dict)
    election: dict[str, Any] = field(default_factory=dict)
    ballots_checked: int = 0
    ballots_counted: int = 0
    phase: str = "setup"
    stopped: Failure | None = None
    result: list[list[int]] | None = None
    not_applicable: dict[str, str] = field(default_factory=dict)
    #: Which group arithmetic checked the proofs: "libdecaf" (fast) or "libsodium" (plain).
    arithmetic: str = ""

    def _get(self, name: str) -> CheckResult:
        self.not_applicable.pop(name, None)
        if name not in self.checks:
            self.checks[name] = CheckResult(name)
        return self.checks[name]

    def passed(self, name: str, count: int = 1) -> None:
        self._get(name).checked += count

    def failed(self, name: str, detail: str, entry: str | None = None) -> None:
        result = self._get(name)
        result.checked += 1
        result.failures.append(Failure(name, detail, entry))

    def stop(self, name: str, detail: str, entry: str | None = None) -> None:
        """A failure after which nothing further can be checked (a broken archive)."""
        self.failed(name, detail, entry)
        self.stopped = Failure(name, detail, entry)

    def skip(self, name: str, reason: str) -> None:
        """A check that does not apply to this record (say why): listed, never counted as
        passed."""
        if name not in self.checks:
            self.not_applicable[name] = reason

    @property
    def failures(self) -> list[Failure]:
        return [f for c in self.checks.values() for f in c.failures]

    @property
    def ok(self) -> bool:
        return self.stopped is None and not self.failures

    def verdict(self) -> str:
        """The one-line verdict: how many ballots were checked and what failed."""
        ballots = f"{self.ballots_checked} ballot{'s' if self.ballots_checked != 1 else ''}"
        skipped = len(self.not_applicable)
        if self.ok:
            return (
                f"unionvote verify: PASS: {ballots} checked, {self.ballots_counted} counted, "
                f"all {len(self.checks)} checks passed ({self.phase})"
                + (f"; {skipped} not applicable" if skipped else "")
                + self._arithmetic_note()
            )
        failed = [c for c in self.checks.values() if not c.passed]
        names = ", ".join(f"{c.name} ({len(c.failures)})" for c in failed)
        stopped = "; verification stopped early" if self.stopped else ""
        return (
            f"unionvote verify: FAIL: {ballots} checked; failed: {names}{stopped}"
            + self._arithmetic_note()
        )

    def _arithmetic_note(self) -> str:
        return f"; proofs checked with {self.arithmetic}" if self.arithmetic else ""

    def to_json(self) -> dict[str, Any]:
        return {
            "record": self.record,
            "ok": self.ok,
            "phase": self.phase,
            "election": self.election,
            "ballots_checked": self.ballots_checked,
            "ballots_counted": self.ballots_counted,
            "result": self.result,
            "arithmetic": self.arithmetic,
            "checks": [
                {
                    "name": c.name,
                    "passed": c.passed,
                    "checked": c.checked,
                    "failures": [{"detail": f.detail, "entry": f.entry} for f in c.failures],
                }
                for c in self.checks.values()
            ],
            "not_applicable": [
                {"name": name, "reason": reason} for name, reason in self.not_applicable.items()
            ],
            "verdict": self.verdict(),
        }
