"""``unionvote questionnaire send`` and ``remind`` through a relay that needs a login: the login
is read from UNIONVOTE_SMTP_USERNAME and UNIONVOTE_SMTP_PASSWORD, as ``unionvote serve`` reads
it (never from the command line)."""

from __future__ import annotations

import pytest

from unionvote.cli.questionnaire import _mailer


def test_the_relay_login_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNIONVOTE_SMTP_USERNAME", raising=False)
    monkeypatch.delenv("UNIONVOTE_SMTP_PASSWORD", raising=False)
    plain = _mailer("relay.example:587", "committee@union.example", True)
    assert (plain.username, plain.password) == (None, None)
    monkeypatch.setenv("UNIONVOTE_SMTP_USERNAME", "committee")
    monkeypatch.setenv("UNIONVOTE_SMTP_PASSWORD", "relay pass phrase")
    mailer = _mailer("relay.example:587", "committee@union.example", True)
    assert (mailer.host, mailer.port, mailer.starttls) == ("relay.example", 587, True)
    assert (mailer.username, mailer.password) == ("committee", "relay pass phrase")
    assert "relay pass phrase" not in repr(mailer)
