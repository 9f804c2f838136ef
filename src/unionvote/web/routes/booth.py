"""The member's booth (sign in, the ballot page, sign out) and the registration page.

The booth page only shows the questions: the credential is typed, checked, and used to
encrypt and sign in the member's browser (``static/js/booth-page.js``), and the ballot goes
to ``POST /api/stages/{stage}/ballots``. Nothing here ever sees a credential or a choice.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from unionvote.services.board import ballot_view, stage_title
from unionvote.services.registration import (
    CODE_SENT,
    Outcome,
    do_register,
    do_request_code,
)
from unionvote.services.signin import (
    CodeAnswer,
    SignInOutcome,
    do_request_signin_code,
    do_sign_in,
)
from unionvote.web.deps import (
    Limiter,
    MailerDep,
    MemberSession,
    ServicesDep,
    client_address,
    end_member_session,
    member_key,
    start_member_session,
)
from unionvote.web.i18n import gettext as _
from unionvote.web.pages import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

Text = Annotated[str, Form(max_length=200)]
OptionalText = Annotated[str | None, Form(max_length=200)]


def _signin_message(outcome: SignInOutcome, *, by_code: bool = False) -> str:
    if outcome is SignInOutcome.NOT_A_VOTER:
        return _(
            "You are not on the list of voters for this vote: no voting credential was issued "
            "to you for it. If you registered, contact the election committee."
        )
    if outcome is SignInOutcome.LOCKED:
        return _(
            "Too many attempts to sign in with this member number. Wait 15 minutes and try "
            "again, or contact the election committee."
        )
    if by_code:
        return _(
            "This code did not work with this member number. A code works once, for 30 "
            "minutes: ask for a new one, or sign in with your last name and postal code."
        )
    return _(
        "We could not match these details to a member on the roll. Check your member number "
        "and give your last name and postal code as they appear on your dues records."
    )


_METHODS = ("details", "email", "code")
"""The sign-in page's three forms: last name and postal code; asking for a code by email;
typing the code."""


def _signin_page(
    request: Request,
    stage: str,
    services: ServicesDep,
    method: str,
    *,
    status_code: int = 200,
    **context: object,
) -> Response:
    codes = request.app.state.mailer is not None
    if method not in _METHODS or (method != "details" and not codes):
        method = "details"
    return render(
        request,
        "booth/signin.html",
        {
            "stage": stage,
            "title": stage_title(services, stage),
            "method": method,
            "codes_by_mail": codes,
            **context,
        },
        status_code=status_code,
    )


@router.get("/vote/{stage}")
def sign_in_page(
    request: Request,
    stage: str,
    services: ServicesDep,
    method: Annotated[str, Query(max_length=20)] = "details",
) -> Response:
    return _signin_page(request, stage, services, method)


@router.post("/vote/{stage}")
def sign_in(
    request: Request,
    stage: str,
    services: ServicesDep,
    limiter: Limiter,
    mailer: MailerDep,
    card_number: Text,
    action: Annotated[str, Form(max_length=20)] = "sign-in",
    last_name: OptionalText = None,
    postal_code: OptionalText = None,
    code: Annotated[str | None, Form(max_length=20)] = None,
) -> Response:
    limiter.hit("signin-address", client_address(request))
    # Per member number *from this address*: attempts from elsewhere cannot lock a member
    # out, and a number that matches no member is counted just like one that does.
    attempt_key = member_key(request, card_number, per_address=True)
    limiter.hit("signin-member", attempt_key)
    if action == "send-code":
        if mailer is None:
            message = _("Sign-in codes by email are not available here.")
            return _signin_page(request, stage, services, "details", error=message)
        limiter.hit("code-member", member_key(request, card_number))
        language: str = getattr(request.state, "lang", "en")
        asked = do_request_signin_code(services, stage, card_number, mailer, language=language)
        if asked.answer is CodeAnswer.VOTING_NOT_OPEN:
            message = _("Voting is not open now: there is nothing to sign in to.")
            return _signin_page(
                request, stage, services, "email", error=message, card_number=card_number
            )
        notice = _(
            "If this member number belongs to a voter in this vote with an email address on "
            "the roll, a sign-in code is on its way to that address. It works once, for 30 "
            "minutes."
        )
        return _signin_page(
            request, stage, services, "code", notice=notice, card_number=card_number
        )
    by_code = bool(code and code.strip())
    method = "code" if by_code else "details"
    if by_code:
        answer = do_sign_in(services, stage, card_number, attempt_key=attempt_key, code=code)
    elif last_name and postal_code:
        answer = do_sign_in(
            services,
            stage,
            card_number,
            attempt_key=attempt_key,
            last_name=last_name,
            postal_code=postal_code,
        )
    else:
        message = _("Give your member number, your last name and your postal code.")
        return _signin_page(
            request, stage, services, method, error=message, card_number=card_number
        )
    if answer.signed_in and answer.card_number is not None:
        start_member_session(request, answer.card_number, stage)
        return RedirectResponse(f"/vote/{stage}/ballot", status_code=303)
    return _signin_page(
        request,
        stage,
        services,
        method,
        status_code=429 if answer.outcome is SignInOutcome.LOCKED else 200,
        error=_signin_message(answer.outcome, by_code=by_code),
        card_number=card_number,
    )


@router.get("/vote/{stage}/ballot")
def ballot_page(
    request: Request, stage: str, services: ServicesDep, member: MemberSession
) -> Response:
    view = ballot_view(services, stage)
    return render(request, "booth/ballot.html", {"stage": stage, "view": view})


@router.post("/vote/{stage}/sign-out")
def sign_out(request: Request, stage: str) -> Response:
    end_member_session(request)
    return RedirectResponse(f"/vote/{stage}", status_code=303)


# -- registration ---------------------------------------------------------------------------


def _registration_message(outcome: Outcome) -> str:
    messages = {
        Outcome.REGISTERED: _(
            "You are registered. The independent credential authority will send you your "
            "voting credential before voting opens."
        ),
        Outcome.ALREADY_REGISTERED: _(
            "You are already registered: there is nothing more to do. Your voting credential "
            "will come from the independent credential authority."
        ),
        Outcome.NOT_ELIGIBLE: _(
            "You cannot register for this vote under its eligibility rules. If you think the "
            "roll is wrong, contact the election committee."
        ),
        Outcome.OUTSIDE_WINDOW: _("Registration for this vote is not open now."),
    }
    return messages.get(
        outcome,
        _(
            "We could not match these details to a member on the roll. Check your member "
            "number and give your last name and postal code as they appear on your dues "
            "records, or ask for a one-time code by email."
        ),
    )


def _register_page(
    request: Request, stage: str, services: ServicesDep, **context: object
) -> Response:
    mail = request.app.state.mailer is not None
    return render(
        request,
        "register/form.html",
        {"stage": stage, "title": stage_title(services, stage), "codes_by_mail": mail, **context},
    )


@router.get("/register/{stage}")
def register_page(request: Request, stage: str, services: ServicesDep) -> Response:
    return _register_page(request, stage, services)


@router.post("/register/{stage}")
def register(
    request: Request,
    stage: str,
    services: ServicesDep,
    limiter: Limiter,
    mailer: MailerDep,
    card_number: Text,
    action: Annotated[str, Form(max_length=20)] = "register",
    last_name: OptionalText = None,
    postal_code: OptionalText = None,
    code: OptionalText = None,
) -> Response:
    limiter.hit("register-address", client_address(request))
    if action == "send-code" and mailer is not None:
        limiter.hit("code-member", member_key(request, card_number))
        language: str = getattr(request.state, "lang", "en")
        asked = do_request_code(services, stage, card_number, mailer, language=language)
        if asked.message != CODE_SENT:  # the window is closed: the same for every card
            message = _registration_message(Outcome.OUTSIDE_WINDOW)
            return _register_page(request, stage, services, error=message, card_number=card_number)
        notice = _(
            "If this member number is on the roll with an email address, a one-time code is "
            "on its way to that address. It works once, for 30 minutes."
        )
        return _register_page(request, stage, services, notice=notice, card_number=card_number)
    if code:
        outcome = do_register(services, stage, card_number=card_number, code=code)
    elif last_name and postal_code:
        outcome = do_register(
            services, stage, card_number=card_number, last_name=last_name, postal_code=postal_code
        )
    else:
        message = _("Give your last name and postal code, or the code from your email.")
        return _register_page(request, stage, services, error=message, card_number=card_number)
    key = "notice" if outcome.registered else "error"
    return _register_page(
        request,
        stage,
        services,
        card_number=card_number,
        **{key: _registration_message(outcome.outcome)},
    )
