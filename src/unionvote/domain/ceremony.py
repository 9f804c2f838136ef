"""Trustee key set-up run in one process: for tests, demonstrations and rehearsals.

In a real election each trustee runs their own steps on their own machine (``unionvote
trustee …``) and only public or sealed messages travel; these functions run the very same
steps, from ``crypto.threshold``, for every trustee at once.
"""

from __future__ import annotations

import secrets

from unionvote.crypto.group import Rng
from unionvote.crypto.threshold import (
    CeremonyKeys,
    assemble_pedersen,
    make_polynomial,
    make_voutput,
    route_vinputs,
)
from unionvote.crypto.trustees import (
    PedersenTrustees,
    SingleTrustee,
    TrusteePrivateKey,
    TrusteePublicKey,
)

__all__ = ["run_threshold_ceremony", "single_trustee"]


def single_trustee(rng: Rng = secrets.randbelow) -> tuple[SingleTrustee, TrusteePrivateKey]:
    """A ``Single`` trustee key (the server's mandatory one, or a lone trustee's)."""
    private_key = TrusteePrivateKey.generate(rng)
    return SingleTrustee(TrusteePublicKey.create(private_key, rng=rng)), private_key


def run_threshold_ceremony(
    size: int, threshold: int, rng: Rng = secrets.randbelow
) -> tuple[PedersenTrustees, list[TrusteePrivateKey]]:
    """Every step of the Pedersen ceremony for ``size`` trustees, any ``threshold`` of whom
    decrypt. Returns the public item and each trustee's private key share (1-based order)."""
    keys = [CeremonyKeys.generate(rng) for _ in range(size)]
    certs = [
        k.certificate(size=size, threshold=threshold, index=i, rng=rng)
        for i, k in enumerate(keys, start=1)
    ]
    polynomials = [
        make_polynomial(k, certs, i, threshold, rng=rng) for i, k in enumerate(keys, start=1)
    ]
    vinputs = route_vinputs(certs, threshold, polynomials)
    outputs = [
        make_voutput(k, certs, i, threshold, v, rng=rng)
        for i, (k, v) in enumerate(zip(keys, vinputs, strict=True), start=1)
    ]
    item = assemble_pedersen(certs, threshold, vinputs[0], [o.public_key for o in outputs])
    return item, [o.private_key for o in outputs]
