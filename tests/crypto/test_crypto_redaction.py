"""Secret types never show their secret in ``repr`` or ``str`` (tracebacks, logs, f-strings)."""

from __future__ import annotations

import random

import pytest

from unionvote.crypto.credentials import PrivateCredential
from unionvote.crypto.errors import EncodingError
from unionvote.crypto.threshold import CeremonyKeys
from unionvote.crypto.trustees import TrusteePrivateKey
from unionvote.domain.ceremony import run_threshold_ceremony


def shown(value: object) -> str:
    return repr(value) + str(value) + f"{value!r} {value}" + repr([value]) + repr({"k": value})


def test_trustee_private_key_is_redacted() -> None:
    key = TrusteePrivateKey.generate(random.Random(1).randrange)
    text = shown(key)
    assert "redacted" in text
    assert str(key.exponent) not in text
    assert key.to_json() == str(key.exponent)


def test_threshold_key_shares_are_redacted() -> None:
    _, shares = run_threshold_ceremony(3, 2, rng=random.Random(2).randrange)
    for share in shares:
        assert str(share.exponent) not in shown(share)


def test_private_credential_is_redacted() -> None:
    credential = PrivateCredential.generate(random.Random(3).randrange)
    text = shown(credential)
    assert "redacted" in text
    secret = credential.reveal()
    assert secret not in text
    assert secret.replace("-", "") not in text
    assert str(credential.secret("AbCdEfGhJkLmNp")) not in text


def test_ceremony_keys_are_redacted() -> None:
    keys = CeremonyKeys.generate(random.Random(4).randrange)
    text = shown(keys)
    assert "redacted" in text
    for secret in (keys.seed, str(keys.signing_key)):
        assert secret not in text


def test_secret_types_have_no_instance_dict_to_leak() -> None:
    for value in (
        TrusteePrivateKey(5),
        PrivateCredential.generate(random.Random(5).randrange),
        CeremonyKeys.generate(random.Random(6).randrange),
    ):
        assert not hasattr(value, "__dict__")


def test_private_key_range() -> None:
    for bad in (0, -1, 2**256):
        with pytest.raises(EncodingError) as raised:
            TrusteePrivateKey(bad)
        assert raised.value.check == "private_key"
