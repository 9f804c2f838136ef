"""The routes' dependencies, as ``Annotated`` aliases: the services, the request's language,
the member's booth session, the rate limiter and the board's verifier."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from starlette.requests import Request

from unionvote.mail import Mailer
from unionvote.services.board import BoardVerifier
from unionvote.services.context import Services
from unionvote.web.errors import NotSignedIn
from unionvote.web.security import RateLimiter

__all__ = [
    "Lang",
    "Limiter",
    "MailerDep",
    "MemberSession",
    "ServicesDep",
    "Verifier",
    "client_address",
    "end_member_session",
    "start_member_session",
]

_MEMBER_KEY = "member"


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _language(request: Request) -> str:
    language: str = getattr(request.state, "lang", "en")
    return language


def _limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


def _mailer(request: Request) -> Mailer | None:
    mailer: Mailer | None = request.app.state.mailer
    return mailer


def _verifier(request: Request) -> BoardVerifier:
    verifier: BoardVerifier = request.app.state.verifier
    return verifier


@dataclass(frozen=True)
class Member:
    """Who is signed in to the booth: a card number, for one stage."""

    card_number: str
    stage: str


def _member(request: Request, stage: str) -> Member:
    found = request.session.get(_MEMBER_KEY)
    if not isinstance(found, dict) or found.get("stage") != stage or not found.get("card"):
        raise NotSignedIn(stage)
    return Member(str(found["card"]), stage)


def start_member_session(request: Request, card_number: str, stage: str) -> None:
    """Sign the member in for ``stage`` (a fresh CSRF token too: a new session, new token)."""
    request.session.clear()
    request.session[_MEMBER_KEY] = {"card": card_number, "stage": stage}


def end_member_session(request: Request) -> None:
    request.session.pop(_MEMBER_KEY, None)


def client_address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


ServicesDep = Annotated[Services, Depends(_services)]
Lang = Annotated[str, Depends(_language)]
Limiter = Annotated[RateLimiter, Depends(_limiter)]
Verifier = Annotated[BoardVerifier, Depends(_verifier)]
MailerDep = Annotated[Mailer | None, Depends(_mailer)]
"""The configured mail server (refusals logged, not raised), or None without one."""
MemberSession = Annotated[Member, Depends(_member)]
