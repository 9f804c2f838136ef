"""The website's defences: security headers with a strict Content-Security-Policy, a limit on
request bodies, CSRF tokens, session cookies and rate limits.

- **CSP**: scripts only from this site, plus the one inline import map each page declares,
  allowed by a nonce made fresh for every response; WebAssembly compilation for libsodium
  (``'wasm-unsafe-eval'``, which allows no JavaScript ``eval``); no plugins, no framing, no
  ``<base>``, forms post only here.
- **Body limit**: a request body larger than :attr:`WebSettings.max_body_bytes` is refused
  with 413 before the application reads it (a ballot is a few kilobytes); only a staff
  session's trustee uploads may be larger.
- **CSRF**: a random token kept in the signed session; every POST must carry it, in the form
  field ``csrf_token`` or the ``X-CSRF-Token`` header (a session without a token is refused
  before its body is read). Session cookies are ``HttpOnly``, ``SameSite=Strict`` and
  ``Secure`` (unless the ``dev`` setting serves plain http). Private pages are ``no-store``.
- **Rate limits**: a small, bounded in-memory sliding window per client address (an IPv6
  client by its /64) and per member number; one process serves the site (``unionvote
  serve``), so memory is the right place. Failed sign-ins are also counted in the database
  per member number and address (``services.signin``), never per number alone: a stranger
  must not be able to lock a member out.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import ipaddress
import json
import re
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import parse_qs

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from unionvote.web.i18n import gettext as _

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "STAFF_SESSION_KEY",
    "BodyLimitMiddleware",
    "CsrfMiddleware",
    "RateLimiter",
    "SecurityHeadersMiddleware",
    "TooManyRequests",
    "address_key",
    "content_security_policy",
    "csrf_token",
    "link_csrf_token",
]

CSRF_FIELD: Final = "csrf_token"
STAFF_SESSION_KEY: Final = "staff"
"""The session key that names a signed-in staff member (``web.auth``)."""
CSRF_HEADER: Final = "x-csrf-token"
_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


def content_security_policy(nonce: str) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'wasm-unsafe-eval' 'nonce-{nonce}'",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        ]
    )


_HEADERS: Final = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "permissions-policy": (
        "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
    ),
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}


_PRIVATE_PREFIXES: Final = ("/vote", "/api", "/register", "/staff", "/committee", "/trustee")
"""Pages no cache may keep: a member's or a staff member's own (``no-store``)."""


class SecurityHeadersMiddleware:
    """Adds the security headers to every response; the CSP nonce is made per request and
    put in ``request.state.csp_nonce`` for the templates."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(18)
        scope.setdefault("state", {})["csp_nonce"] = nonce

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["content-security-policy"] = content_security_policy(nonce)
                for name, value in _HEADERS.items():
                    headers[name] = value
                if self.hsts:
                    headers["strict-transport-security"] = "max-age=31536000"
                if scope["path"].startswith(_PRIVATE_PREFIXES):
                    headers["cache-control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _TooLarge(Exception):
    pass


def _plain_error(status: int, check: str, message: str, path: str) -> tuple[bytes, bytes]:
    if path.startswith("/api/"):
        body = json.dumps({"error": {"check": check, "message": message}}).encode()
        return body, b"application/json"
    return message.encode(), b"text/plain; charset=utf-8"


async def _send_error(send: Send, status: int, check: str, message: str, path: str) -> None:
    body, kind = _plain_error(status, check, message, path)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _answer_too_large_page(scope: Scope, limit: int, form_path: str) -> bytes:
    """The page a campaign reads when its answers are over the size limit: in its language,
    with a link back to its form (its draft, as last saved, is there)."""
    language = str(scope.get("state", {}).get("lang", "en"))
    title = html.escape(_("Your answers are too long to be received"))
    text = html.escape(
        _(
            "Nothing was saved: the form you sent is larger than the %(kib)d KiB the site "
            "accepts. Shorten the longest answers (each question says its word limit), or "
            "save them in smaller steps."
        )
        % {"kib": limit // 1024}
    )
    back = html.escape(_("Back to the form"))
    return (
        f'<!DOCTYPE html>\n<html lang="{html.escape(language)}">\n<head>\n'
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n"
        '<link rel="stylesheet" href="/static/css/site.css">\n</head>\n<body>\n<main>\n'
        f"<h1>{title}</h1>\n"
        f'<p role="alert" class="message error" data-check="request.size">{text}</p>\n'
        f'<p><a href="{html.escape(form_path)}">{back}</a></p>\n'
        "</main>\n</body>\n</html>\n"
    ).encode()


def _too_large_message(limit: int) -> str:
    return _("The request is too large: at most %(kib)d KiB is accepted.") % {"kib": limit // 1024}


class BodyLimitMiddleware:
    """Refuses a body larger than ``limit`` bytes with 413, by its Content-Length or, for a
    body sent in pieces, as soon as it passes the limit. Only a path that ``large_paths``
    matches exactly (a trustee's upload: a partial decryption grows with the number of
    published groups), and only in a staff session, may carry up to ``large_limit``: the
    application parses a form before a route's role check, so a stranger's upload must not
    be large."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        large_limit: int | None = None,
        large_paths: re.Pattern[str] | None = None,
        answer_limit: int | None = None,
        answer_paths: re.Pattern[str] | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        self.large_limit = max(limit, large_limit or limit)
        self.large_paths = large_paths
        self.answer_limit = max(limit, answer_limit or limit)
        self.answer_paths = answer_paths

    def _limit_of(self, scope: Scope) -> int:
        path: str = scope["path"]
        staff = bool(scope.get("session", {}).get(STAFF_SESSION_KEY))
        if staff and self.large_paths is not None and self.large_paths.fullmatch(path):
            return self.large_limit
        if self.answer_paths is not None and self.answer_paths.fullmatch(path):
            # A campaign's answers by its personal link (no account, no session needed):
            # long free-text answers within the file's word limits must fit.
            return self.answer_limit
        return self.limit

    async def _refuse(self, scope: Scope, send: Send, limit: int) -> None:
        path: str = scope["path"]
        answer = self.answer_paths.fullmatch(path) if self.answer_paths is not None else None
        if answer is None:
            await _send_error(send, 413, "request.size", _too_large_message(limit), path)
            return
        body = _answer_too_large_page(scope, limit, path.removesuffix("/decline"))
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"text/html; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_of(scope)
        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await self._refuse(scope, send, limit)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(scope, send, limit)


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use."""
    token = request.session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[CSRF_FIELD] = token
    return token


def _form_token(body: bytes, content_type: str) -> str | None:
    if content_type.startswith("application/x-www-form-urlencoded"):
        values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get(CSRF_FIELD)
        return values[0] if values else None
    if content_type.startswith("multipart/form-data"):
        boundary = content_type.partition("boundary=")[2].strip().strip('"')
        if not boundary:
            return None
        marker = f'name="{CSRF_FIELD}"'.encode()
        for part in body.split(b"--" + boundary.encode()):
            head, _sep, value = part.partition(b"\r\n\r\n")
            if marker in head:
                return value.removesuffix(b"\r\n").decode("latin-1")
    return None


def link_csrf_token(secret: str, link_token: str) -> str:
    """The CSRF token of a form reached by a personal link (the questionnaire's answer form):
    derived from the site's secret and the link token's hash, so it lasts as long as the link
    (a campaign writing long answers never loses them to an expired session) and only who
    holds the link can know it."""
    digest = hashlib.sha256(link_token.encode("ascii", "replace")).hexdigest()
    message = b"unionvote questionnaire link form\0" + digest.encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class CsrfMiddleware:
    """Every unsafe request must carry the session's CSRF token (form field or header);
    the body (already limited in size) is read once and handed on unchanged. A post to a
    path ``link_paths`` matches (its first group the personal link's token) carries the
    token derived from the link instead (:func:`link_csrf_token`), session or not."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        secret: str | None = None,
        link_paths: re.Pattern[str] | None = None,
    ) -> None:
        self.app = app
        self.secret = secret
        self.link_paths = link_paths

    def _expected(self, scope: Scope) -> object:
        if self.secret is not None and self.link_paths is not None:
            found = self.link_paths.fullmatch(scope["path"])
            if found is not None:
                return link_csrf_token(self.secret, found[1])
        return scope.get("session", {}).get(CSRF_FIELD)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        expected = self._expected(scope)
        given = headers.get(CSRF_HEADER)
        replay: list[Message] = []
        if isinstance(expected, str) and given is None:
            # Read only when the session has a token to compare with: a session without one
            # is refused before any of its body is read.
            pieces: list[bytes] = []
            while True:
                message = await receive()
                replay.append(message)
                if message["type"] != "http.request":
                    break
                pieces.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            given = _form_token(b"".join(pieces), headers.get("content-type", ""))
        if not (
            isinstance(expected, str)
            and given is not None
            and hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))
        ):
            message_text = _(
                "This form has expired or did not come from this site. Go back, reload the "
                "page and try again."
            )
            await _send_error(send, 403, "request.csrf", message_text, scope["path"])
            return

        async def replayed() -> Message:
            if replay:
                return replay.pop(0)
            return await receive()

        await self.app(scope, replayed, send)


class TooManyRequests(Exception):
    """A rate limit was reached; ``retry_after`` in seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many requests; retry after {retry_after} s")
        self.retry_after = retry_after


def address_key(host: str) -> str:
    """The key rate limits count a client address under: an IPv4 address itself, an IPv6
    address by its /64 (one subscriber's network: rotating addresses inside it is free)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:100]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


@dataclass
class RateLimiter:
    """Sliding windows of attempts, per (bucket, key); thread-safe and bounded.

    Keys are kept in the order they were last hit (an LRU), so the ones whose every attempt
    is outside the window are at the front and are dropped there, a few at each hit; beyond
    ``max_keys`` the least recently hit keys are forgotten. Each hit costs O(1) amortised,
    however many keys are live."""

    window_seconds: int
    limits: Mapping[str, int]
    now: Callable[[], float] = time.monotonic
    max_keys: int = 200_000
    _hits: OrderedDict[tuple[str, str], deque[float]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def hit(self, bucket: str, key: str) -> None:
        """Count one attempt; raises :class:`TooManyRequests` when the bucket's limit for this
        key is already reached within the window (the refused attempt is not counted)."""
        limit = self.limits[bucket]
        at = self.now()
        horizon = at - self.window_seconds
        with self._lock:
            self._forget_old(horizon)
            hits = self._hits.get((bucket, key))
            if hits is None:
                hits = self._hits[(bucket, key)] = deque()
            else:
                self._hits.move_to_end((bucket, key))
            while hits and hits[0] <= horizon:
                hits.popleft()
            if len(hits) >= limit:
                raise TooManyRequests(int(hits[0] + self.window_seconds - at) + 1)
            hits.append(at)
            while len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)

    def __len__(self) -> int:
        return len(self._hits)

    def _forget_old(self, horizon: float) -> None:
        # The front key was hit least recently: if its last attempt is out of the window,
        # all of its attempts are. Each key is dropped once, so the cost is amortised O(1).
        while self._hits:
            oldest = next(iter(self._hits.values()))
            if oldest and oldest[-1] > horizon:
                return
            self._hits.popitem(last=False)
