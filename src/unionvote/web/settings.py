"""The website's settings, read from the environment once, by the composition root.

``UNIONVOTE_*`` variables, and ``DATABASE_URL`` exactly as the command line reads it. In
``dev`` mode (a local rehearsal over plain http) the session secret is random per start and
cookies are not marked ``Secure``; outside ``dev`` a secret must be given.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Self

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from unionvote.errors import UnionVoteError
from unionvote.storage.database import DEFAULT_URL

__all__ = ["REPO_ROOT", "WebSettings"]

REPO_ROOT = Path(__file__).resolve().parents[3]
"""The checkout's root, where ``npm install`` puts ``node_modules`` (an editable install)."""


class WebSettings(BaseSettings):
    """What ``unionvote serve`` runs with."""

    model_config = SettingsConfigDict(env_prefix="UNIONVOTE_", extra="ignore")

    database_url: str = Field(
        default=DEFAULT_URL, validation_alias=AliasChoices("DATABASE_URL", "UNIONVOTE_DATABASE_URL")
    )
    dev: bool = False
    """A local rehearsal over http: random session secret, cookies without ``Secure``."""
    session_secret: SecretStr | None = None
    node_modules: Path = REPO_ROOT / "node_modules"
    max_body_bytes: int = 64 * 1024
    max_trustee_upload_bytes: int = 16 * 1024 * 1024
    """A trustee's partial decryption carries proofs for every published group's totals."""
    max_answer_body_bytes: int = 1024 * 1024
    """A campaign's questionnaire answers by its personal link: long free-text answers (up to
    each question's word limit, at most 60,000 characters each) must fit."""
    # One-time codes by email, to register and to sign in (offered only with a mail server).
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout: float = 30.0
    mail_sender: str = "elections@localhost"
    public_url: str | None = None
    """The site's address as members and campaigns reach it (``https://vote.example.org``):
    every link the site emails is made from it, never from the request's Host header.
    Outside ``dev`` the site refuses to email a link without it."""
    questionnaire_reminders: bool = False
    """Send the candidate questionnaires' reminders from the web server, daily (and once at
    start-up), and record "no response" when a due date passes: for a site without cron
    (``unionvote serve --send-reminders``). Needs the mail server and ``public_url``."""
    questionnaire_reminder_hour: int = Field(default=9, ge=0, le=23)
    """The hour (0-23, in each questionnaire's own zone) the daily reminders go."""
    verify_board: bool = True
    """Verify each stage's record in the background when its board is shown and it grew."""
    board_check_interval_seconds: int = Field(default=15 * 60, ge=60)
    """At most one background check of a stage's record per this many seconds (and one
    check at a time for the whole site)."""
    cast_threads: int = Field(default=4, ge=1, le=64)
    """Ballots one server process checks and records at once (each in a thread of its own);
    more wait their turn. A ballot's proof check is CPU work under the interpreter's one
    lock: more of them at once in a process only trade that lock back and forth, which cost
    CPU and stretched every cast's latency (issue 5). Other requests keep the usual pool."""
    # Rate limits: attempts allowed per window, per client address, per member number from
    # one address (sign-in), and per member number from anywhere (codes by email).
    signin_per_address: int = 30
    signin_per_member: int = 10
    codes_per_member: int = 3
    register_per_address: int = 30
    cast_per_address: int = 60
    cast_per_member: int = 20
    rate_window_seconds: int = 600

    @model_validator(mode="after")
    def _secret(self) -> Self:
        if self.session_secret is None:
            if not self.dev:
                raise UnionVoteError(
                    "UNIONVOTE_SESSION_SECRET is not set: give a long random secret "
                    "(or UNIONVOTE_DEV=1 for a local rehearsal over http)"
                )
            self.session_secret = SecretStr(secrets.token_urlsafe(32))
        elif len(self.session_secret.get_secret_value()) < 32:
            raise UnionVoteError("UNIONVOTE_SESSION_SECRET must be at least 32 characters")
        if self.public_url is not None:
            url = self.public_url.strip().rstrip("/")
            if not url.startswith(("https://", "http://")) or "?" in url or "#" in url:
                raise UnionVoteError(
                    "UNIONVOTE_PUBLIC_URL must be the site's address, such as "
                    "https://vote.example.org"
                )
            self.public_url = url
        if self.questionnaire_reminders:
            if self.smtp_host is None:
                raise UnionVoteError(
                    "UNIONVOTE_QUESTIONNAIRE_REMINDERS (--send-reminders) needs the mail "
                    "server: set UNIONVOTE_SMTP_HOST"
                )
            if self.public_url is None:
                raise UnionVoteError(
                    "UNIONVOTE_QUESTIONNAIRE_REMINDERS (--send-reminders) needs the site's "
                    "address for the links it emails: set UNIONVOTE_PUBLIC_URL"
                )
        return self

    @property
    def secret(self) -> str:
        assert self.session_secret is not None
        return self.session_secret.get_secret_value()
