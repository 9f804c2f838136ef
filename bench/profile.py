"""Where ``unionvote verify``'s time goes: cProfile over ``verify_record``, grouped.

    python -m bench.profile RECORD.bel [--cpu 0]

Each function's own time (``tottime``) is put in one bucket — a libsodium primitive, PyNaCl's
Python wrappers around them, hashing, JSON, the archive reader, the rest of unionvote — and
the calls per ballot of each libsodium primitive are counted. cProfile adds its own overhead
to every Python call, so the Python buckets are somewhat inflated relative to a plain run.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
from dataclasses import dataclass
from pathlib import Path

from unionvote.verify.record import verify_record

__all__ = ["Bucket", "profile_verify"]

_SODIUM = {
    "crypto_scalarmult_ed25519_noclamp": "libsodium: variable-base scalar mult (x^k)",
    "crypto_scalarmult_ed25519_base_noclamp": "libsodium: fixed-base scalar mult (g^k)",
    "crypto_core_ed25519_add": "libsodium: point add (a·b)",
    "crypto_core_ed25519_sub": "libsodium: point sub (a/b)",
    "crypto_core_ed25519_is_valid_point": "libsodium: point validation (subgroup check)",
}


@dataclass
class Bucket:
    name: str
    seconds: float
    calls: int = 0


def _bucket(filename: str, function: str) -> str:
    for name, label in _SODIUM.items():
        if function == f"<built-in method _sodium.{name}>":
            return label
    if "/nacl/" in filename:
        return "PyNaCl's Python wrappers (argument checks, cffi buffers)"
    if "_hashlib" in function or "sha256" in function or "hashlib" in filename:
        return "SHA-256 (hashlib)"
    if "/json/" in filename or "_json" in function or "json" in function:
        return "JSON (json module)"
    if filename.endswith("record/archive.py"):
        return "unionvote: archive reader (tar, chain)"
    if "/unionvote/crypto/" in filename:
        return "unionvote: crypto Python (proof logic, group wrapper, parsing scalars)"
    if "/unionvote/" in filename:
        return "unionvote: record/verify Python (messages, ballots, report)"
    return "other (interpreter built-ins, int arithmetic, str formatting, …)"


def profile_verify(record: Path, ballots: int) -> tuple[list[Bucket], float, bool]:
    """Profile one ``verify_record``; the buckets (slowest first), the total, and the verdict."""
    profiler = cProfile.Profile()
    profiler.enable()
    report = verify_record(record)
    profiler.disable()
    stats = pstats.Stats(profiler)
    buckets: dict[str, Bucket] = {}
    total = 0.0
    raw = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, function), (_cc, ncalls, tottime, _ct, _callers) in raw.items():
        name = _bucket(filename, function)
        bucket = buckets.setdefault(name, Bucket(name, 0.0))
        bucket.seconds += tottime
        if name.startswith("libsodium"):
            bucket.calls += ncalls
        total += tottime
    ordered = sorted(buckets.values(), key=lambda b: -b.seconds)
    return ordered, total, report.ok


def format_profile(buckets: list[Bucket], total: float, ballots: int) -> list[str]:
    lines = [
        "| where | s | % | per ballot |",
        "|---|---:|---:|---|",
    ]
    for b in buckets:
        if b.seconds < 0.005 * total:
            continue
        per = f"{b.seconds / ballots * 1000:.2f} ms"
        if b.calls:
            per += f", {b.calls / ballots:.1f} calls ({b.seconds / b.calls * 1e6:.0f} µs each)"
        lines.append(f"| {b.name} | {b.seconds:.2f} | {100 * b.seconds / total:.0f} | {per} |")
    per_ballot = total / ballots * 1000
    lines.append(f"| total (under cProfile) | {total:.2f} | 100 | {per_ballot:.2f} ms |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("record", type=Path)
    parser.add_argument("--cpu", type=int, default=None)
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    ballots = 0
    from unionvote.record.archive import ArchiveReader

    with ArchiveReader.open(args.record) as reader:
        ballots = sum(1 for e in reader.iter_events() if e.event.type == "Ballot")
    buckets, total, ok = profile_verify(args.record, max(ballots, 1))
    print(f"unionvote verify {'PASS' if ok else 'FAIL'} on {ballots} ballots")
    print("\n".join(format_profile(buckets, total, max(ballots, 1))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
