"""The booth's JSON API (described at ``/openapi.json``).

``POST /api/stages/{stage}/ballots`` takes the ballot exactly as the member's browser made it
(canonical JSON bytes), with the member's session and the ``X-CSRF-Token`` header. The ballot
is checked fully — form, election, credential (it must be the one issued to the signed-in
member), every proof, the signature — and 201 comes back only once it is durably recorded.
Errors are ``{"error": {"check": ..., "message": ...}}``.
"""

from __future__ import annotations

import datetime
import functools

import anyio
import anyio.to_thread
from fastapi import APIRouter
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from unionvote.services.board import TrackerState, election_json, find_tracker, public_stages
from unionvote.services.elections import do_cast, election_status
from unionvote.web.deps import Limiter, MemberSession, ServicesDep, client_address
from unionvote.web.i18n import gettext as _
from unionvote.web.settings import WebSettings

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["booth"])


class ErrorDetail(BaseModel):
    check: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class StageItem(BaseModel):
    key: str
    title: str
    status: str
    phase: str | None


class StatusBody(BaseModel):
    stage: str
    phase: str
    uuid: str
    election_hash: str
    voting_opens_at: datetime.datetime | None
    voting_closes_at: datetime.datetime | None
    ballots_received: int
    counted: int


class CastBody(BaseModel):
    tracker: str
    replaced_earlier_ballot: bool
    already_recorded: bool = False
    counted: bool = True
    message: str


class TrackerBody(BaseModel):
    tracker: str
    state: str
    received_on: datetime.date | None
    """The day the ballot was received (UTC): no finer, so that a time cannot link a ballot
    to a member whose time of voting someone knows."""


_ERRORS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody} for status in (403, 404, 409, 413, 422, 429)
}


@router.get("/stages", response_model=list[StageItem])
def stages(services: ServicesDep) -> list[StageItem]:
    return [
        StageItem(key=s.key, title=s.title, status=s.status, phase=s.phase)
        for s in public_stages(services)
    ]


@router.get(
    "/stages/{stage}/election",
    responses={
        200: {"content": {"application/json": {}}, "description": "election.json, exactly"},
        404: {"model": ErrorBody},
    },
)
def election(stage: str, services: ServicesDep) -> Response:
    """The election's ``election.json`` bytes exactly as in its record; their hash (the one
    every ballot carries) in the ``X-Election-Hash`` header."""
    content, election_hash = election_json(services, stage)
    return Response(
        content, media_type="application/json", headers={"x-election-hash": election_hash}
    )


@router.get(
    "/stages/{stage}/status", response_model=StatusBody, responses={404: {"model": ErrorBody}}
)
def status(stage: str, services: ServicesDep) -> StatusBody:
    found = election_status(services, stage)
    return StatusBody(
        stage=found.stage,
        phase=found.phase,
        uuid=found.uuid,
        election_hash=found.election_hash,
        voting_opens_at=found.voting_opens_at,
        voting_closes_at=found.voting_closes_at,
        ballots_received=found.ballots_received,
        counted=found.counted,
    )


def _cast_limiter(request: Request) -> anyio.CapacityLimiter:
    """How many ballots this process checks and records at once (``cast_threads``): made on
    the first cast, in the server's event loop."""
    limiter: anyio.CapacityLimiter | None = getattr(request.app.state, "cast_limiter", None)
    if limiter is None:
        settings: WebSettings = request.app.state.settings
        limiter = request.app.state.cast_limiter = anyio.CapacityLimiter(settings.cast_threads)
    return limiter


@router.post(
    "/stages/{stage}/ballots",
    status_code=201,
    response_model=CastBody,
    responses={
        200: {"model": CastBody, "description": "this very ballot was already recorded"},
        **_ERRORS,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def cast(
    request: Request, stage: str, services: ServicesDep, member: MemberSession, limiter: Limiter
) -> Response:
    """Cast the signed-in member's ballot (the body: the ballot's canonical JSON bytes)."""
    limiter.hit("cast-address", client_address(request))
    limiter.hit("cast-member", member.card_number)
    raw = await request.body()
    receipt = await anyio.to_thread.run_sync(
        functools.partial(do_cast, services, stage, raw, member_card=member.card_number),
        limiter=_cast_limiter(request),
    )
    if receipt.already_recorded:
        found = find_tracker(services, stage, receipt.tracker)
        counted = found.state is TrackerState.COUNTED
        message = (
            _("This ballot was already recorded. It is the ballot that counts.")
            if counted
            else _(
                "This ballot was already recorded, but it no longer counts: a later ballot "
                "with your credential replaced it."
            )
        )
        body = CastBody(
            tracker=receipt.tracker,
            replaced_earlier_ballot=False,
            already_recorded=True,
            counted=counted,
            message=message,
        )
        return JSONResponse(body.model_dump(), status_code=200)
    message = (
        _("Your vote is recorded. This vote replaces your earlier one.")
        if receipt.replaced_earlier_ballot
        else _("Your vote is recorded.")
    )
    body = CastBody(
        tracker=receipt.tracker,
        replaced_earlier_ballot=receipt.replaced_earlier_ballot,
        message=message,
    )
    return JSONResponse(body.model_dump(), status_code=201)


@router.get(
    "/stages/{stage}/ballots/{tracker:path}",
    response_model=TrackerBody,
    responses={404: {"model": ErrorBody}},
)
def ballot(stage: str, tracker: str, services: ServicesDep) -> TrackerBody:
    """Whether a ballot with this tracker is on the board: ``counted``, ``replaced`` (a later
    ballot of the same credential counts instead) or ``not-found``."""
    found = find_tracker(services, stage, tracker)
    received = found.received_at
    return TrackerBody(
        tracker=found.tracker,
        state=found.state.value,
        received_on=None if received is None else received.astimezone(datetime.UTC).date(),
    )
