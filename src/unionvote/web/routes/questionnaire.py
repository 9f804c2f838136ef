"""The candidate questionnaire on the website: the campaign's answer form by personal link, the
committee's questionnaire pages, and the members' side-by-side comparison with its PDF.

- **The answer form** (``/questionnaire/answer/<token>``, no account): the personal link from
  the campaign's email. It shows the due date, saves drafts, submits (the answers are then
  frozen and a confirmation is emailed) or declines. Every refusal — an altered or expired
  link, a second submission, an oversized answer, a post after the due date — is a page that
  says what is wrong, and nothing is changed (the services refuse before they write).
- **The committee's pages** (``/committee/questionnaires``): define a questionnaire from its
  TOML file, import the campaigns' CSV, send the personal links and reminders by the site's
  mail server, see every campaign's status with the time of each step, close at the due date,
  open a correction, publish. Observers see them read-only. Each action is made as
  ``staff:<username>``, so the audit log names who acted.
- **For members** (``/questionnaires/<key>``): the answers side by side, with "Declined to
  answer" and "Did not respond" written in the candidate's column as plainly as an answer;
  the PDF in English or Spanish; the published file with its SHA-256 (the endorsement record
  links to it by that digest).
"""

from __future__ import annotations

import datetime
import hashlib
import re
import unicodedata
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Final, cast

from fastapi import APIRouter, Form
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from unionvote.domain.questionnaire import (
    MAX_ANSWER_CHARS,
    AnswerProblem,
    QuestionnaireError,
    QuestionnaireFileError,
    count_words,
    has_control_characters,
    local_time,
)
from unionvote.errors import UnionVoteError
from unionvote.mail import Mailer
from unionvote.services.context import Services
from unionvote.services.questionnaire import (
    MAX_DECLINE_WORDS,
    REPLACED_LINK,
    AnswerForm,
    CampaignInput,
    ContactInput,
    DefinitionPreview,
    Publication,
    SendReport,
    answer_form,
    check_decline,
    definition_text,
    do_add_campaign,
    do_add_contact,
    do_close,
    do_decline,
    do_define_questionnaire,
    do_import_campaigns,
    do_open_correction,
    do_open_form,
    do_publish,
    do_record_bounce,
    do_replace_contact,
    do_save_draft,
    do_send_links,
    do_send_reminders,
    do_submit,
    endorsement_links,
    overview,
    preview_definition,
    publication_view,
    published_questionnaire,
    published_view,
    questionnaires,
)
from unionvote.services.questionnaire_pdf import comparison_pdf, pdf_name
from unionvote.services.staff import Role, StaffIdentity
from unionvote.web.auth import CommitteeMember, StaffViewer
from unionvote.web.deps import Lang, ServicesDep
from unionvote.web.i18n import gettext as _
from unionvote.web.pages import render
from unionvote.web.security import link_csrf_token
from unionvote.web.settings import WebSettings

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_FORM_NOTICE: Final = "questionnaire_notice"
_STAFF_NOTICE: Final = "questionnaire_staff_notice"
_FIELD: Final = "q-"  # the form field of question ``id`` is ``q-<id>``
_MAX_FIELD_CHARS: Final = 60_000
_NO_STORE: Final = {"cache-control": "no-store"}
_SHA256: Final = re.compile(r"[0-9a-f]{64}")


def _time(value: datetime.datetime | None, zone: datetime.tzinfo = datetime.UTC) -> str:
    """A time as every page shows it: to the minute, in the questionnaire's zone (the offset
    its due date was written with) and naming it (``UTC`` or ``UTC-05:00``); "" for none."""
    if value is None:
        return ""
    return local_time(value, zone)


def _iso(value: datetime.datetime | None) -> str:
    return "" if value is None else value.astimezone(datetime.UTC).isoformat()


def _status_words() -> dict[str, str]:
    """Each status, of a campaign (committee) or a candidate (members), in plain words."""
    return {
        # the members' comparison
        "answered": _("Answered"),
        "declined": _("Declined to answer"),
        "did-not-respond": _("Did not respond"),
        "awaiting": _("No answer yet"),
        # the committee's overview
        "not-sent": _("Not sent yet"),
        "sent": _("Sent"),
        "bounced": _("Bounced"),
        "opened": _("Opened the form"),
        "draft": _("Draft saved"),
        "submitted": _("Submitted"),
        "no-response": _("Did not respond by the due date"),
    }


def _event_words() -> dict[str, str]:
    return {
        "sent": _("Link sent"),
        "bounced": _("Bounced"),
        "reminded": _("Reminder sent"),
        "opened": _("Opened the form"),
        "draft-saved": _("Draft saved"),
        "submitted": _("Submitted"),
        "declined": _("Declined"),
        "no-response": _("No response by the due date"),
        "correction-opened": _("Correction opened"),
        "confirmation-sent": _("Confirmation sent"),
        "confirmation-bounced": _("Confirmation bounced"),
        "send-failed": _("Not sent (temporary failure; sent again next time)"),
        "contact-added": _("Contact added"),
        "contact-replaced": _("Address replaced"),
        "bounce-cleared": _("Address works again (bounce cleared)"),
    }


