"""English and Spanish: gettext catalogs read from ``web/locale/<lang>/LC_MESSAGES/*.po``.

Every ``.po`` file of a language (``messages.po`` for the members' pages, ``staff.po`` for the
committee's and trustees') is read and compiled in memory when the app starts, and merged into
one catalog: no compiled ``.mo`` file is kept in the repository. English is the source
language, so it needs no catalog.

The language of a request is, in order: ``?lang=``, the ``lang`` cookie (set by the language
switch), the browser's ``Accept-Language``, then English.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LOCALE_DIR",
    "Catalogs",
    "choose_language",
    "gettext",
    "load_catalogs",
    "ngettext",
    "using",
]

LOCALE_DIR: Final = Path(__file__).with_name("locale")
DEFAULT_LANGUAGE: Final = "en"
LANGUAGES: Final = {"en": "English", "es": "Español"}
"""Each language by its code, with its name in itself (the language switch's words)."""


@dataclass(frozen=True)
class Catalogs:
    """The compiled translations of each language (English: none, the source text)."""

    by_language: Mapping[str, Translations]

    def get(self, language: str) -> Translations:
        found = self.by_language.get(language)
        return found if found is not None else Translations()

    def has(self, language: str, msgid: str) -> bool:
        """Whether ``language`` translates ``msgid`` (for the completeness test)."""
        translations = self.by_language.get(language)
        if translations is None:
            return False
        return bool(translations._catalog.get(msgid))


def _merged(files: list[Path], language: str) -> Catalog:
    merged = Catalog(locale=language)
    for path in files:
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=language)
        for message in catalog:
            if message.id and message.string and not message.fuzzy:
                merged[message.id] = message
    return merged


def load_catalogs(directory: Path = LOCALE_DIR) -> Catalogs:
    """Read and compile every ``.po`` under ``directory/<lang>/LC_MESSAGES/``."""
    by_language: dict[str, Translations] = {}
    for language in LANGUAGES:
        files = sorted((directory / language / "LC_MESSAGES").glob("*.po"))
        if not files:
            continue
        buffer = io.BytesIO()
        write_mo(buffer, _merged(files, language))
        buffer.seek(0)
        by_language[language] = Translations(buffer)
    return Catalogs(by_language)


def _accepted(header: str) -> Iterator[str]:
    """Languages of an ``Accept-Language`` header, most wanted first."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        if tag:
            weighted.append((-quality, index, tag.split("-")[0].lower()))
    for quality, _, tag in sorted(weighted):
        if quality < 0:
            yield tag


def choose_language(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    for candidate in (query, cookie):
        if candidate in LANGUAGES:
            return candidate
    for tag in _accepted(accept_language or ""):
        if tag in LANGUAGES:
            return tag
    return DEFAULT_LANGUAGE


# The language of the request being answered, for the templates' ``_()``/``{% trans %}``.
_current: ContextVar[Translations | None] = ContextVar("translations", default=None)
_ENGLISH: Final = Translations()


@contextmanager
def using(translations: Translations) -> Iterator[None]:
    token = _current.set(translations)
    try:
        yield
    finally:
        _current.reset(token)


def _translations() -> Translations:
    return _current.get() or _ENGLISH


def gettext(message: str) -> str:
    return _translations().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translations().ngettext(singular, plural, n)
