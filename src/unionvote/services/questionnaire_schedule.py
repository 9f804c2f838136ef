"""The questionnaire's daily work without cron: ``unionvote serve --send-reminders``.

``unionvote questionnaire remind`` is meant to run once a day. A site with no scheduler of its
own can let the web server do it: :class:`ReminderScheduler` runs in a background thread,
wakes on every whole hour (UTC) and, for each questionnaire:

- **reminders**, once a day, on the first wake at or after the configured hour in the
  questionnaire's own zone (the offset of its due date), and once at start-up (the catch-up
  after a stop): :func:`do_send_reminders`, the very function the ``remind`` command runs. It
  is idempotent — a campaign is reminded at most once per reminder day, and a run after
  several missed reminder days sends one reminder — so an extra run (a restart, two servers)
  sends nothing twice. It is called only between the first reminder day and the due date.
- **no response by the due date**, on the first wake after the due date (within the hour):
  :func:`do_mark_no_response` records it for each campaign that neither submitted nor
  declined, dated by the due date itself. It does not close the questionnaire (the committee
  still may move the due date by a new version, or close it).

Each run is in the audit log as the services record it (actor ``scheduler``), and in the
server's log as counts only: no address, no link, no token. A failure (the mail server down, a
database hiccup) is logged and tried again on the next wake; the thread never dies of it.
"""

from __future__ import annotations

import datetime
import logging
import threading
from dataclasses import dataclass
from typing import Final

from unionvote.errors import UnionVoteError
from unionvote.mail import Mailer
from unionvote.services.context import Services
from unionvote.services.questionnaire import (
    QuestionnaireSummary,
    SendReport,
    do_mark_no_response,
    do_send_reminders,
    questionnaires,
)

__all__ = ["ACTOR", "ReminderScheduler", "ScheduledRun"]

ACTOR: Final = "scheduler"
log = logging.getLogger("unionvote.questionnaire.scheduler")


@dataclass(frozen=True)
class ScheduledRun:
    """What one wake did for one questionnaire."""

    key: str
    reminders: SendReport | None = None  # None: no reminder run this time
    no_response: tuple[str, ...] = ()  # campaigns recorded as not responding
    error: str = ""  # why the run failed (tried again on the next wake)


class ReminderScheduler:
    """Runs the questionnaires' reminders and due-date records on the services' clock.

    :meth:`run_due` does one wake's work and is what the tests call, with a fixed clock;
    :meth:`start` runs it in a daemon thread: once at once (``startup``: the catch-up), then
    on every whole hour until :meth:`stop`."""

    def __init__(self, services: Services, mailer: Mailer, *, base_url: str, hour: int) -> None:
        if not 0 <= hour <= 23:
            raise UnionVoteError(f"the reminders' hour must be 0 to 23, not {hour}")
        self.services = services.acting_as(ACTOR)
        self.mailer = mailer
        self.base_url = base_url
        self.hour = hour
        self._reminded_on: dict[str, datetime.date] = {}  # key → local day of the last run
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one wake -------------------------------------------------------------------------

    def run_due(self, *, startup: bool = False) -> tuple[ScheduledRun, ...]:
        """Do what is due now for every questionnaire; ``startup``: run the reminders whatever
        the hour (the catch-up after the server was stopped)."""
        now = self.services.clock.now()
        runs = []
        for summary in questionnaires(self.services):
            run = self._run_one(summary, now, startup=startup)
            if run is not None:
                runs.append(run)
        return tuple(runs)

    def _run_one(
        self, q: QuestionnaireSummary, now: datetime.datetime, *, startup: bool
    ) -> ScheduledRun | None:
        if q.closed_at is not None:
            return None
        try:
            if now >= q.due_at:
                missing = do_mark_no_response(self.services, q.key)
                if not missing:
                    return None
                log.info(
                    "questionnaire %s: no response by the due date recorded for %d campaign(s)",
                    q.key,
                    len(missing),
                )
                return ScheduledRun(q.key, no_response=missing)
            if not self._reminders_due(q, now, startup=startup):
                return None
            report = do_send_reminders(self.services, q.key, self.mailer, base_url=self.base_url)
        except Exception as error:  # noqa: BLE001 - logged, tried again on the next wake
            log.warning("questionnaire %s: the scheduled run failed: %s", q.key, error)
            return ScheduledRun(q.key, error=str(error))
        log.info(
            "questionnaire %s: reminders sent %d, bounced %d, not sent (temporary) %d, "
            "campaigns left out %d",
            q.key,
            report.sent,
            report.bounced,
            report.failed,
            report.skipped,
        )
        return ScheduledRun(q.key, reminders=report)

    def _reminders_due(
        self, q: QuestionnaireSummary, now: datetime.datetime, *, startup: bool
    ) -> bool:
        """Whether to run the reminders now: a reminder day has come, and it is the first
        wake at or after the hour today (in the questionnaire's zone), or the start-up."""
        if not any(at <= now for at in q.reminder_times):
            return False
        local = now.astimezone(q.zone)
        at_hour = local.hour >= self.hour
        if not startup and (not at_hour or self._reminded_on.get(q.key) == local.date()):
            return False
        if at_hour:
            # Before the hour, the start-up run leaves today's run at the hour to come.
            self._reminded_on[q.key] = local.date()
        return True

    # -- the thread -----------------------------------------------------------------------

    @staticmethod
    def next_wake(now: datetime.datetime) -> datetime.datetime:
        """The next whole hour (UTC) after ``now``."""
        hour = now.astimezone(datetime.UTC).replace(minute=0, second=0, microsecond=0)
        return hour + datetime.timedelta(hours=1)

    def start(self) -> None:
        """Run in a daemon thread: the start-up catch-up at once, then every whole hour."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, name="questionnaire-reminders", daemon=True
        )
        self._thread.start()
        log.info(
            "questionnaire reminders: daily at %02d:00 in each questionnaire's zone",
            self.hour,
        )

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread (after the run under way, if any)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        self._safe_run(startup=True)
        while True:
            now = self.services.clock.now()
            wait = (self.next_wake(now) - now).total_seconds()
            if self._stop.wait(max(wait, 1.0)):
                return
            self._safe_run(startup=False)

    def _safe_run(self, *, startup: bool) -> None:
        try:
            self.run_due(startup=startup)
        except Exception as error:  # noqa: BLE001 - the thread must outlive a failed wake
            log.warning("questionnaire reminders: the scheduled run failed: %s", error)
