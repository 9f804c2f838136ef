"""`unionvote serve --workers N`: several processes serve one site (the ballot checks use every
core), with the settings decided once by the command — a --dev session secret shared by all,
so a cookie signed by one process is accepted by another."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from unionvote.cli.main import app
from unionvote.storage.database import Database


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_processes_serve_one_site_with_one_secret(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'unionvote.db'}"
    database = Database(url)
    database.upgrade()
    database.dispose()
    port = _free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("UNIONVOTE_")}
    environment.update(DATABASE_URL=url, NO_COLOR="1")
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "unionvote", "serve", "--dev", "--workers", "2", "--port",
         str(port)],
        cwd=tmp_path, env=environment, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5)
                if answer.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()
            time.sleep(0.5)
        workers = subprocess.run(
            ["pgrep", "-P", str(process.pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        assert len(workers) >= 2, workers  # the two serving processes (and uvicorn's own)
        # Each request goes to whichever process accepts it: the session cookie (signed with
        # the session secret) that carries the form's CSRF token is honoured by every one, so
        # the token stays the same (a process with another secret would start a new session).
        fresh = httpx.Limits(max_keepalive_connections=0)  # a new connection per request
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", limits=fresh) as client:
            tokens = {
                re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
                for page in (client.get("/staff/login").text for _ in range(30))
            }
        assert len(tokens) == 1, tokens
        assert "with 2 processes" in (tmp_path / "server.log").read_text()
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover
            process.kill()
        log.close()


def test_reminders_need_a_single_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'unionvote.db'}"
    Database(url).upgrade()
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("UNIONVOTE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("UNIONVOTE_PUBLIC_URL", "https://vote.example.org")
    outcome = CliRunner().invoke(app, ["serve", "--dev", "--workers", "2", "--send-reminders"])
    assert outcome.exit_code == 1
    assert "single server process" in outcome.output
