"""The election committee's pages (observers see them read-only): the dashboard, a stage at a
glance with turnout by state as aggregates, the who-has-voted list under the stage's policy,
and the committee's actions: opening and closing registration, finishing the key ceremony,
setting up and opening the election, closing, tallying, computing the result, publishing,
setting the policy.

Each action is one ``do_*`` service call made as ``staff:<username>``, so the audit log names
who acted; the page then says in plain words what was done, or why it was not.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import APIRouter, Form, Query
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from unionvote.domain.errors import DomainError
from unionvote.errors import UnionVoteError
from unionvote.services.board import public_stages
from unionvote.services.committee import ceremony_overview, do_open_election, stage_overview
from unionvote.services.context import Services
from unionvote.services.elections import do_close, do_compute_result, do_tally
from unionvote.services.process import stage_row
from unionvote.services.registration import do_close_registration, do_open_registration
from unionvote.services.report import do_publish_report
from unionvote.services.staff import Role, StaffIdentity
from unionvote.services.trustees import CeremonyStatus, do_finish_ceremony
from unionvote.services.turnout import NO_STATE, OTHER_STATES, Bucket, Turnout, turnout
from unionvote.services.voters import (
    Policy,
    VotersWithheld,
    do_set_voter_list_policy,
    voter_list,
    voter_list_policy,
)
from unionvote.web import auth
from unionvote.web.auth import AnyStaff, CommitteeMember, StaffViewer
from unionvote.web.deps import ServicesDep
from unionvote.web.i18n import gettext as _
from unionvote.web.pages import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
router.include_router(auth.router)

_NOTICE_KEY: Final = "staff_notice"


def _notices() -> dict[str, str]:
    return {
        "close": _("Voting is closed. No ballot is accepted any more."),
        "tally": _("The encrypted tally is computed. The trustees can now decrypt it."),
        "result": _("The result is computed from the trustees' decryptions and is in the record."),
        "publish": _("The report is published."),
        "policy-withheld": _("Who has voted is now withheld from everyone."),
        "policy-equal-access": _("Who has voted is now given to every side alike."),
        "open-registration": _("Registration is open for the window you set."),
        "close-registration": _(
            "Registration is closed: the electorate is final and published. Next, the "
            "credential authority makes the members' credentials."
        ),
        "finish-ceremony": _(
            "The key ceremony is finished: the trustee list is fixed. Each trustee now records "
            "it in their state file."
        ),
        "open-election": _("The election is set up and open for voting in the window you set."),
    }


_PREPARING: Final = ("draft", "registration", "registration-closed", "credentials")
_DEFAULT_LENGTH: Final = datetime.timedelta(days=14)
_MINUTE_FORMAT: Final = "%Y-%m-%dT%H:%M"


def _ready_to_finish(ceremony: CeremonyStatus) -> bool:
    """Every trustee's messages are in (the committee may finish) and it is not finished."""
    if ceremony.finished or not any(t.kind == "server" for t in ceremony.trustees):
        return False
    return all(
        (
            "key" in t.done
            if t.kind == "single"
            else len(t.done) == 3
            if t.kind == "pedersen"
            else True
        )
        for t in ceremony.trustees
    )


def _window(
    now: datetime.datetime, opens: datetime.datetime | None, closes: datetime.datetime | None
) -> tuple[str, str]:
    """The form's default window (UTC, to the minute): the planned one if it is still ahead,
    else from now for two weeks."""
    if opens is None or closes is None or closes <= now:
        opens, closes = now, now + _DEFAULT_LENGTH
    return opens.strftime(_MINUTE_FORMAT), closes.strftime(_MINUTE_FORMAT)


