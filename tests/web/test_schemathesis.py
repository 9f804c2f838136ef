"""Schemathesis against the app's own ``/openapi.json``, in process (ASGI, no network), over a
process in its voting phase: for a bounded number of generated requests per operation, no
server error, and every answer conforms to the description (status code, content type,
body). Every operation is tried by a stranger and by a signed-in member (with the session's
CSRF token), half the time on the real stage rather than a generated name."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from browser_support import VotingSite, build_voting_site
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from unionvote.web.app import SESSION_COOKIE, create_app
from unionvote.web.settings import WebSettings

EXAMPLES = 25  # per operation and caller; derandomized, so every run asks the same requests
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> tuple[VotingSite, Any, Any]:
    site = build_voting_site(tmp_path_factory.mktemp("api-site"))
    app = create_app(
        WebSettings(
            database_url=site.database_url,
            dev=True,
            node_modules=Path(__file__).resolve().parents[2] / "node_modules",
            signin_per_address=10_000,
            cast_per_address=10_000,
            cast_per_member=10_000,
        )
    )
    return site, app, schemathesis.openapi.from_asgi("/openapi.json", app)


def _member_headers(site: VotingSite, app: Any) -> dict[str, str]:
    """A signed-in member's session cookie and CSRF token, as the booth page holds them."""
    return asyncio.run(_sign_in(site, app))


async def _sign_in(site: VotingSite, app: Any) -> dict[str, str]:
    member = site.take_member()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        page = await client.get(f"/vote/{site.stage}")
        assert page.status_code == 200, page.text
        found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
        assert found is not None, "the sign-in form carries no csrf_token field"
        signed_in = await client.post(
            f"/vote/{site.stage}",
            data={
                "card_number": member.card_number,
                "last_name": member.last_name,
                "postal_code": member.postal_code,
                "csrf_token": found.group(1),
            },
        )
        assert signed_in.status_code == 303, signed_in.text
        booth = await client.get(f"/vote/{site.stage}/ballot")
        assert booth.status_code == 200, booth.text
        token = re.search(r'(?:csrf[-_]token)"?\s*(?:value|content)?=?"([^"]{16,})"', booth.text)
        csrf = token.group(1) if token else found.group(1)
        return {
            "Cookie": f"{SESSION_COOKIE}={client.cookies[SESSION_COOKIE]}",
            "X-CSRF-Token": csrf,
        }


def _fuzz(
    schema: Any, stage: str, headers: dict[str, str] | None, seen: dict[str, set[int]]
) -> list[str]:
    """Generated requests for every operation; ``seen`` gathers each one's status codes."""
    failures: list[str] = []
    for operation in [result.ok() for result in schema.get_all_operations()]:
        generated = operation.as_strategy()

        def on_stage(case: Any) -> Any:
            if case.path_parameters and "stage" in case.path_parameters:
                case.path_parameters["stage"] = stage
            return case

        @given(case=st.one_of(generated, generated.map(on_stage)))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            response = case.call_and_validate(headers=headers, checks=CHECKS)
            seen.setdefault(case.operation.label, set()).add(response.status_code)

        try:
            run()
        except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001 - all are reported
            who = "a signed-in member" if headers else "a stranger"
            failures.append(f"{operation.label}, asked by {who}:\n{_short(error)}")
    return failures


def _short(error: BaseException) -> str:
    """The checks that failed and how to reproduce, without the pages of response body."""
    text = str(error)
    if isinstance(error, BaseExceptionGroup):
        text = "\n".join(str(inner) for inner in error.exceptions)
    lines = [line for line in text.splitlines() if line.strip()]
    kept = [
        line
        for line in lines
        if not line.lstrip(" |").startswith(("<", "`<", "//")) and len(line) < 200
    ]
    return "\n".join(kept[:25])


def test_the_api_never_fails_and_answers_as_described(api: tuple[VotingSite, Any, Any]) -> None:
    """Each operation in turn (schemathesis's own pytest loader does not run under this
    pytest); failures are gathered so that one run names every operation that fails."""
    site, app, schema = api
    labels = [result.ok().label for result in schema.get_all_operations()]
    assert "POST /api/stages/{stage}/ballots" in labels, labels
    stranger: dict[str, set[int]] = {}
    member: dict[str, set[int]] = {}
    failures = _fuzz(schema, site.stage, None, stranger)
    failures += _fuzz(schema, site.stage, _member_headers(site, app), member)
    assert not failures, "\n\n".join(failures)
    # The member's generated ballots got past the session and CSRF checks to the ballot's own
    # (a refusal naming what is wrong with the ballot), where a stranger's never did.
    cast = "POST /api/stages/{stage}/ballots"
    assert 403 in stranger[cast], stranger[cast]
    assert member[cast] - {403}, member[cast]
