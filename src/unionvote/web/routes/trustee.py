"""The trustees' pages: the key ceremony and the decryption.

The key ceremony (``/trustee/stages/{stage}/ceremony``): the page says which step the
trustee is at (from the committee's side), serves the committee's input for it (every
certificate, the trustee's own routed shares, the final trustee list), and takes back only
the step's message, which goes through the same checks as the committee's CLI import
(``services.trustees.do_submit_*``), audited as ``staff:<username>``. The step itself runs in
the trustee's browser (``static/js/trustee-ceremony.js``): the state file is read on their
device and the new one offered back to them; it is never sent.

The decryption: the stages waiting for it, the decryption request to download, and the
partial decryption to hand back — a file made with ``unionvote trustee decrypt``, or made in
this browser by ``static/js/trustee-page.js`` from the trustee's key file, which is read on
their device and never sent. The server checks every proof before it records a partial
decryption (``do_add_partial_decryption``) and says what is still missing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Final

from fastapi import APIRouter, File, Form, Path, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from unionvote.domain.errors import DomainError
from unionvote.errors import UnionVoteError
from unionvote.services.board import public_stages
from unionvote.services.committee import (
    DecryptionProgress,
    TrusteeCeremony,
    decryption_progress,
    trustee_ceremony,
)
from unionvote.services.context import Services
from unionvote.services.elections import (
    decryption_request,
    do_add_partial_decryption,
    election_status,
)
from unionvote.services.staff import StaffIdentity
from unionvote.services.trustees import (
    certificates_for,
    do_submit_certificate,
    do_submit_polynomial,
    do_submit_single_key,
    do_submit_voutput,
    public_trustees,
    trustee_owner,
    vinput_for,
)
from unionvote.web.auth import Trustee
from unionvote.web.deps import ServicesDep
from unionvote.web.i18n import gettext as _
from unionvote.web.pages import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_MAX_FILE: Final = 4 * 1024 * 1024
_TALLIED: Final = "tallied"


def _progress(services: Services, stage: str, phase: str | None) -> DecryptionProgress | None:
    if phase != _TALLIED:
        return None
    try:
        return decryption_progress(services, stage)
    except DomainError:
        return None


def _page(
    request: Request,
    services: Services,
    identity: StaffIdentity,
    stage: str,
    *,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    try:
        phase: str | None = election_status(services, stage).phase
    except DomainError as refusal:
        if refusal.check == "stage.unknown":
            raise
        phase = None
    return render(
        request,
        "trustee/stage.html",
        {
            "identity": identity,
            "stage": stage,
            "phase": phase,
            "progress": _progress(services, stage, phase),
            "notice": notice,
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/trustee")
def trustee_home(request: Request, services: ServicesDep, identity: Trustee) -> Response:
    return render(
        request,
        "trustee/home.html",
        {"identity": identity, "stages": public_stages(services)},
    )


@router.get("/trustee/stages/{stage}")
def trustee_stage(
    request: Request, stage: str, services: ServicesDep, identity: Trustee
) -> Response:
    return _page(request, services, identity, stage)


@router.get("/trustee/stages/{stage}/decryption-request.json")
def request_file(stage: str, services: ServicesDep, identity: Trustee) -> Response:
    content = decryption_request(services, stage)
    return Response(
        content,
        media_type="application/json",
        headers={"content-disposition": f'attachment; filename="{stage}-decryption-request.json"'},
    )


@router.post("/trustee/stages/{stage}/partial-decryption")
async def upload(
    request: Request,
    stage: str,
    services: ServicesDep,
    identity: Trustee,
    partial: Annotated[UploadFile | None, File()] = None,
    partial_text: Annotated[str, Form(max_length=_MAX_FILE)] = "",
) -> Response:
    content = partial_text.encode()
    if partial is not None and partial.filename:
        content = await partial.read(_MAX_FILE + 1)
    if not content.strip():
        message = _("Choose your partial decryption file first.")
        return _page(request, services, identity, stage, error=message, status_code=422)
    if len(content) > _MAX_FILE:
        message = _("This file is too large to be a partial decryption.")
        return _page(request, services, identity, stage, error=message, status_code=413)
    try:
        mine = trustee_owner(services, stage, _position(identity))
        owner = do_add_partial_decryption(
            services.acting_as(identity.actor), stage, content, owner=mine
        )
    except UnionVoteError as error:
        if getattr(error, "check", "") == "stage.unknown":
            raise
        detail = getattr(error, "detail", str(error))
        message = _("Your partial decryption was not accepted: %(reason)s") % {"reason": detail}
        return _page(request, services, identity, stage, error=message, status_code=422)
    notice = _(
        "Your partial decryption (trustee number %(owner)d) is checked: every proof is right. "
        "It is recorded."
    ) % {"owner": owner}
    return _page(request, services, identity, stage, notice=notice)


# -- the key ceremony -----------------------------------------------------------------------------

_CEREMONY_NOTICE: Final = "trustee_ceremony_notice"
_SUBMIT: Final[dict[str, Callable[[Services, str, int, bytes], object]]] = {
    "init": do_submit_certificate,
    "single-key": do_submit_single_key,
    "polynomial": do_submit_polynomial,
    "verification-key": do_submit_voutput,
}
_MAX_MESSAGE: Final = 1024 * 1024


def _ceremony_notices() -> dict[str, str]:
    return {
        "init": _("Your certificate is checked and stored by the committee."),
        "single-key": _("Your public key is checked and stored by the committee."),
        "polynomial": _("Your polynomial message is checked and stored by the committee."),
        "verification-key": _("Your verification key is checked and stored by the committee."),
    }


def _json_file(content: bytes, name: str) -> Response:
    return Response(
        content,
        media_type="application/json",
        headers={
            "content-disposition": f'attachment; filename="{name}"',
            "cache-control": "no-store",
        },
    )


def _position(identity: StaffIdentity) -> int:
    if identity.trustee_position is None:
        raise DomainError(
            "trustee.unknown",
            "your staff account names no trustee position: ask the election committee",
        )
    return identity.trustee_position


def _ceremony_page(
    request: Request,
    services: Services,
    identity: StaffIdentity,
    stage: str,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    mine: TrusteeCeremony | None = None
    refusal: str | None = None
    try:
        mine = trustee_ceremony(services, stage, _position(identity))
    except DomainError as refused:
        if refused.check == "stage.unknown":
            raise
        refusal = refused.detail
    notice = request.session.pop(_CEREMONY_NOTICE, None)
    return render(
        request,
        "trustee/ceremony.html",
        {
            "identity": identity,
            "stage": stage,
            "mine": mine,
            "refusal": refusal,
            "notice": _ceremony_notices().get(notice) if isinstance(notice, str) else None,
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/trustee/stages/{stage}/ceremony")
def ceremony_page(
    request: Request, stage: str, services: ServicesDep, identity: Trustee
) -> Response:
    return _ceremony_page(request, services, identity, stage)


@router.get("/trustee/stages/{stage}/ceremony/certificates.json")
def ceremony_certificates(stage: str, services: ServicesDep, identity: Trustee) -> Response:
    """Step 2's input: every threshold trustee's certificate (refused while one is missing)."""
    with services.db.sessions() as session:
        content = certificates_for(session, stage)
    return _json_file(content, f"{stage}-certificates.json")


@router.get("/trustee/stages/{stage}/ceremony/vinput.json")
def ceremony_vinput(stage: str, services: ServicesDep, identity: Trustee) -> Response:
    """Step 3's input for this trustee only: the commitments and the shares sealed to them."""
    position = _position(identity)
    with services.db.sessions() as session:
        content = vinput_for(session, stage, position)
    return _json_file(content, f"{stage}-vinput-{position}.json")