def _when(text: str, what: str) -> datetime.datetime:
    """A date and time from the form (``datetime-local``, in UTC), or a plain refusal."""
    try:
        value = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise DomainError(
            "form.time",
            _("%(what)s is not a date and time like 2024-06-01T09:00.") % {"what": what},
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return value.astimezone(datetime.UTC)


def _group_label(label: str) -> str:
    if label == OTHER_STATES:
        return _("Other states together")
    if label == NO_STATE:
        return _("No state on the roll")
    return label


@dataclass(frozen=True)
class _Bar:
    label: str
    count: int
    y: int
    width: int


def _chart(result: Turnout) -> tuple[list[_Bar], int]:
    """Horizontal bars, one per period: members who first voted then (all groups)."""
    counts = result.per_period
    top = max(counts, default=0) or 1
    fmt = "%Y-%m-%d %H:%M" if result.bucket == "hour" else "%Y-%m-%d"
    bars = [
        _Bar(period.strftime(fmt), count, 8 + 28 * i, round(400 * count / top))
        for i, (period, count) in enumerate(zip(result.periods, counts, strict=True))
    ]
    return bars, 16 + 28 * len(bars)


def _stage_page(
    request: Request,
    services: Services,
    identity: StaffIdentity,
    stage: str,
    *,
    bucket: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    overview = stage_overview(services, stage)
    chosen: Bucket | None = "hour" if bucket == "hour" else "day" if bucket == "day" else None
    result = turnout(services, stage, bucket=chosen)
    bars, chart_height = _chart(result)
    notice = request.session.pop(_NOTICE_KEY, None)
    preparing = overview.status in _PREPARING
    ceremony = ceremony_overview(services, stage) if preparing else None
    now = services.clock.now()
    return render(
        request,
        "committee/stage.html",
        {
            "identity": identity,
            "can_act": identity.role is Role.COMMITTEE,
            "overview": overview,
            "turnout": result,
            "group_label": _group_label,
            "bars": bars,
            "chart_height": chart_height,
            "policy": voter_list_policy(services, stage),
            "preparing": preparing,
            "ceremony": ceremony,
            "ready_to_finish": ceremony is not None and _ready_to_finish(ceremony),
            "registration_window": _window(
                now, overview.registration.opens_at, overview.registration.closes_at
            ),
            "voting_window": _window(now, *_planned_voting(services, stage)),
            "notice": _notices().get(notice) if isinstance(notice, str) else None,
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/committee")
def dashboard(request: Request, services: ServicesDep, identity: StaffViewer) -> Response:
    return render(
        request,
        "committee/dashboard.html",
        {
            "identity": identity,
            "stages": public_stages(services),
            "can_act": identity.role is Role.COMMITTEE,
        },
    )


@router.get("/committee/stages/{stage}")
def stage_page(
    request: Request,
    stage: str,
    services: ServicesDep,
    identity: StaffViewer,
    bucket: Annotated[str | None, Query(pattern="^(hour|day)$")] = None,
) -> Response:
    return _stage_page(request, services, identity, stage, bucket=bucket)


@router.get("/committee/stages/{stage}/voters")
def voters_page(
    request: Request,
    stage: str,
    services: ServicesDep,
    identity: AnyStaff,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    try:
        listed = voter_list(services.acting_as(identity.actor), stage, page=page)
    except VotersWithheld:
        return render(
            request,
            "committee/voters.html",
            {"identity": identity, "stage": stage, "withheld": True},
            status_code=403,
        )
    return render(
        request,
        "committee/voters.html",
        {"identity": identity, "stage": stage, "withheld": False, "listed": listed},
    )


def _act(
    request: Request,
    services: Services,
    identity: StaffIdentity,
    stage: str,
    notice: str,
    action: Callable[[Services], object],
) -> Response:
    try:
        action(services.acting_as(identity.actor))
    except UnionVoteError as error:
        detail = getattr(error, "detail", str(error))
        message = _("This was not done: %(reason)s") % {"reason": detail}
        return _stage_page(request, services, identity, stage, error=message, status_code=409)
    request.session[_NOTICE_KEY] = notice
    return RedirectResponse(f"/committee/stages/{stage}", status_code=303)


@router.post("/committee/stages/{stage}/close")
def close(request: Request, stage: str, services: ServicesDep, who: CommitteeMember) -> Response:
    return _act(request, services, who, stage, "close", lambda s: do_close(s, stage))


@router.post("/committee/stages/{stage}/tally")
def tally(request: Request, stage: str, services: ServicesDep, who: CommitteeMember) -> Response:
    return _act(request, services, who, stage, "tally", lambda s: do_tally(s, stage))


@router.post("/committee/stages/{stage}/result")
def result(request: Request, stage: str, services: ServicesDep, who: CommitteeMember) -> Response:
    return _act(request, services, who, stage, "result", lambda s: do_compute_result(s, stage))


@router.post("/committee/stages/{stage}/publish")
def publish(request: Request, stage: str, services: ServicesDep, who: CommitteeMember) -> Response:
    return _act(
        request,
        services,
        who,
        stage,
        "publish",
        lambda s: do_publish_report(s, stage, simulation=False),
    )


@router.post("/committee/stages/{stage}/voter-policy")
def set_voter_policy(
    request: Request,
    stage: str,
    services: ServicesDep,
    who: CommitteeMember,
    policy: Annotated[str, Form(pattern="^(withheld|equal-access)$")],
) -> Response:
    notice = f"policy-{Policy(policy).value}"
    return _act(
        request,
        services,
        who,
        stage,
        notice,
        lambda s: do_set_voter_list_policy(s, stage, policy),
    )


def _planned_voting(
    services: Services, stage: str
) -> tuple[datetime.datetime | None, datetime.datetime | None]:
    with services.db.sessions() as session:
        row, _definition = stage_row(session, stage)
        return row.voting_opens_at, row.voting_closes_at


@router.post("/committee/stages/{stage}/open-registration")
def open_registration(
    request: Request,
    stage: str,
    services: ServicesDep,
    who: CommitteeMember,
    opens: Annotated[str, Form(max_length=40)] = "",
    closes: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    def action(acting: Services) -> object:
        return do_open_registration(
            acting,
            stage,
            opens_at=_when(opens, _("When registration opens")),
            closes_at=_when(closes, _("When registration closes")),
        )

    return _act(request, services, who, stage, "open-registration", action)


@router.post("/committee/stages/{stage}/close-registration")
def close_registration(
    request: Request, stage: str, services: ServicesDep, who: CommitteeMember
) -> Response:
    return _act(
        request,
        services,
        who,
        stage,
        "close-registration",
        lambda s: do_close_registration(s, stage),
    )


@router.post("/committee/stages/{stage}/finish-ceremony")
def finish_ceremony(
    request: Request, stage: str, services: ServicesDep, who: CommitteeMember
) -> Response:
    return _act(
        request, services, who, stage, "finish-ceremony", lambda s: do_finish_ceremony(s, stage)
    )


@router.post("/committee/stages/{stage}/open-election")
def open_election(
    request: Request,
    stage: str,
    services: ServicesDep,
    who: CommitteeMember,
    opens: Annotated[str, Form(max_length=40)] = "",
    closes: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    def action(acting: Services) -> object:
        return do_open_election(
            acting,
            stage,
            opens_at=_when(opens, _("When voting opens")),
            closes_at=_when(closes, _("When voting closes")),
        )

    return _act(request, services, who, stage, "open-election", action)
