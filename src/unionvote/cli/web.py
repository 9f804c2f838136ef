"""``unionvote serve``: the members' website (booth, public pages, the committee's and
trustees' pages) with uvicorn, over the same database as the other commands."""

from __future__ import annotations

import logging
import os
import re
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from unionvote.cli.context import errors, fail

if TYPE_CHECKING:
    from unionvote.web.settings import WebSettings

__all__ = ["serve_command"]


_SECRET_PATHS: Final = re.compile(r"(/questionnaire/answer/)[^/?#]*")
"""Paths that carry a secret: a campaign's personal questionnaire link holds its token."""
REDACTED: Final = "[link]"


def redact_path(path: str) -> str:
    """The path as the access log may show it: no query string, no personal link's token."""
    return _SECRET_PATHS.sub(lambda m: m[1] + REDACTED, path.split("?", 1)[0])


class _NoQueryStrings(logging.Filter):
    """Access log lines name the method, the path and the status: never a query string (a
    tracker or a language is harmless, but nothing typed should reach a log), never a body,
    never the token of a campaign's personal link (``/questionnaire/answer/<token>`` is
    logged as ``/questionnaire/answer/[link]``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_path(args[2]), *args[3:])
        return True


def serve_command(
    host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The port to listen on.")] = 8000,
    database: Annotated[
        str | None,
        typer.Option(
            help="The database URL (default: DATABASE_URL, or unionvote.db here).",
            show_default=False,
        ),
    ] = None,
    dev: Annotated[
        bool,
        typer.Option(
            "--dev",
            help="A local rehearsal over http: cookies without Secure, a random session "
            "secret (else UNIONVOTE_SESSION_SECRET must be set).",
        ),
    ] = False,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(
            help="The address of a reverse proxy whose X-Forwarded-For header names the "
            "member's address (repeat for several). Without it, rate limits per address see "
            "only the proxy.",
            show_default=False,
        ),
    ] = None,
    send_reminders: Annotated[
        bool,
        typer.Option(
            "--send-reminders",
            help="Send the candidate questionnaires' reminders from the server, daily (and at "
            "start-up), and record 'no response' at each due date: for a site without cron "
            "(also UNIONVOTE_QUESTIONNAIRE_REMINDERS=1). Needs UNIONVOTE_SMTP_HOST and "
            "UNIONVOTE_PUBLIC_URL.",
        ),
    ] = False,
    reminder_hour: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=23,
            help="The hour the daily reminders go, in each questionnaire's own zone "
            "(default 9; also UNIONVOTE_QUESTIONNAIRE_REMINDER_HOUR).",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Server processes (default 1). One per core lets the ballot checks use every "
            "core; the rate limits then count per process (see docs/administrator.md), and "
            "--send-reminders needs a single process.",
        ),
    ] = 1,
) -> None:
    """Serve the members' website: the booth, the public board and results, and the
    committee's and trustees' pages."""
    import uvicorn

    from unionvote.web.app import create_app
    from unionvote.web.settings import WebSettings

    with errors():
        overrides: dict[str, object] = {}
        if database is not None:
            overrides["database_url"] = database
        if dev:
            overrides["dev"] = True
        if send_reminders:
            overrides["questionnaire_reminders"] = True
        if reminder_hour is not None:
            overrides["questionnaire_reminder_hour"] = reminder_hour
        settings = WebSettings(**overrides)  # type: ignore[arg-type]
        if workers > 1 and settings.questionnaire_reminders:
            fail(
                "--send-reminders needs a single server process (each would send them): run "
                "`unionvote questionnaire remind` daily from cron instead, or serve with "
                "--workers 1"
            )
        app = create_app(settings)
    logging.getLogger("uvicorn.access").addFilter(_NoQueryStrings())
    proxies = ",".join(trusted_proxy or [])
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": proxies or None,
        "server_header": False,
    }
    if workers == 1:
        typer.echo(f"unionvote serves on http://{host}:{port}/ (Ctrl-C stops it)")
        uvicorn.run(app, **options)
        return
    # Several processes: each builds the same app from the environment, which carries the
    # settings as decided here (a --dev session secret made once, so that every process
    # accepts the others' cookies).
    os.environ.update(_environment_of(settings))
    typer.echo(
        f"unionvote serves on http://{host}:{port}/ with {workers} processes (Ctrl-C stops it)"
    )
    uvicorn.run(
        "unionvote.web.app:create_app_from_environment", factory=True, workers=workers, **options
    )


def _environment_of(settings: WebSettings) -> dict[str, str]:
    """The environment variables that give a worker process these very settings."""
    environment = {"DATABASE_URL": settings.database_url}
    if settings.dev:
        environment["UNIONVOTE_DEV"] = "1"
    environment["UNIONVOTE_SESSION_SECRET"] = settings.secret
    return environment
