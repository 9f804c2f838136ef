"""The access log of ``unionvote serve`` never shows a campaign's personal questionnaire link:
the token in ``/questionnaire/answer/<token>`` is redacted by the filter the command installs
on uvicorn's access logger, as query strings are."""

from __future__ import annotations

import logging

from unionvote.cli.web import _NoQueryStrings, redact_path

TOKEN = "Qk3v9sT1x0bYyL2mN8pR4wE6uI7oA5dF3gH1jK9lZ0c"


def _logged(path: str) -> str:
    """One access line as uvicorn writes it (the same format and arguments), filtered."""
    logger = logging.getLogger("tests.questionnaire.access")
    record = logger.makeRecord(
        logger.name,
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", path, "1.1", 303),
        None,
    )
    assert _NoQueryStrings().filter(record)
    return record.getMessage()


def test_the_personal_link_token_never_reaches_the_access_log() -> None:
    for path in (
        f"/questionnaire/answer/{TOKEN}",
        f"/questionnaire/answer/{TOKEN}/decline",
        f"/questionnaire/answer/{TOKEN}?lang=es",
        f"/questionnaire/answer/{TOKEN[:-2]}AA",
    ):
        line = _logged(path)
        assert TOKEN[:20] not in line, line
        assert "/questionnaire/answer/[link]" in line
        assert "?" not in line
    assert _logged(f"/questionnaire/answer/{TOKEN}/decline").endswith(
        '"POST /questionnaire/answer/[link]/decline HTTP/1.1" 303'
    )


def test_other_paths_lose_only_their_query_string() -> None:
    assert redact_path("/stages/board-2024/find?tracker=abc") == "/stages/board-2024/find"
    assert redact_path("/questionnaires/issues-2024") == "/questionnaires/issues-2024"
    assert _logged("/vote/board-2024?lang=es").endswith('"POST /vote/board-2024 HTTP/1.1" 303')
