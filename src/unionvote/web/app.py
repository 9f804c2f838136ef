"""The website's composition root: :func:`create_app` builds the services, the templates, the
catalogs, the defences and the routes, once, from :class:`WebSettings`.

Routers are included in one place, :func:`_include_routers`: the members' booth, the public
pages and the JSON API (``routes/booth.py``, ``routes/public.py``, ``routes/api.py``), and the
committee's and trustees' pages (``routes/committee.py``, ``routes/trustee.py``).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import mimetypes
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from unionvote import __version__
from unionvote.domain.errors import DomainError
from unionvote.domain.process import Process
from unionvote.mail import Mail, Mailer, MailError, SMTPMailer
from unionvote.services.board import BoardVerifier
from unionvote.services.context import Services
from unionvote.services.process import load_process
from unionvote.services.questionnaire_schedule import ReminderScheduler
from unionvote.storage.database import Database
from unionvote.web.errors import install_error_handlers
from unionvote.web.i18n import Catalogs, choose_language, load_catalogs, using
from unionvote.web.pages import make_environment
from unionvote.web.routes import (
    api,
    booth,
    committee,
    public,
    questionnaire,
    questionnaire_editor,
    trustee,
)
from unionvote.web.security import (
    BodyLimitMiddleware,
    CsrfMiddleware,
    RateLimiter,
    SecurityHeadersMiddleware,
)
from unionvote.web.settings import WebSettings

__all__ = ["SESSION_COOKIE", "STATIC_DIR", "QuietMailer", "build_mailer", "create_app"]

STATIC_DIR: Final = Path(__file__).with_name("static")
SESSION_COOKIE: Final = "unionvote_session"
SESSION_MAX_AGE: Final = 2 * 60 * 60  # a booth session lasts two hours
_VENDOR: Final = {
    "libsodium-wrappers-sumo": "libsodium-wrappers-sumo/dist/modules-sumo-esm",
    "libsodium-sumo": "libsodium-sumo/dist/modules-sumo-esm",
}
_TRUSTEE_UPLOADS: Final = re.compile(r"/trustee/stages/[^/]+/(partial-decryption|ceremony/[a-z-]+)")
"""The only paths that may carry a large body: a trustee's partial decryption and key
ceremony messages."""
_ANSWER_FORMS: Final = re.compile(r"/questionnaire/answer/([^/]+)(?:/decline)?")
"""A campaign's answer form by its personal link (the token is the first group): a larger
body for long answers, and a CSRF token derived from the link rather than the session."""

log = logging.getLogger("unionvote.web")


class LanguageMiddleware:
    """Chooses the request's language (``?lang=``, the ``lang`` cookie, ``Accept-Language``)
    and makes its catalog the one ``gettext`` uses while the request is answered."""

    def __init__(self, app: ASGIApp, *, catalogs: Catalogs) -> None:
        self.app = app
        self.catalogs = catalogs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        language = choose_language(
            request.query_params.get("lang"),
            request.cookies.get("lang"),
            request.headers.get("accept-language"),
        )
        scope.setdefault("state", {})["lang"] = language
        with using(self.catalogs.get(language)):
            await self.app(scope, receive, send)


def _include_routers(app: FastAPI) -> None:
    """Every route module of the site, in one place."""
    app.include_router(public.router)
    app.include_router(booth.router)
    app.include_router(api.router)
    app.include_router(committee.router)
    app.include_router(trustee.router)
    app.include_router(questionnaire.router)
    app.include_router(questionnaire_editor.router)


def _mount_static(app: FastAPI, node_modules: Path) -> None:
    mimetypes.add_type("text/javascript", ".mjs")
    for name, folder in _VENDOR.items():
        directory = node_modules / folder
        if not directory.is_dir():
            log.warning(
                "%s is missing: run `npm install` (the booth needs libsodium.js)", directory
            )
        app.mount(
            f"/static/vendor/{name}",
            StaticFiles(directory=directory, check_dir=False),
            name=f"vendor-{name}",
        )
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


class QuietMailer:
    """The configured mail server, for codes a stranger may ask for: a refusal is logged
    (without the address) and not raised, since a different answer would tell that the card
    number exists and has an address."""

    def __init__(self, mailer: Mailer) -> None:
        self.mailer = mailer

    def send(self, mail: Mail) -> str:
        try:
            return self.mailer.send(mail)
        except MailError as error:
            kind = "refused" if error.permanent else "not sent (temporary)"
            log.warning("a one-time code was %s by the mail server (code %s)", kind, error.code)
            return ""


def build_mailer(settings: WebSettings) -> Mailer | None:
    """The mail server for one-time codes (registration, sign-in), or None without one."""
    if settings.smtp_host is None:
        return None
    password = settings.smtp_password
    return QuietMailer(
        SMTPMailer(
            settings.smtp_host,
            settings.smtp_port,
            settings.mail_sender,
            starttls=settings.smtp_starttls,
            username=settings.smtp_username,
            password=password.get_secret_value() if password is not None else None,
            timeout=settings.smtp_timeout,
        )
    )


def _process(services: Services) -> Process | None:
    """The loaded process (parsed once per digest by ``load_process``), or None before one."""
    try:
        with services.db.sessions() as session:
            return load_process(session).process
    except DomainError:
        return None


class _LoadedProcess:
    """``app.state.process()``: the database's process, read from it until there is one and
    then kept. A database holds one process, and a loaded process never changes
    (``do_init_process`` refuses a second): every page shows the union's name, and reading
    the process's text for each one was a query per page."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.found: Process | None = None

    def __call__(self) -> Process | None:
        if self.found is None:
            self.found = _process(self.services)
        return self.found


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The background work that lives as long as the server: the questionnaires' reminders
    (opt-in, ``UNIONVOTE_QUESTIONNAIRE_REMINDERS``)."""
    scheduler: ReminderScheduler | None = app.state.questionnaire_scheduler
    if scheduler is not None:
        scheduler.start()
    try:
        yield
    finally:
        if scheduler is not None:
            scheduler.stop()


def create_app_from_environment() -> FastAPI:
    """The website as ``unionvote serve --workers N`` runs it in each process: its settings
    from the environment (``UNIONVOTE_*``, ``DATABASE_URL``), which the command set."""
    return create_app(WebSettings())


def create_app(settings: WebSettings, *, services: Services | None = None) -> FastAPI:
    """The website over ``settings.database_url`` (or the given ``services``, for tests)."""
    if services is None:
        database = Database(settings.database_url)
        database.require_schema()
        services = Services(database, actor="web")
    app = FastAPI(
        title="unionvote",
        version=__version__,
        description=(
            "The members' website of unionvote: the booth's JSON API. Ballots are encrypted "
            "and signed in the member's browser; the server checks each fully before it "
            "answers, and answers 201 only once the ballot is durably recorded."
        ),
        docs_url=None,
        redoc_url=None,
        lifespan=_lifespan,
    )
    catalogs = load_catalogs()
    app.state.settings = settings
    app.state.services = services
    app.state.catalogs = catalogs
    app.state.templates = make_environment()
    app.state.mailer = build_mailer(settings)
    # The mail server as it answers, for mail whose refusal the service records as a bounce
    # (the questionnaire's links and confirmations); the quiet wrapper is for one-time codes.
    app.state.mail_server = (
        app.state.mailer.mailer if isinstance(app.state.mailer, QuietMailer) else app.state.mailer
    )
    app.state.questionnaire_scheduler = (
        ReminderScheduler(
            services,
            app.state.mail_server,
            base_url=settings.public_url or "",
            hour=settings.questionnaire_reminder_hour,
        )
        if settings.questionnaire_reminders and app.state.mail_server is not None
        else None
    )
    app.state.process = _LoadedProcess(services)
    app.state.verifier = BoardVerifier(
        services, interval=datetime.timedelta(seconds=settings.board_check_interval_seconds)
    )
    app.state.limiter = RateLimiter(
        window_seconds=settings.rate_window_seconds,
        limits={
            "signin-address": settings.signin_per_address,
            "signin-member": settings.signin_per_member,
            "code-member": settings.codes_per_member,
            "register-address": settings.register_per_address,
            "cast-address": settings.cast_per_address,
            "cast-member": settings.cast_per_member,
        },
    )
    install_error_handlers(app)
    _include_routers(app)
    _mount_static(app, settings.node_modules)
    # Added innermost first: the language is chosen before anything else answers.
    app.add_middleware(CsrfMiddleware, secret=settings.secret, link_paths=_ANSWER_FORMS)
    # Inside the session: only a staff session may send a large upload.
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.max_body_bytes,
        large_limit=settings.max_trustee_upload_bytes,
        large_paths=_TRUSTEE_UPLOADS,
        answer_limit=settings.max_answer_body_bytes,
        answer_paths=_ANSWER_FORMS,
    )
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret,
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        same_site="strict",
        https_only=not settings.dev,
    )
    app.add_middleware(SecurityHeadersMiddleware, hsts=not settings.dev)
    app.add_middleware(LanguageMiddleware, catalogs=catalogs)
    return app