def _policy_words() -> dict[str, str]:
    return {
        "publish-all": _("Every answer is published as the campaign gave it."),
        "who-answered": _("Only whether each campaign answered is published, not the answers."),
        "private": _("The committee keeps the answers private."),
    }


def _page(
    request: Request, template: str, context: Mapping[str, Any], status: int = 200
) -> Response:
    zone = context.get("zone", datetime.UTC)

    def time(value: datetime.datetime | None, in_zone: datetime.tzinfo | None = None) -> str:
        return _time(value, in_zone or zone)

    values = {
        "time": time,
        "iso": _iso,
        "status_words": _status_words(),
        "event_words": _event_words(),
        "policy_words": _policy_words(),
    }
    values.update(context)
    return render(request, template, values, status_code=status)


def _mail_server(request: Request) -> Mailer | None:
    """The site's mail server, as it answers (``app.state.mail_server``): a refusal must reach
    the service, which records it as a bounce. The members' one-time codes go through the quiet
    wrapper (``app.state.mailer``) instead, which hides a refusal."""
    return cast(Mailer | None, request.app.state.mail_server)


def _settings(request: Request) -> WebSettings:
    return cast(WebSettings, request.app.state.settings)


def _site_url(request: Request) -> str:
    """The address every emailed link starts with: the ``public_url`` setting
    (UNIONVOTE_PUBLIC_URL), never the request's Host header, which a client chooses. Only a
    local rehearsal (``dev``) falls back to the address the request came to."""
    settings = _settings(request)
    if settings.public_url:
        return settings.public_url
    if settings.dev:
        return str(request.base_url).rstrip("/")
    raise QuestionnaireError(
        "questionnaire.public-url",
        _(
            "The site's public address is not set (UNIONVOTE_PUBLIC_URL, such as "
            "https://vote.example.org): no link was emailed."
        ),
    )


# -- the campaign's answer form ----------------------------------------------------------------


def _link_refusals() -> dict[str, tuple[int, str]]:
    """What the campaign reads when its link or its post is refused; nothing was changed."""
    return {
        "questionnaire.link": (
            404,
            _(
                "This link is not valid. Check that you copied the whole link from the email, "
                "or ask the committee for a new one."
            ),
        ),
        "questionnaire.expired": (
            410,
            _(
                "This link has expired: the due date has passed, or a newer link was sent to "
                "your campaign. Ask the committee if you need a new one."
            ),
        ),
        "questionnaire.due": (
            410,
            _("The due date has passed: answers can no longer be changed. Nothing was saved."),
        ),
        "questionnaire.submitted": (
            409,
            _(
                "Your answers were already submitted and are frozen. Nothing was changed. To "
                "correct them, ask the committee to open a correction."
            ),
        ),
        "questionnaire.declined": (
            409,
            _("Your campaign declined this questionnaire. Nothing was changed."),
        ),
        "questionnaire.decline-after-submit": (
            409,
            _(
                "Your campaign has submitted answers already: during a correction you can "
                "submit a new version, not decline. Nothing was changed."
            ),
        ),
        "questionnaire.unknown": (404, _("There is no such questionnaire.")),
    }


def _dated_refusal(error: QuestionnaireError) -> str | None:
    """The refusal with the time it names (the due date, when the link was replaced, when the
    answers were submitted or the campaign declined), in the questionnaire's zone; None when
    the refusal names no time."""
    if error.at is None:
        return None
    at = _time(error.at, error.zone)
    if error.check == "questionnaire.expired" and error.detail.startswith(REPLACED_LINK):
        return _(
            "This link was replaced by a newer one on %(at)s. Use the link in the latest email "
            "from the committee."
        ) % {"at": at}
    if error.check == "questionnaire.expired":
        return _(
            "This link has expired: the questionnaire was due on %(at)s. Answers are no longer "
            "accepted."
        ) % {"at": at}
    if error.check == "questionnaire.due":
        return _(
            "The questionnaire was due on %(at)s: answers are no longer accepted. Nothing was "
            "saved."
        ) % {"at": at}
    if error.check == "questionnaire.submitted":
        return _(
            "Your answers were submitted on %(at)s and are frozen. Nothing was changed. To "
            "correct them, ask the committee to open a correction."
        ) % {"at": at}
    if error.check == "questionnaire.declined":
        return _(
            "Your campaign declined this questionnaire on %(at)s. Nothing was changed. To answer "
            "after all, ask the committee to reopen it for you."
        ) % {"at": at}
    return None


def _refused(request: Request, error: QuestionnaireError) -> Response:
    status, message = _link_refusals().get(error.check, (422, error.detail))
    message = _dated_refusal(error) or message
    response = _page(
        request, "questionnaire/refused.html", {"message": message, "check": error.check}, status
    )
    response.headers.update(_NO_STORE)
    return response


