"""The engines (``verify/engine.py``): in this process, a local process pool and a Dask cluster
give the same results in the same order, with a bounded number of batches in flight; the
verifier gives the same report, check by check, on a Dask cluster of several worker processes
as in this process, for the valid record and every tampering; and whatever goes wrong with
the cluster (unreachable, no worker, a worker dying, another version) is a clear error, never
a verdict.
"""

from __future__ import annotations

import json
import operator
import os
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import cloudpickle
import dask
import pytest
import test_engine_jobs
from distributed import Client, LocalCluster
from elections import Built, build_election
from test_engine_jobs import die_on_two
from test_tampering import SPEC, TAMPERINGS, Tampered, _replayed
from typer.testing import CliRunner

from unionvote.cli.main import app
from unionvote.crypto import fast
from unionvote.verify import verify_record
from unionvote.verify.ballots import BallotSetup, prepare
from unionvote.verify.engine import (
    DaskEngine,
    Engine,
    EngineError,
    InProcessEngine,
    Job,
    LocalPoolEngine,
    open_engine,
)

# The Dask workers are other processes, started apart from pytest, that cannot import the
# tests: they get the misbehaving job by value.
cloudpickle.register_pickle_by_value(test_engine_jobs)


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    """Three worker processes of one thread each; a task is tried on two workers at most."""
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 1}),
        LocalCluster(
            n_workers=3, processes=True, threads_per_worker=1, dashboard_address=":0"
        ) as local,
    ):
        yield local


@pytest.fixture(scope="module")
def dask_engine(cluster: LocalCluster) -> Iterator[DaskEngine]:
    with DaskEngine(cluster.scheduler_address) as engine:
        yield engine


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_election(tmp_path_factory.mktemp("engine") / "base.bel", SPEC)


@pytest.fixture(scope="module", params=list(TAMPERINGS))
def tampered(
    request: pytest.FixtureRequest, base: Built, tmp_path_factory: pytest.TempPathFactory
) -> Tampered:
    name = request.param
    return TAMPERINGS[name](base, tmp_path_factory.mktemp(name) / f"{name}.bel")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the engines: same results, in order, bounded --------------------------------------------

#: ``7 * batch`` for each batch: builtins, sent by name to any worker.
TIMES_SEVEN = Job(int, "7", operator.mul)


def _counted(batches: int, pulled: list[int]) -> Iterator[int]:
    for number in range(batches):
        pulled[0] += 1
        yield number


def _engines(dask_engine: DaskEngine) -> dict[str, Engine]:
    return {"in-process": InProcessEngine(), "pool": LocalPoolEngine(2), "dask": dask_engine}


def test_every_engine_gives_the_results_in_order_with_a_bounded_window(
    dask_engine: DaskEngine,
) -> None:
    for name, engine in _engines(dask_engine).items():
        try:
            pulled = [0]
            results = []
            for result in engine.map(TIMES_SEVEN, _counted(40, pulled)):
                results.append(result)
                # the batch being yielded, the window's others, and one read but not yet sent
                assert pulled[0] - len(results) < engine.window + 1, name
            assert results == [7 * n for n in range(40)], name
            assert list(engine.map(TIMES_SEVEN, iter([]))) == [], name
            assert list(engine.map(TIMES_SEVEN, iter([3]))) == [21], name
        finally:
            if name != "dask":
                engine.close()


def test_a_job_is_named_by_its_functions_and_setup() -> None:
    assert Job(int, "7", operator.mul).key == TIMES_SEVEN.key
    assert Job(int, "8", operator.mul).key != TIMES_SEVEN.key
    assert Job(int, "7", operator.add).key != TIMES_SEVEN.key
    with pytest.raises(ValueError, match="not a top-level function"):
        Job(int, "7", lambda state, batch: state * batch)


def test_open_engine_chooses_and_refuses_both() -> None:
    assert isinstance(open_engine(), InProcessEngine)
    pool = open_engine(workers=3)
    assert isinstance(pool, LocalPoolEngine)
    assert pool.window == 6
    with pytest.raises(ValueError, match="not both"):
        open_engine(workers=2, scheduler="tcp://127.0.0.1:1")