@router.get("/trustee/stages/{stage}/ceremony/trustees.json")
def ceremony_trustees(stage: str, services: ServicesDep, identity: Trustee) -> Response:
    """The final public trustee list, once the committee has finished the ceremony."""
    with services.db.sessions() as session:
        content = public_trustees(session, stage)
    return _json_file(content, f"{stage}-trustees.json")


@router.post("/trustee/stages/{stage}/ceremony/{step}")
def ceremony_message(
    request: Request,
    stage: str,
    services: ServicesDep,
    identity: Trustee,
    step: Annotated[str, Path(pattern="^(init|single-key|polynomial|verification-key)$")],
    message: Annotated[str, Form(max_length=_MAX_MESSAGE)] = "",
) -> Response:
    """A step's message, made in the trustee's browser (or by the CLI and pasted): checked by
    the committee's own intake for the trustee's position, or refused with nothing stored."""
    content = message.strip().encode()
    if not content:
        text = _("There is no message to send: run the step in this page first.")
        return _ceremony_page(request, services, identity, stage, error=text, status_code=422)
    try:
        _SUBMIT[step](services.acting_as(identity.actor), stage, _position(identity), content)
    except UnionVoteError as error:
        if getattr(error, "check", "") == "stage.unknown":
            raise
        detail = getattr(error, "detail", str(error))
        text = _("Your message was not accepted (nothing is stored): %(reason)s") % {
            "reason": detail
        }
        return _ceremony_page(request, services, identity, stage, error=text, status_code=422)
    request.session[_CEREMONY_NOTICE] = step
    return RedirectResponse(f"/trustee/stages/{stage}/ceremony", status_code=303)