def _problem_message(check: str, kind: str, value: str, max_words: int | None) -> str:
    if has_control_characters(value):
        return _(
            "This answer holds a control character (one pasted from another program, perhaps): "
            "remove it."
        )
    if check == "questionnaire.too-long" and count_words(value) <= (max_words or 0):
        return _(
            "This answer is %(chars)d characters long; at most %(limit)d are allowed. Shorten it."
        ) % {"chars": len(value), "limit": MAX_ANSWER_CHARS}
    if check == "questionnaire.too-long":
        return _("This answer has %(words)d words; at most %(limit)d are allowed. Shorten it.") % {
            "words": count_words(value),
            "limit": max_words or 0,
        }
    if check == "questionnaire.incomplete":
        return _("This question needs an answer before you submit.")
    if kind in ("yes-no", "choice"):
        return _("Choose one of the answers offered.")
    if kind == "text":
        return _("This answer cannot be accepted as it is.")
    return _("This question is not part of the questionnaire.")


def _form_page(
    request: Request,
    token: str,
    form: AnswerForm,
    *,
    values: Mapping[str, str] | None = None,
    problems: Mapping[str, str] | None = None,
    error: str | None = None,
    decline_reason: str = "",
    decline_problem: str | None = None,
    decline_back: bool = False,
    status: int = 200,
) -> Response:
    notice = request.session.pop(_FORM_NOTICE, None)
    if isinstance(notice, dict) and isinstance(notice.get("at_iso"), str):
        # The time of the step, shown in the questionnaire's zone like the rest of the form.
        notice["at"] = _time(datetime.datetime.fromisoformat(notice["at_iso"]), form.zone)
    response = _page(
        request,
        "questionnaire/answer.html",
        {
            "token": token,
            "form": form,
            "zone": form.zone,
            "values": values if values is not None else form.answers,
            "problems": problems or {},
            "error": error,
            "notice": (
                notice
                if isinstance(notice, dict) and notice.get("link") == _link_mark(token)
                else None
            ),
            "field": _FIELD,
            "decline_reason": decline_reason,
            "decline_problem": decline_problem,
            "decline_back": decline_back,
            "max_decline_words": MAX_DECLINE_WORDS,
            # The form's CSRF token comes from the link, not the session: it never expires
            # while the link is valid (long answers are not lost to a two-hour session).
            "csrf_token": link_csrf_token(_settings(request).secret, token),
        },
        status,
    )
    response.headers.update(_NO_STORE)
    return response


