"""English and Spanish: every message the website uses has a Spanish translation, and the
language follows ?lang=, the lang cookie and Accept-Language."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from web_support import STAGE, make_site

from unionvote.storage.database import Database
from unionvote.web.i18n import choose_language, load_catalogs

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "src" / "unionvote" / "web"


def _used_messages() -> set[str]:
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    found: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        WEB, method_map, options_map=options
    ):
        found.update(m for m in (message if isinstance(message, tuple) else (message,)) if m)
    return found


def test_every_message_used_has_a_spanish_translation() -> None:
    catalogs = load_catalogs()
    used = _used_messages()
    assert len(used) > 100  # the extraction itself works
    missing = sorted(m for m in used if not catalogs.has("es", m))
    assert not missing, "no Spanish for:\n" + "\n".join(missing)


def test_the_language_is_chosen_by_query_cookie_then_header() -> None:
    assert choose_language(None, None, None) == "en"
    assert choose_language(None, None, "fr-FR, es;q=0.8, en;q=0.5") == "es"
    assert choose_language(None, "en", "es") == "en"
    assert choose_language("es", "en", "en") == "es"
    assert choose_language("xx", None, "de") == "en"


def test_pages_in_spanish(database: Database) -> None:
    site = make_site(database)
    english = site.client.get(f"/vote/{STAGE}")
    assert '<html lang="en">' in english.text and ">Member number<" in english.text
    assert ">Español<" in english.text
    switched = site.client.get(f"/language/es?next=/vote/{STAGE}", follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == f"/vote/{STAGE}"
    spanish = site.client.get(f"/vote/{STAGE}")
    assert '<html lang="es">' in spanish.text
    assert ">Número de miembro<" in spanish.text and ">English<" in spanish.text
    header = make_site.__module__  # the header alone chooses Spanish for a new visitor
    assert header
    fresh = site.client.get("/", headers={"accept-language": "en"}, params={"lang": "en"})
    assert '<html lang="en">' in fresh.text
    outside = site.client.get(
        "/language/es?next=https://elsewhere.example/", follow_redirects=False
    )
    assert outside.headers["location"] == "/"
