"""Rendering pages: one Jinja2 environment (autoescaped, with gettext) and :func:`render`,
which every route module uses so that every page gets the same context — the language, the
CSP nonce for the import map, the CSRF token, the union's name and the language switch.

Text from the process file (stage titles, questions, options, parties, the union's name) goes
through the ``process_text`` filter: the file's ``[translations.<lang>]`` for the page's
language, the catalog for the extra options' labels, else the file's own text. The booth's
labels are only shown: what the browser sends is the ballot, whose answers are positions.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from babel.numbers import format_decimal
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from starlette.requests import Request
from starlette.responses import HTMLResponse

from unionvote.domain.process import ExtraOption, Process
from unionvote.web.i18n import LANGUAGES, gettext, ngettext
from unionvote.web.security import csrf_token

__all__ = ["IMPORT_MAP", "TEMPLATES_DIR", "make_environment", "render"]

TEMPLATES_DIR: Final = Path(__file__).with_name("templates")

IMPORT_MAP: Final = (
    '{"imports": {'
    '"libsodium-wrappers-sumo": "/static/vendor/libsodium-wrappers-sumo/libsodium-wrappers.mjs", '
    '"libsodium-sumo": "/static/vendor/libsodium-sumo/libsodium-sumo.mjs"}}'
)
"""Where the browser finds libsodium.js for ``static/js/protocol/`` (bare module names)."""


@pass_context
def _number(context: Context, value: int) -> str:
    """A count with the page's language's digit grouping (1,234 in English)."""
    return format_decimal(value, locale=context.get("lang", "en"))


_UNDECIDED, _NO_ENDORSEMENT, _WRITE_IN = (
    option.label
    for option in (ExtraOption.UNDECIDED, ExtraOption.NO_ENDORSEMENT, ExtraOption.WRITE_IN)
)


def _extra_option(label: str) -> str:
    """An extra option's label (as the record writes it) in the page's language; any other
    text as it is. Called for every answer on the ballot page: it translates only the label
    it was given (three catalog look-ups per answer were a large share of that page's CPU)."""
    if label == _UNDECIDED:
        return gettext("Undecided")
    if label == _NO_ENDORSEMENT:
        return gettext("No endorsement")
    if label == _WRITE_IN:
        return gettext("Write-in")
    return label


@pass_context
def _process_text(context: Context, text: str) -> str:
    """A text from the process file in the page's language (see the module docstring)."""
    translations: Mapping[str, str] = context.get("process_texts") or {}
    found = translations.get(text)
    return found if found is not None else _extra_option(text)


def make_environment(directory: Path = TEMPLATES_DIR) -> Environment:
    environment = Environment(
        loader=FileSystemLoader(directory),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        gettext, ngettext, newstyle=True
    )
    environment.globals["import_map"] = IMPORT_MAP
    environment.filters["number"] = _number
    environment.filters["process_text"] = _process_text
    return environment


def _switch_links(request: Request, current: str) -> list[dict[str, str]]:
    here = request.url.path
    return [
        {
            "code": code,
            "name": name,
            "href": f"/language/{code}?next={quote(here, safe='/')}",
        }
        for code, name in LANGUAGES.items()
        if code != current
    ]


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """The page ``template`` rendered in the request's language."""
    environment: Environment = request.app.state.templates
    language: str = getattr(request.state, "lang", "en")
    process: Process | None = request.app.state.process()
    translations = process.translations.get(language, {}) if process is not None else {}
    union = process.union if process is not None else "unionvote"
    values: dict[str, Any] = {
        "request": request,
        "lang": language,
        "language_links": _switch_links(request, language),
        "csp_nonce": getattr(request.state, "csp_nonce", ""),
        "csrf_token": csrf_token(request),
        "union_name": translations.get(union, union),
        "process_texts": translations,
    }
    values.update(context or {})
    html = environment.get_template(template).render(values)
    return HTMLResponse(html, status_code=status_code)
