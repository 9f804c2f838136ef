"""The routes' dependencies, as ``Annotated`` aliases: the services, the request's language,
the member's booth session, the rate limiter and the board's verifier.

Each is ``async def``: they only read the request and the application's state, and FastAPI
runs a plain ``def`` dependency in its thread pool, a hop to a worker thread and back for
each dependency of each request (three for a cast, issue 5), where an ``async def`` one runs
in place."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import BackgroundTasks, Depends
from starlette.requests import Request

from unionvote.mail import Mail, Mailer
from unionvote.services.board import BoardVerifier
from unionvote.services.context import Services
from unionvote.web.errors import NotSignedIn
from unionvote.web.security import RateLimiter, address_key

__all__ = [
    "AfterResponse",
    "Lang",
    "Limiter",
    "MailerDep",
    "MemberSession",
    "ServicesDep",
    "Verifier",
    "client_address",
    "end_member_session",
    "member_key",
    "start_member_session",
]

_MEMBER_KEY = "member"


async def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _language(request: Request) -> str:
    language: str = getattr(request.state, "lang", "en")
    return language


async def _limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


class AfterResponse:
    """A mailer that sends once the response has gone: what a stranger may ask for (a
    one-time code) must answer as fast whether or not a mail goes out. The service has
    committed the code before it asks for the mail, so nothing accepted is lost; the
    configured mailer logs a refusal rather than raising it."""

    def __init__(self, mailer: Mailer, tasks: BackgroundTasks) -> None:
        self.mailer = mailer
        self.tasks = tasks

    def send(self, mail: Mail) -> str:
        self.tasks.add_task(self.mailer.send, mail)
        return ""


async def _mailer(request: Request, tasks: BackgroundTasks) -> Mailer | None:
    mailer: Mailer | None = request.app.state.mailer
    return None if mailer is None else AfterResponse(mailer, tasks)


async def _verifier(request: Request) -> BoardVerifier:
    verifier: BoardVerifier = request.app.state.verifier
    return verifier


@dataclass(frozen=True)
class Member:
    """Who is signed in to the booth: a card number, for one stage."""

    card_number: str
    stage: str


async def _member(request: Request, stage: str) -> Member:
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
    """The key per-address limits count the client under: its IPv4 address, or its IPv6 /64
    (see :func:`~unionvote.web.security.address_key`)."""
    return address_key(request.client.host) if request.client is not None else "unknown"


def member_key(request: Request, card_number: str, *, per_address: bool = False) -> str:
    """An opaque key for a member number as typed (spaces and case ignored), and with
    ``per_address`` for the client's address too: an HMAC under the site's secret, so that
    a number that matches no member is counted exactly like one that does, and nothing a
    stranger typed is kept in the clear."""
    card = "".join(card_number.split()).upper()[:40]
    text = f"{card}\0{client_address(request)}" if per_address else card
    secret: str = request.app.state.settings.secret
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()[:32]


ServicesDep = Annotated[Services, Depends(_services)]
Lang = Annotated[str, Depends(_language)]
Limiter = Annotated[RateLimiter, Depends(_limiter)]
Verifier = Annotated[BoardVerifier, Depends(_verifier)]
MailerDep = Annotated[Mailer | None, Depends(_mailer)]
"""The configured mail server (refusals logged, not raised), sending after the response
(:class:`AfterResponse`), or None without one."""
MemberSession = Annotated[Member, Depends(_member)]