# -- the verifier on the Dask cluster ---------------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 3])
def test_dask_gives_the_in_process_report(
    tampered: Tampered, batch_size: int, dask_engine: DaskEngine
) -> None:
    """Batches of one (more than the window) and of three (a voter's ballot and its revote in
    one batch): the same checks, counts, failures in the same order, result and verdict."""
    alone = verify_record(tampered.path).to_json()
    clustered = verify_record(tampered.path, engine=dask_engine, batch_size=batch_size)
    assert clustered.to_json() == alone
    assert clustered.ok == (not tampered.check)


def test_dask_gives_the_in_process_report_on_a_replay(
    base: Built, tmp_path: Path, dask_engine: DaskEngine
) -> None:
    path = tmp_path / "replay.bel"
    _replayed(base, path)
    alone = verify_record(path)
    assert not alone.ok
    for batch_size in (1, 2, 256):
        clustered = verify_record(path, engine=dask_engine, batch_size=batch_size)
        assert clustered.to_json() == alone.to_json()


def test_dask_workers_use_the_clients_group_arithmetic(
    base: Built, dask_engine: DaskEngine
) -> None:
    if fast.arithmetic() != "libdecaf":
        pytest.skip("libdecaf0 is not installed (CI installs it)")
    try:
        fast.set_enabled(False)
        report = verify_record(base.path, engine=dask_engine, batch_size=1)
        alone = verify_record(base.path)
    finally:
        fast.set_enabled(None)
    assert report.ok, report.verdict()
    assert report.arithmetic == "libsodium"
    assert report.to_json() == alone.to_json()


def test_progress_on_dask_reaches_every_ballot(base: Built, dask_engine: DaskEngine) -> None:
    seen: list[tuple[int, int]] = []
    report = verify_record(
        base.path, engine=dask_engine, batch_size=1, progress=lambda n, b: seen.append((n, b))
    )
    assert seen == sorted(seen)
    assert seen[-1][0] == report.ballots_checked == len(SPEC.votes)


# -- failures are errors, never verdicts -------------------------------------------------------


def test_a_pool_process_dying_is_an_error() -> None:
    results: list[int] = []
    with LocalPoolEngine(2) as engine, pytest.raises(EngineError, match="died"):
        results.extend(engine.map(Job(int, "7", die_on_two), iter(range(6))))
    # (a broken pool fails every batch not yet handed over, the ones before the dying one too)
    assert results in ([], [0], [0, 7])


def test_a_worker_of_another_version_is_refused(
    monkeypatch: pytest.MonkeyPatch, dask_engine: DaskEngine
) -> None:
    monkeypatch.setattr("unionvote.verify.engine.code_identity", lambda: "0.0.0-other")
    with pytest.raises(EngineError, match=r"this worker runs unionvote .*, the client 0\.0\.0"):
        list(dask_engine.map(TIMES_SEVEN, iter(range(3))))


def test_a_worker_without_the_reports_arithmetic_refuses(base: Built) -> None:
    try:
        with pytest.raises(RuntimeError, match="cannot check proofs with libdecaf-2"):
            prepare(BallotSetup(b"{}", "x", "libdecaf-2"))
    finally:
        fast.set_enabled(None)


def test_an_unreachable_scheduler_is_an_error() -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(EngineError, match=f"cannot reach the Dask scheduler at {address}"):
        DaskEngine(address, connect_timeout=1)


