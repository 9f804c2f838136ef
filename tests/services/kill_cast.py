"""Casts ballots one after another for the crash test (``test_elections_crash.py``).

Usage: ``python kill_cast.py DATABASE_URL STAGE BALLOTS_FILE NOW``: one ballot per line of
BALLOTS_FILE, cast with the clock at NOW (ISO 8601). Each ballot's tracker is printed (and
flushed) only once ``do_cast`` has returned, i.e. after its commit: that is the moment a voter
is shown the receipt. The test kills this process with SIGKILL in the middle of the run.
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

from unionvote.services.context import FixedClock, Services
from unionvote.services.elections import do_cast
from unionvote.storage.database import Database


def main(argv: list[str]) -> None:
    url, stage, ballots, now = argv[1:5]
    services = Services(Database(url), FixedClock(datetime.datetime.fromisoformat(now)))
    with Path(ballots).open("rb") as lines:
        for line in lines:
            receipt = do_cast(services, stage, line.rstrip(b"\n"))
            sys.stdout.write(receipt.tracker + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv)
