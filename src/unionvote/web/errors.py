"""Refusals turned into answers: each exception of the tree gets a status and a clear message,
as an HTML page for a browser and as ``{"error": {"check", "message"}}`` under ``/api``.

403 a ballot signed with another member's credential, or a missing sign-in; 404 an unknown
stage or a file not yet published; 409 what the election's state refuses now (voting closed
or not open); 422 what is wrong with the request itself (a malformed ballot, a failed proof,
missing fields); 429 too many attempts.
"""

from __future__ import annotations

from typing import Final

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from unionvote.domain.errors import DomainError, ElectionError
from unionvote.errors import UnionVoteError
from unionvote.record.errors import RecordError
from unionvote.storage.errors import StorageError
from unionvote.web.i18n import gettext as _
from unionvote.web.pages import render
from unionvote.web.security import TooManyRequests

__all__ = ["NotSignedIn", "install_error_handlers", "status_of", "wants_json"]

_NOT_FOUND: Final = frozenset(
    {"stage.unknown", "election.missing", "publication.missing", "process.missing"}
)
_CONFLICT: Final = frozenset({"ballot.closed", "ballot.window", "election.closed"})
_FORBIDDEN: Final = frozenset({"ballot.credential"})


class NotSignedIn(Exception):
    """A booth page or the ballot box was asked for without a member's session for the stage."""

    def __init__(self, stage: str) -> None:
        super().__init__(stage)
        self.stage = stage


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def status_of(error: UnionVoteError) -> int:
    check = getattr(error, "check", "")
    if check in _NOT_FOUND:
        return 404
    if check in _FORBIDDEN:
        return 403
    if check in _CONFLICT:
        return 409
    if isinstance(error, ElectionError | RecordError):
        return 422
    if isinstance(error, StorageError):
        return 503
    if isinstance(error, DomainError):
        return 409
    return 422


def _message(error: UnionVoteError) -> str:
    """The member's words for the refusals they can meet; the service's own words else."""
    check = getattr(error, "check", "")
    detail = getattr(error, "detail", str(error))
    if check == "ballot.closed":
        return _("Voting has ended. Your ballot was not recorded.")
    if check == "ballot.window":
        return _("Voting is not open now. Your ballot was not recorded.") + f" ({detail})"
    if check == "ballot.credential":
        return _(
            "This ballot was signed with a voting credential that is not yours. Type the "
            "credential from your own letter or email. Your ballot was not recorded."
        )
    if check == "ballot.malformed":
        return _("The ballot is not in the expected form. It was not recorded.") + f" ({detail})"
    if isinstance(error, ElectionError):
        return _("The ballot failed a check. It was not recorded.") + f" ({check}: {detail})"
    if check in _NOT_FOUND:
        return _("Not found.") + f" ({detail})"
    return str(detail)


def _answer(request: Request, status: int, check: str, message: str) -> Response:
    if wants_json(request):
        return JSONResponse({"error": {"check": check, "message": message}}, status_code=status)
    return render(
        request,
        "public/error.html",
        {"status": status, "check": check, "message": message},
        status_code=status,
    )


async def _on_union_vote_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, UnionVoteError)
    return _answer(request, status_of(error), getattr(error, "check", "error"), _message(error))


async def _on_not_signed_in(request: Request, error: Exception) -> Response:
    assert isinstance(error, NotSignedIn)
    if wants_json(request):
        return _answer(
            request,
            403,
            "session.missing",
            _("Sign in to vote first: your session has ended or you are not signed in."),
        )
    return RedirectResponse(f"/vote/{error.stage}", status_code=303)


async def _on_too_many(request: Request, error: Exception) -> Response:
    assert isinstance(error, TooManyRequests)
    minutes = max(1, (error.retry_after + 59) // 60)
    message = _("Too many attempts. Wait %(minutes)d minutes and try again.") % {"minutes": minutes}
    response = _answer(request, 429, "rate.limit", message)
    response.headers["retry-after"] = str(error.retry_after)
    return response


async def _on_validation(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    fields = sorted(
        {".".join(str(part) for part in item.get("loc", ())[1:]) for item in error.errors()}
    )
    message = _("Some information is missing or not valid: %(fields)s.") % {
        "fields": ", ".join(f for f in fields if f) or "?"
    }
    return _answer(request, 422, "request.invalid", message)


async def _on_http(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    if error.status_code == 404:
        message = _("There is no page at this address.")
    elif error.status_code == 405:
        message = _("This address does not accept this kind of request.")
    else:
        message = str(error.detail)
    response = _answer(request, error.status_code, f"http.{error.status_code}", message)
    for name, value in (error.headers or {}).items():
        response.headers[name] = value
    return response


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(UnionVoteError, _on_union_vote_error)
    app.add_exception_handler(NotSignedIn, _on_not_signed_in)
    app.add_exception_handler(TooManyRequests, _on_too_many)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