def test_a_service_that_is_not_a_scheduler_is_an_error() -> None:
    """An HTTP server's answer, read by Dask as the size of a frame: a clear error, at once."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"

        def answer() -> None:
            connection, _ = server.accept()
            with connection:
                connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                connection.recv(1024)

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        with pytest.raises(EngineError, match=f"what answers at {address} is not a Dask"):
            DaskEngine(address, connect_timeout=5)
        thread.join(timeout=5)


def test_an_empty_scheduler_address_is_refused() -> None:
    """(Dask would quietly start a cluster of its own on this machine.)"""
    for address in ("", " tcp://127.0.0.1:8786"):
        with pytest.raises(EngineError, match="not a Dask scheduler address"):
            DaskEngine(address)


def test_a_scheduler_without_workers_is_an_error() -> None:
    with (
        LocalCluster(n_workers=0, processes=True, dashboard_address=":0") as empty,
        pytest.raises(EngineError, match="has had no worker for 1 s; start some with `dask worker"),
    ):
        DaskEngine(empty.scheduler_address, worker_timeout=1)


# -- the command line ---------------------------------------------------------------------------


def _invoke(*args: str) -> tuple[int, str, str]:
    """Run the CLI in-process; an exception escaping the command is a failure of the test."""
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(
            f"unionvote {' '.join(args)} raised {result.exception!r}:\n{result.output}"
        ) from result.exception
    return result.exit_code, result.stdout, result.stderr


def test_cli_scheduler_prints_the_in_process_report(
    base: Built, tmp_path: Path, cluster: LocalCluster
) -> None:
    bad = TAMPERINGS["ballot_signature"](base, tmp_path / "bad.bel")
    for path, code in ((base.path, 0), (bad.path, 1)):
        local_code, local, _ = _invoke("verify", "--json", "--workers", "1", str(path))
        dask_code, clustered, err = _invoke(
            "verify", "--json", "--scheduler", cluster.scheduler_address, str(path)
        )
        assert (local_code, dask_code) == (code, code), err
        assert json.loads(clustered) == json.loads(local)
        assert "Checking the ballots on the Dask cluster at" in err


def test_cli_unreachable_scheduler(base: Built) -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    code, out, err = _invoke(
        "verify", "--scheduler", address, "--scheduler-timeout", "1", str(base.path)
    )
    assert code == 2
    assert out == ""
    assert err.startswith(f"unionvote verify: ERROR: cannot reach the Dask scheduler at {address}")
    assert "Traceback" not in err


def test_cli_workers_and_scheduler_are_exclusive(base: Built) -> None:
    code, _, err = _invoke(
        "verify", "--workers", "2", "--scheduler", "tcp://127.0.0.1:8786", str(base.path)
    )
    assert code == 2
    assert "not both" in err


def test_cli_engine_failure_is_exit_2_never_a_verdict(
    base: Built, monkeypatch: pytest.MonkeyPatch, cluster: LocalCluster
) -> None:
    monkeypatch.setattr("unionvote.verify.engine.code_identity", lambda: "0.0.0-other")
    code, out, err = _invoke("verify", "--scheduler", cluster.scheduler_address, str(base.path))
    assert code == 2
    assert "PASS" not in out and "FAIL" not in out
    assert "unionvote verify: ERROR: a Dask worker could not check its batch" in err


# -- workers dying (last: the cluster's nannies restart them, which takes a while) -------


def test_a_worker_killed_mid_run_never_changes_the_verdict(
    base: Built, tmp_path: Path, cluster: LocalCluster, dask_engine: DaskEngine
) -> None:
    """One worker process is killed (SIGKILL) after the first batch comes back: the scheduler
    runs its batches again elsewhere, and the report is the in-process one (or, had the
    cluster given up, an error): never another verdict."""
    path = tmp_path / "ballot_proof.bel"
    TAMPERINGS["ballot_proof"](base, path)
    alone = verify_record(path).to_json()
    with Client(cluster.scheduler_address, set_as_default=False) as client:
        pids = list(client.run(os.getpid).values())
    killed: list[int] = []

    def kill_one(ballots: int, _: int) -> None:
        if not killed and ballots >= 1:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    try:
        report = verify_record(path, engine=dask_engine, batch_size=1, progress=kill_one)
    except EngineError as error:
        assert "nothing was concluded" in str(error)
        return
    assert killed
    assert report.to_json() == alone


def test_a_batch_that_kills_every_worker_trying_it_is_an_error(
    cluster: LocalCluster, dask_engine: DaskEngine
) -> None:
    results: list[int] = []
    with pytest.raises(EngineError, match="every one of them died"):
        results.extend(dask_engine.map(Job(int, "7", die_on_two), iter(range(6))))
    # Nothing from the failing batch on; the batches before it may fail too (those queued on
    # a worker that died with it count it as a death of their own).
    assert results in ([], [0], [0, 7])
    cluster.wait_for_workers(3, timeout=60)