def _link_mark(token: str) -> str:
    """Which link a notice in the session is for (a digest: the token stays out of cookies)."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


@router.get("/questionnaire/answer/{token}")
def open_form(request: Request, token: str, services: ServicesDep, lang: Lang) -> Response:
    notice = request.session.get(_FORM_NOTICE)
    try:
        if isinstance(notice, dict) and notice.get("link") == _link_mark(token):
            # The redirect after a save, a submission or a decline: not a new opening.
            form = answer_form(services, token, language=lang)
        else:
            form = do_open_form(services, token, language=lang)
    except QuestionnaireError as error:
        return _refused(request, error)
    return _form_page(request, token, form)


async def _posted_answers(request: Request) -> tuple[str, dict[str, str]]:
    """The action and the answers of the posted form (``q-<id>`` fields; anything else but the
    CSRF token and the action is left out, an unknown question id is the service's refusal)."""
    posted = await request.form()
    answers: dict[str, str] = {}
    for name, value in posted.multi_items():
        if name.startswith(_FIELD) and isinstance(value, str):
            answers[name.removeprefix(_FIELD)] = value[: _MAX_FIELD_CHARS + 1]
    action = posted.get("action")
    return (action if isinstance(action, str) else ""), answers


@router.post("/questionnaire/answer/{token}")
async def post_answers(request: Request, token: str, services: ServicesDep, lang: Lang) -> Response:
    action, answers = await _posted_answers(request)
    try:
        if action == "submit":
            submission = do_submit(services, token, answers, _mail_server(request), language=lang)
            request.session[_FORM_NOTICE] = {
                "kind": "submitted",
                "link": _link_mark(token),
                "version": submission.version,
                "at_iso": submission.submitted_at.isoformat(),
                "digest": submission.digest,
                "to": list(submission.confirmation_to),
            }
        else:
            saved = do_save_draft(services, token, answers)
            request.session[_FORM_NOTICE] = {
                "kind": "draft",
                "link": _link_mark(token),
                "at_iso": saved.saved_at.isoformat(),
                "answered": saved.answered,
                "total": saved.total,
            }
    except QuestionnaireError as error:
        if not error.problems:
            return _refused(request, error)
        try:
            # Shown again beside the refusal: not a new opening (nothing is recorded).
            form = answer_form(services, token, language=lang)
        except QuestionnaireError as again:
            return _refused(request, again)
        questions = {q.id: q for q in form.questions}
        problems: dict[str, str] = {}
        for problem in error.problems:
            question = questions.get(problem.question_id)
            problems[problem.question_id] = _problem_message(
                problem.check,
                question.kind if question is not None else "",
                answers.get(problem.question_id, ""),
                question.max_words if question is not None else None,
            )
        message = (
            _("Nothing was submitted. Correct the answers marked below, then submit again.")
            if action == "submit"
            else _("Nothing was saved. Correct the answers marked below, then save again.")
        )
        return _form_page(
            request, token, form, values=answers, problems=problems, error=message, status=422
        )
    return RedirectResponse(f"/questionnaire/answer/{token}#top", status_code=303)


def _decline_refused(
    request: Request,
    services: Services,
    token: str,
    lang: str,
    error: QuestionnaireError,
    reason: str,
) -> Response:
    """A decline refused: a reason over its word limit shows the form again with the reason
    kept and its word count beside it; any other refusal is the refusal's page."""
    if error.check != "questionnaire.too-long":
        return _refused(request, error)
    try:
        form = answer_form(services, token, language=lang)
    except QuestionnaireError as again:
        return _refused(request, again)
    problem = _(
        "Your reason has %(words)d words; at most %(limit)d are allowed. Shorten it, then "
        "decline again."
    ) % {"words": count_words(reason), "limit": MAX_DECLINE_WORDS}
    return _form_page(
        request,
        token,
        form,
        error=_("Nothing was changed: your campaign has not declined."),
        decline_reason=reason,
        decline_problem=problem,
        status=422,
    )


@router.post("/questionnaire/answer/{token}/decline")
def decline(
    request: Request,
    token: str,
    services: ServicesDep,
    lang: Lang,
    reason: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
) -> Response:
    """Declining takes two posts. The first (the form's "Decline" button, ``confirm``
    absent) checks everything the decline would and shows a page that asks again, saying
    what members will see; it records nothing. "Yes, decline" (``confirm=yes``) records it;
    "Go back to the form" (``confirm=no``) shows the form again with the reason kept."""
    reason = reason[: _MAX_FIELD_CHARS + 1]
    try:
        if confirm == "yes":
            declined = do_decline(
                services, token, reason.strip(), _mail_server(request), language=lang
            )
        elif confirm == "no":
            # Shown again with the reason kept: not a new opening (nothing is recorded).
            form = answer_form(services, token, language=lang)
            return _form_page(request, token, form, decline_reason=reason, decline_back=True)
        else:
            form = check_decline(services, token, reason.strip(), language=lang)
            response = _page(
                request,
                "questionnaire/decline_confirm.html",
                {
                    "token": token,
                    "form": form,
                    "zone": form.zone,
                    "reason": reason.strip(),
                    "csrf_token": link_csrf_token(_settings(request).secret, token),
                },
            )
            response.headers.update(_NO_STORE)
            return response
    except QuestionnaireError as error:
        return _decline_refused(request, services, token, lang, error, reason)
    request.session[_FORM_NOTICE] = {
        "kind": "declined",
        "link": _link_mark(token),
        "at_iso": declined.declined_at.isoformat(),
    }
    return RedirectResponse(f"/questionnaire/answer/{token}#top", status_code=303)


# -- the committee's pages ---------------------------------------------------------------------


def _staff_notices() -> dict[str, str]:
    return {
        "defined": _("The questionnaire is saved."),
        "imported": _("The campaigns are imported."),
        "closed": _(
            "The questionnaire is closed: every campaign that did not answer is recorded as "
            "not responding."
        ),
        "published": _("The comparison is published for members."),
        "correction": _("A correction is open: the campaign can submit a new version."),
    }


def _take_staff_notice(request: Request) -> str | None:
    notice = request.session.pop(_STAFF_NOTICE, None)
    if isinstance(notice, str):
        return _staff_notices().get(notice, notice)
    return None


# The file a new questionnaire starts from on the committee's page (docs/questionnaire.md).
NEW_QUESTIONNAIRE: Final = """\
format = "unionvote-questionnaire/1"
key = "issues-2026"             # lower-case letters, digits and hyphens
version = 1                     # a new definition of the same key needs a higher version
title = "Candidate Questionnaire"
introduction = "Our members want to know where you stand."
office = "Governor"             # the office the campaigns seek
due = 2026-09-01T23:59:00Z      # answers are due by this time (UTC)
reminders = [7, 2]              # days before the due date
publication = "publish-all"     # or "who-answered", or "private"
answer_required_for_forum = false

[[questions]]
id = "pro-act"
kind = "yes-no"
text = "Will you support the right to organize?"

[[questions]]
id = "priority"
kind = "choice"
text = "Which is your first priority?"
choices = ["Wages", "Health care", "Pensions"]

[[questions]]
id = "plan"
kind = "text"
text = "What is your plan for good jobs?"
help = "Please answer in 150 words or fewer."
max_words = 150

[translations.es]
"Candidate Questionnaire" = "Cuestionario para candidatos"
"""


def _next_version(text: str, version: int) -> str:
    """The saved file with its ``version`` raised by one: what a new definition needs."""
    return re.sub(
        rf"(?m)^(version\s*=\s*){version}(\s*(#.*)?)$",
        lambda m: f"{m[1]}{version + 1}{m[2]}",
        text,
        count=1,
    )


@router.get("/committee/questionnaires")
def committee_list(request: Request, services: ServicesDep, identity: StaffViewer) -> Response:
    return _list_page(request, services, identity)


def _list_page(
    request: Request,
    services: Services,
    identity: StaffIdentity,
    *,
    error: str | None = None,
    text: str = "",
    status: int = 200,
) -> Response:
    return _page(
        request,
        "questionnaire/committee_list.html",
        {
            "identity": identity,
            "can_act": identity.role is Role.COMMITTEE,
            "items": questionnaires(services),
            "notice": _take_staff_notice(request),
            "error": error,
            "text": text or NEW_QUESTIONNAIRE,
            "file_problems": (),
            "previews": (),
            "current_key": "",
        },
        status,
    )


def _reason(error: UnionVoteError) -> str:
    detail = getattr(error, "detail", str(error))
    return _("This was not done: %(reason)s") % {"reason": detail}


def _definition_page(
    request: Request,
    identity: StaffIdentity,
    text: str,
    *,
    key: str = "",
    error: str | None = None,
    file_problems: tuple[tuple[int, str, str], ...] = (),
    previews: tuple[DefinitionPreview, ...] = (),
    status: int = 200,
) -> Response:
    return _page(
        request,
        "questionnaire/committee_definition.html",
        {
            "identity": identity,
            "can_act": identity.role is Role.COMMITTEE,
            "text": text,
            "current_key": key,
            "error": error,
            "file_problems": file_problems,
            "previews": previews,
        },
        status,
    )


@router.get("/committee/questionnaires/{key}/definition")
def definition(
    request: Request, key: str, services: ServicesDep, identity: StaffViewer
) -> Response:
    version, text = definition_text(services, key)
    shown = _next_version(text, version) if identity.role is Role.COMMITTEE else text
    return _definition_page(request, identity, shown, key=key)


def _file_refusal(
    request: Request, who: StaffIdentity, text: str, error: QuestionnaireError
) -> Response:
    if isinstance(error, QuestionnaireFileError):
        problems = tuple((p.line, p.field, p.message) for p in error.file_problems)
        count = len(problems)
        message = _(
            "Nothing was saved: the file has problems (%(count)d), listed beside it with their "
            "line numbers."
        ) % {"count": count}
        return _definition_page(
            request, who, text, error=message, file_problems=problems, status=422
        )
    return _definition_page(request, who, text, error=_reason(error), status=422)


@router.post("/committee/questionnaires")
def define(
    request: Request,
    services: ServicesDep,
    who: CommitteeMember,
    text: Annotated[str, Form(max_length=60_000)] = "",
    action: Annotated[str, Form(max_length=20)] = "save",
) -> Response:
    if action == "preview":
        try:
            previews = tuple(
                preview_definition(services, text, language=code, source="the file")
                for code in ("en", "es")
            )
        except QuestionnaireError as error:
            return _file_refusal(request, who, text, error)
        return _definition_page(request, who, text, key=previews[0].key, previews=previews)
    try:
        defined = do_define_questionnaire(services.acting_as(who.actor), text, source="the file")
    except QuestionnaireError as error:
        return _file_refusal(request, who, text, error)
    except UnionVoteError as error:
        return _definition_page(request, who, text, error=_reason(error), status=422)
    request.session[_STAFF_NOTICE] = "defined"
    return RedirectResponse(f"/committee/questionnaires/{defined.key}", status_code=303)


def _overview_page(
    request: Request,
    services: Services,
    identity: StaffIdentity,
    key: str,
    *,
    error: str | None = None,
    field_errors: Mapping[str, str] | None = None,
    field_values: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    found = overview(services, key)
    now = services.clock.now()
    return _page(
        request,
        "questionnaire/committee_overview.html",
        {
            "identity": identity,
            "can_act": identity.role is Role.COMMITTEE,
            "o": found,
            "zone": found.zone,
            "past_due": now >= found.due_at,
            "mail_ready": _mail_server(request) is not None,
            "notice": _take_staff_notice(request),
            "error": error,
            "field_errors": field_errors or {},
            "field_values": field_values or {},
        },
        status,
    )


@router.get("/committee/questionnaires/{key}")
def committee_overview(
    request: Request, key: str, services: ServicesDep, identity: StaffViewer
) -> Response:
    return _overview_page(request, services, identity, key)


def _act(
    request: Request,
    services: Services,
    who: StaffIdentity,
    key: str,
    action: Callable[[Services], str],
) -> Response:
    """Run one committee action; the notice (its result in words) is shown after a redirect."""
    try:
        notice = action(services.acting_as(who.actor))
    except UnionVoteError as error:
        return _overview_page(request, services, who, key, error=_reason(error), status=409)
    request.session[_STAFF_NOTICE] = notice
    return RedirectResponse(f"/committee/questionnaires/{key}", status_code=303)


def _needs_mail(request: Request) -> Mailer:
    mailer = _mail_server(request)
    if mailer is None:
        raise QuestionnaireError(
            "questionnaire.mail",
            _("No mail server is set up for the site (UNIONVOTE_SMTP_HOST)."),
        )
    return mailer


def _sent_words(sent: int, bounced: int, failed: int, skipped: int) -> str:
    return _(
        "Sent: %(sent)d. Bounced: %(bounced)d. Not sent (try again later): %(failed)d. "
        "Skipped (answered, declined or no contact): %(skipped)d."
    ) % {"sent": sent, "bounced": bounced, "failed": failed, "skipped": skipped}


def _reminder_words(report: SendReport) -> str:
    """What "Send reminders" did, with the reason for every campaign it left out."""
    waiting = report.not_due_yet + report.reminded_already
    words = [
        _("Reminders are sent.")
        if report.sent or report.bounced or report.failed
        else _("No reminder was sent.")
    ]
    words.append(_sent_words(report.sent, report.bounced, report.failed, report.skipped - waiting))
    if report.not_due_yet:
        if report.next_reminder_at is not None:
            words.append(
                _(
                    "Not reminded: %(count)d, because no reminder day has come yet; the next "
                    "is on %(at)s."
                )
                % {
                    "count": report.not_due_yet,
                    "at": _time(report.next_reminder_at, report.zone),
                }
            )
        else:
            words.append(
                _("Not reminded: %(count)d, because the questionnaire's file sets no reminder day.")
                % {"count": report.not_due_yet}
            )
    if report.reminded_already:
        words.append(
            _("Already sent a link or reminder since the latest reminder day: %(count)d.")
            % {"count": report.reminded_already}
        )
        if report.next_reminder_at is not None:
            words.append(
                _("The next reminder day is %(at)s.")
                % {"at": _time(report.next_reminder_at, report.zone)}
            )
    return " ".join(words)


@router.post("/committee/questionnaires/{key}/campaigns")
def import_campaigns(
    request: Request,
    key: str,
    services: ServicesDep,
    who: CommitteeMember,
    csv_text: Annotated[str, Form(max_length=60_000)] = "",
) -> Response:
    def action(acting: Services) -> str:
        imported = do_import_campaigns(acting, key, csv_text, source="the committee's page")
        return _("Campaigns added: %(added)d. Updated: %(updated)d.") % {
            "added": imported.added,
            "updated": imported.updated,
        }

    return _act(request, services, who, key, action)


@router.post("/committee/questionnaires/{key}/send")
def send_links(request: Request, key: str, services: ServicesDep, who: CommitteeMember) -> Response:
    def action(acting: Services) -> str:
        report = do_send_links(acting, key, _needs_mail(request), base_url=_site_url(request))
        return (
            _("The personal links are sent.")
            + " "
            + _sent_words(report.sent, report.bounced, report.failed, report.skipped)
        )

    return _act(request, services, who, key, action)


@router.post("/committee/questionnaires/{key}/remind")
def send_reminders(
    request: Request, key: str, services: ServicesDep, who: CommitteeMember
) -> Response:
    def action(acting: Services) -> str:
        report = do_send_reminders(acting, key, _needs_mail(request), base_url=_site_url(request))
        return _reminder_words(report)

    return _act(request, services, who, key, action)


@router.post("/committee/questionnaires/{key}/campaigns/{candidate}/resend")
def resend_link(
    request: Request, key: str, candidate: str, services: ServicesDep, who: CommitteeMember
) -> Response:
    def action(acting: Services) -> str:
        report = do_send_links(
            acting, key, _needs_mail(request), base_url=_site_url(request), candidate=candidate
        )
        return (
            _("A new personal link is sent; the earlier one no longer works.")
            + " "
            + (_sent_words(report.sent, report.bounced, report.failed, report.skipped))
        )

    return _act(request, services, who, key, action)


@router.post("/committee/questionnaires/{key}/campaigns/{candidate}/correction")
def open_correction(
    request: Request,
    key: str,
    candidate: str,
    services: ServicesDep,
    who: CommitteeMember,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    def action(acting: Services) -> str:
        do_open_correction(acting, key, candidate, reason.strip())
        return "correction"

    return _act(request, services, who, key, action)


@router.post("/committee/questionnaires/{key}/close")
def close(request: Request, key: str, services: ServicesDep, who: CommitteeMember) -> Response:
    def action(acting: Services) -> str:
        do_close(acting, key)
        return "closed"

    return _act(request, services, who, key, action)


@router.post("/committee/questionnaires/{key}/publish")
def publish(
    request: Request,
    key: str,
    services: ServicesDep,
    who: CommitteeMember,
    early: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    def action(acting: Services) -> str:
        do_publish(acting, key, early=early == "yes")
        return "published"

    return _act(request, services, who, key, action)


@router.get("/committee/questionnaires/{key}/comparison")
def committee_preview(
    request: Request, key: str, services: ServicesDep, identity: StaffViewer, lang: Lang
) -> Response:
    view = publication_view(services, key, language=lang, committee=True)
    return _comparison_page(request, view, preview=True, identity=identity)


# -- campaigns and contacts, one at a time ---------------------------------------------------


def _field_message(problem: AnswerProblem) -> str:
    """A campaign or contact problem in the committee's language, shown beside its field."""
    field, check = problem.question_id, problem.check
    if field == "key":
        return _("Use lower-case letters, digits and hyphens, such as rivera.")
    if check == "missing":
        return _("This is needed.")
    if check == "too-long":
        return _("This is too long.")
    if check == "unknown-party":
        return _(
            "This party is not one of those the questionnaire's file lists (its parties): "
            "check the spelling, or add the party to the file."
        )
    if check == "duplicate":
        return _("This address is already a contact of this campaign.")
    if check == "same":
        return _("The new address is the same as the old one.")
    if check == "invalid" and field in ("name", "party", "office", "contact-name-0"):
        return _("This holds a control character (pasted from another program?): retype it.")
    if field.startswith("contact-email") or field == "email":
        return _("Enter an email address, such as name@example.org.")
    if field.startswith("contact-language"):
        return _("Choose English or Spanish.")
    return problem.message


def _field_refusal(
    request: Request,
    services: Services,
    who: StaffIdentity,
    key: str,
    error: QuestionnaireError,
    ids: Mapping[str, str],
    values: Mapping[str, str],
) -> Response:
    """The overview again, each problem beside its field (``ids``: the service's field name →
    the input's id), with what was typed kept."""
    errors: dict[str, str] = {}
    for problem in error.problems:
        input_id = ids.get(problem.question_id)
        if input_id is not None:
            errors.setdefault(input_id, _field_message(problem))
    message = _("Nothing was saved. Correct the fields marked below.") if errors else _reason(error)
    return _overview_page(
        request,
        services,
        who,
        key,
        error=message,
        field_errors=errors,
        field_values=values,
        status=422,
    )


def _key_of(name: str) -> str:
    """A campaign key from the candidate's name when none is given: "Ana Rivera" → "ana-rivera"."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:63].strip("-")


_Text = Annotated[str, Form(max_length=400)]


@router.post("/committee/questionnaires/{key}/campaigns/new")
def add_campaign(
    request: Request,
    key: str,
    services: ServicesDep,
    who: CommitteeMember,
    name: _Text = "",
    party: _Text = "",
    office: _Text = "",
    candidate_key: _Text = "",
    contact_name: _Text = "",
    contact_email: _Text = "",
    contact_language: _Text = "en",
) -> Response:
    campaign = CampaignInput(
        key=candidate_key.strip() or _key_of(name),
        name=name,
        party=party,
        office=office,
        contacts=(ContactInput(contact_name, contact_email.strip(), contact_language),),
    )
    values = {
        "new-key": candidate_key,
        "new-name": name,
        "new-party": party,
        "new-office": office,
        "new-contact-name": contact_name,
        "new-contact-email": contact_email,
        "new-contact-language": contact_language,
    }
    try:
        added = do_add_campaign(services.acting_as(who.actor), key, campaign)
    except QuestionnaireError as error:
        ids = {
            "key": "new-key" if candidate_key.strip() else "new-name",
            "name": "new-name",
            "party": "new-party",
            "office": "new-office",
            "contact-name-0": "new-contact-name",
            "contact-email-0": "new-contact-email",
            "contact-language-0": "new-contact-language",
        }
        return _field_refusal(request, services, who, key, error, ids, values)
    request.session[_STAFF_NOTICE] = _(
        "The campaign of %(name)s is saved (key %(key)s). Send the personal links to mail it."
    ) % {"name": campaign.name.strip(), "key": added}
    return RedirectResponse(f"/committee/questionnaires/{key}", status_code=303)


@router.post("/committee/questionnaires/{key}/campaigns/{candidate}/contacts")
def add_contact(
    request: Request,
    key: str,
    candidate: str,
    services: ServicesDep,
    who: CommitteeMember,
    contact_name: _Text = "",
    contact_email: _Text = "",
    contact_language: _Text = "en",
) -> Response:
    prefix = f"add-{candidate}"
    try:
        do_add_contact(
            services.acting_as(who.actor),
            key,
            candidate,
            ContactInput(contact_name, contact_email.strip(), contact_language),
        )
    except QuestionnaireError as error:
        ids = {
            "contact-name-0": f"{prefix}-name",
            "contact-email-0": f"{prefix}-email",
            "contact-language-0": f"{prefix}-language",
        }
        values = {
            f"{prefix}-name": contact_name,
            f"{prefix}-email": contact_email,
            f"{prefix}-language": contact_language,
        }
        return _field_refusal(request, services, who, key, error, ids, values)
    request.session[_STAFF_NOTICE] = _(
        "The contact %(email)s is added. Send the personal links to mail them a link."
    ) % {"email": contact_email.strip()}
    return RedirectResponse(f"/committee/questionnaires/{key}", status_code=303)


@router.post("/committee/questionnaires/{key}/campaigns/{candidate}/contacts/{index}")
def change_contact(
    request: Request,
    key: str,
    candidate: str,
    index: int,
    services: ServicesDep,
    who: CommitteeMember,
    email: _Text = "",
    new_email: _Text = "",
    action: _Text = "replace",
) -> Response:
    """Mark one contact's address as bounced, or replace it with a new address."""
    acting = services.acting_as(who.actor)
    input_id = f"replace-{candidate}-{index}"
    try:
        if action == "bounced":
            do_record_bounce(acting, key, candidate, email, "marked by the committee")
            notice = _("%(email)s is marked as bounced: it is no longer mailed.") % {
                "email": email.strip()
            }
        else:
            do_replace_contact(acting, key, candidate, email, new_email, detail="replaced")
            same = new_email.strip().lower() == email.strip().lower()
            notice = (
                _("%(email)s works again: it is mailed from now on.") % {"email": email.strip()}
                if same
                else _(
                    "%(old)s is replaced by %(new)s. The next sending of the personal links goes "
                    "to the new address."
                )
                % {"old": email.strip(), "new": new_email.strip()}
            )
    except QuestionnaireError as error:
        ids = {"contact-email-0": input_id, "email": input_id}
        return _field_refusal(request, services, who, key, error, ids, {input_id: new_email})
    request.session[_STAFF_NOTICE] = notice
    return RedirectResponse(f"/committee/questionnaires/{key}", status_code=303)


# -- for members -------------------------------------------------------------------------------


def _comparison_page(
    request: Request,
    view: Publication,
    *,
    preview: bool = False,
    identity: StaffIdentity | None = None,
) -> Response:
    answers: dict[str, dict[str, str]] = {}
    for candidate in view.candidates:
        if candidate.answers is not None:
            answers[candidate.key] = {a.question_id: a.display for a in candidate.answers}
    return _page(
        request,
        "questionnaire/comparison.html",
        {
            "view": view,
            "zone": view.zone,
            "answers": answers,
            "preview": preview,
            "identity": identity,
            "pdf": {code: pdf_name(view.key, code) for code in ("en", "es")},
            # An earlier publication shown by its SHA-256: its files, not the latest ones.
            "version_query": (
                f"?sha256={view.published.sha256}"
                if view.newer is not None and view.published is not None
                else ""
            ),
        },
    )


def _published_view(
    services: Services, key: str, language: str, sha256: str | None = None
) -> Publication:
    """What members read: the latest published file, or the one with ``sha256`` (the one the
    endorsement record links), never the live answers; a correction shows once the committee
    publishes again."""
    if sha256 is not None and not _SHA256.fullmatch(sha256):
        raise QuestionnaireError("questionnaire.not-published", "not a SHA-256")
    return published_view(services, key, language=language, sha256=sha256)


@router.get("/questionnaires")
def published_list(request: Request, services: ServicesDep) -> Response:
    return _page(request, "questionnaire/published.html", {"items": endorsement_links(services)})


@router.get("/questionnaires/{key}")
def comparison(
    request: Request, key: str, services: ServicesDep, lang: Lang, sha256: str | None = None
) -> Response:
    try:
        view = _published_view(services, key, lang, sha256)
    except QuestionnaireError as error:
        return _not_published(request, error)
    return _comparison_page(request, view)


def _not_published(request: Request, error: QuestionnaireError) -> Response:
    if error.check in ("questionnaire.private", "questionnaire.not-published"):
        message = _("The answers to this questionnaire are not published.")
    elif error.check == "questionnaire.unknown":
        message = _("There is no such questionnaire.")
    else:
        message = error.detail
    return _page(
        request, "questionnaire/refused.html", {"message": message, "check": error.check}, 404
    )


@router.get("/questionnaires/{key}/{name}")
def published_file(
    request: Request, key: str, name: str, services: ServicesDep, sha256: str | None = None
) -> Response:
    try:
        for language in ("en", "es"):
            if name == pdf_name(key, language):
                view = _published_view(services, key, language, sha256)
                return Response(
                    comparison_pdf(view),
                    media_type="application/pdf",
                    headers={"content-disposition": f'inline; filename="{name}"'},
                )
        if sha256 is not None and not _SHA256.fullmatch(sha256):
            raise QuestionnaireError("questionnaire.not-published", "not a SHA-256")
        published = published_questionnaire(services, key, sha256=sha256)
    except QuestionnaireError as error:
        return _not_published(request, error)
    if name != published.name:
        return _page(
            request,
            "questionnaire/refused.html",
            {"message": _("There is no page at this address."), "check": "http.404"},
            404,
        )
    return Response(
        published.content,
        media_type="application/json",
        headers={
            "content-disposition": f'attachment; filename="{published.name}"',
            "x-content-sha256": published.sha256,
        },
    )
