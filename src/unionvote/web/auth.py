"""Staff sign-in: the login and logout pages and the role dependencies of the staff pages.

The signed-in username and when the session started are kept in the signed session
(``staff``, ``staff_since``); every request looks the account up again, so a disabled
account loses access at once, and a session started before the account's password was set or
before it last signed out is over (an old cookie replayed does not work). Signing in starts a fresh
session (a new CSRF token too). Roles: ``CommitteeMember`` (may act), ``StaffViewer`` (the
committee or an observer: reads the committee's pages), ``Trustee``, ``AnyStaff``.
"""

from __future__ import annotations

import datetime
from typing import Annotated, Final
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from unionvote.services.staff import (
    Role,
    StaffError,
    StaffIdentity,
    authenticate,
    do_sign_out,
    staff_identity,
)
from unionvote.web.deps import Limiter, ServicesDep, client_address
from unionvote.web.i18n import gettext as _
from unionvote.web.pages import render
from unionvote.web.security import STAFF_SESSION_KEY

__all__ = [
    "AnyStaff",
    "CommitteeMember",
    "StaffViewer",
    "Trustee",
    "router",
    "safe_next",
    "start_staff_session",
]

router = APIRouter(include_in_schema=False)

_STAFF_KEY: Final = STAFF_SESSION_KEY
_SINCE_KEY: Final = "staff_since"


def safe_next(target: str | None, default: str) -> str:
    """Only a path on this site (never ``//host`` or a full URL) to go on to after sign-in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def start_staff_session(
    request: Request, identity: StaffIdentity, started: datetime.datetime
) -> None:
    request.session.clear()
    request.session[_STAFF_KEY] = identity.username
    request.session[_SINCE_KEY] = started.isoformat()


def _session_started(request: Request) -> datetime.datetime | None:
    text = request.session.get(_SINCE_KEY)
    try:
        return datetime.datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None


def _home_of(identity: StaffIdentity) -> str:
    return "/trustee" if identity.role is Role.TRUSTEE else "/committee"


def _signed_in(request: Request, services: ServicesDep) -> StaffIdentity:
    username = request.session.get(_STAFF_KEY)
    started = _session_started(request)
    identity = (
        staff_identity(services, username, session_started=started)
        if isinstance(username, str) and started is not None
        else None
    )
    if identity is None:
        request.session.pop(_STAFF_KEY, None)
        request.session.pop(_SINCE_KEY, None)
        target = quote(request.url.path, safe="/")
        raise HTTPException(
            status_code=303,
            detail=_("Sign in first."),
            headers={"location": f"/staff/login?next={target}"},
        )
    return identity


def _forbidden(message: str) -> HTTPException:
    return HTTPException(status_code=403, detail=message)


def _viewer(identity: Annotated[StaffIdentity, Depends(_signed_in)]) -> StaffIdentity:
    if identity.role not in (Role.COMMITTEE, Role.OBSERVER):
        raise _forbidden(_("These pages are for the election committee and the observers."))
    return identity


def _committee(identity: Annotated[StaffIdentity, Depends(_signed_in)]) -> StaffIdentity:
    if identity.role is not Role.COMMITTEE:
        raise _forbidden(
            _("Only the election committee can do this. Observers see these pages read-only.")
        )
    return identity


def _trustee(identity: Annotated[StaffIdentity, Depends(_signed_in)]) -> StaffIdentity:
    if identity.role is not Role.TRUSTEE:
        raise _forbidden(_("These pages are for the trustees."))
    return identity


AnyStaff = Annotated[StaffIdentity, Depends(_signed_in)]
StaffViewer = Annotated[StaffIdentity, Depends(_viewer)]
CommitteeMember = Annotated[StaffIdentity, Depends(_committee)]
Trustee = Annotated[StaffIdentity, Depends(_trustee)]


@router.get("/staff/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "committee/login.html", {"next": safe_next(next, "")})


@router.post("/staff/login")
def login(
    request: Request,
    services: ServicesDep,
    limiter: Limiter,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    limiter.hit("signin-address", client_address(request))
    try:
        identity = authenticate(services.acting_as("web"), username.strip(), password)
    except StaffError:
        return render(
            request,
            "committee/login.html",
            {
                "next": safe_next(next, ""),
                "username": username,
                "error": _(
                    "The username or password is not right, or there were too many attempts "
                    "(then wait 15 minutes). Try again."
                ),
            },
            status_code=401,
        )
    start_staff_session(request, identity, services.clock.now())
    return RedirectResponse(safe_next(next, _home_of(identity)), status_code=303)


@router.post("/staff/logout")
def logout(request: Request, services: ServicesDep) -> Response:
    username = request.session.get(_STAFF_KEY)
    if isinstance(username, str) and _session_started(request) is not None:
        do_sign_out(services.acting_as(f"staff:{username}"), username)
    request.session.clear()
    return RedirectResponse("/staff/login?signed_out=1", status_code=303)
