"""Where batches of work run: in this process, on a local process pool, or on a Dask cluster.

The verifier's ballot checks and the tally's partial products have the same shape: a long
stream of batches (a few hundred ballots each), each handled by the same pure function with
the same read-only context (the election), the results combined in order by the caller. An
``Engine`` runs that shape; the caller never knows where the work ran::

    job = Job(prepare=parse_context, setup=context_bytes, run=handle_batch)
    with open_engine(workers=4) as engine:  # or open_engine(scheduler="tcp://10.0.0.5:8786")
        for result in engine.map(job, batches):  # one result per batch, in their order
            combine(result)

A ``Job`` is three things, all picklable:

- ``setup``: the context every batch needs (e.g. the election's canonical bytes and
  fingerprint), sent **once per worker**, not with each batch;
- ``prepare(setup) -> state``: a top-level function building the worker's state from it (e.g.
  the parsed election), run once per worker process and job, and cached there;
- ``run(state, batch) -> result``: a top-level function handling one batch.

``prepare`` and ``run`` are sent by name (module and qualified name), so every worker must run
the same version of unionvote (the Dask engine checks it). Both must be deterministic and
depend on nothing but their arguments: a batch may be run again on another worker when one
dies (Dask does), and the in-process engine must give the same results as the others.

``map`` reads ``batches`` lazily and keeps at most ``engine.window`` of them in flight (sent and
not yet handed back), so memory is bounded by the window times a batch, however long the
stream; results come back in the order of the batches, whichever worker finished first.
Anything that goes wrong on the way (a worker process dies, a cluster loses all its workers, a
batch raises) raises ``EngineError`` with a plain-language message: a caller never gets a
partial or reordered stream.

The engines:

- ``InProcessEngine``: here, one batch at a time (the reference the others must equal);
- ``LocalPoolEngine``: ``workers`` processes of this machine, started with ``spawn`` (nothing
  inherited from this process's memory), which end by themselves as soon as this process is
  gone, however it ended (even killed with SIGKILL); a stream of a single batch runs here
  instead, where starting processes would cost more than it saves;
- ``DaskEngine``: the workers of a Dask distributed cluster (``docs/cluster.md``); ``dask`` is
  imported only when one is opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import itertools
import multiprocessing
import os
import pickle
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Generic, Protocol, Self, TypeVar

from unionvote import __version__
from unionvote.errors import UnionVoteError

__all__ = [
    "CONNECT_TIMEOUT",
    "WORKER_TIMEOUT",
    "DaskEngine",
    "Engine",
    "EngineError",
    "InProcessEngine",
    "Job",
    "LocalPoolEngine",
    "open_engine",
]

P = TypeVar("P")
S = TypeVar("S")
B = TypeVar("B")
R = TypeVar("R")

#: Seconds to reach a Dask scheduler before giving up.
CONNECT_TIMEOUT: Final = 10.0
#: Seconds a Dask cluster may have no worker at all (at the start, or after losing them all)
#: before the run is abandoned.
WORKER_TIMEOUT: Final = 60.0
#: How often (seconds) the Dask engine checks on the cluster while it waits for a batch.
_POLL: Final = 1.0
#: Prepared states a worker process keeps (one per job; a run rarely has more than two jobs).
_STATES_KEPT: Final = 4
#: How often (seconds) a local pool process checks that the process that started it is still
#: its parent (besides being woken at once when the parent's end of their pipe closes).
_PARENT_POLL: Final = 1.0
#: The exit status of a local pool process that ends because its parent is gone.
_ORPHANED: Final = 75


class EngineError(Exception):
    """The work could not be done where it was sent (the message says why, in plain words)."""


@dataclass(frozen=True)
class Job(Generic[P, S, B, R]):
    """What each worker runs: ``prepare(setup)`` once, then ``run(state, batch)`` per batch.

    ``prepare`` and ``run`` must be top-level functions of an installed module; ``setup`` must
    be picklable. ``key`` names the job's state in the workers' caches: a digest of all
    three, so two jobs with the same key are the same job."""

    prepare: Callable[[P], S]
    setup: P
    run: Callable[[S, B], R]
    payload: bytes = field(init=False, repr=False, compare=False)
    key: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        for function in (self.prepare, self.run):
            name = getattr(function, "__qualname__", "")
            if not name or "<" in name:  # a lambda, a local function: not sendable by name
                raise ValueError(f"{function!r} is not a top-level function")
        payload = pickle.dumps(self.setup, protocol=pickle.HIGHEST_PROTOCOL)
        digest = hashlib.sha256()
        for part in (_name(self.prepare), _name(self.run)):
            digest.update(part.encode() + b"\0")
        digest.update(payload)
        object.__setattr__(self, "payload", payload)
        object.__setattr__(self, "key", digest.hexdigest())


def _name(function: Callable[..., object]) -> str:
    return f"{function.__module__}.{function.__qualname__}"


class Engine(Protocol):
    """Runs a job over a stream of batches (see the module's docstring)."""

    #: The most batches in flight at once.
    window: int

    def describe(self) -> str:
        """Where the work runs, for a person ("2 local processes", "the Dask cluster at …")."""
        ...

    def map(self, job: Job[Any, Any, B, R], batches: Iterable[B]) -> Iterator[R]:
        """``job.run(state, batch)`` for each batch, in order; at most ``window`` in flight."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


class _Closing:
    def close(self) -> None:
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


# -- the worker side (any process that runs batches) --------------------------------------------

_states: OrderedDict[str, object] = OrderedDict()
_states_lock = threading.Lock()


def _state(key: str, prepare: Callable[[Any], object], payload: bytes) -> object:
    """The job's prepared state in this process, prepared on first use (and kept)."""
    with _states_lock:
        if key in _states:
            _states.move_to_end(key)
            return _states[key]
        state = prepare(pickle.loads(payload))  # noqa: S301 (our own client's setup)
        _states[key] = state
        while len(_states) > _STATES_KEPT:
            _states.popitem(last=False)
        return state


def _install(parent: int, key: str, prepare: Callable[[Any], object], payload: bytes) -> None:
    """A pool process's initializer: watch for the end of ``parent`` (the process that started
    this one), then prepare the job before the first batch."""
    threading.Thread(
        target=_exit_when_orphaned, args=(parent,), name="unionvote-parent-watch", daemon=True
    ).start()
    _state(key, prepare, payload)


def _exit_when_orphaned(parent: int) -> None:
    """End this process as soon as its parent (process ``parent``) is gone, whatever this
    process is doing: nobody is left to read its results, and a parent killed with SIGKILL
    never told it to stop.

    Two signs, either enough: the sentinel ``multiprocessing`` gives a spawned process of its
    parent is ready (a pipe whose other end only the parent holds, closed by the system when
    the parent ends, however it ends; on Windows, the parent's process handle), or this
    process's parent is no longer ``parent`` (it was adopted: POSIX; checked every
    ``_PARENT_POLL`` seconds, in case a process forked from the parent holds that pipe too)."""
    watched = multiprocessing.parent_process()
    while True:
        if watched is None:  # not started by multiprocessing: only the second sign
            time.sleep(_PARENT_POLL)
        else:
            watched.join(_PARENT_POLL)  # returns early when the parent's end closes
        if (watched is not None and not watched.is_alive()) or os.getppid() != parent:
            os._exit(_ORPHANED)


def _run_local(key: str, run: Callable[[Any, B], R], batch: B) -> R:
    with _states_lock:
        state = _states[key]
    return run(state, batch)


@functools.cache
def _source_digest() -> str:
    """A digest of this installation's own source files: two copies of the same version
    number with different code (a local change, another commit) are told apart."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def code_identity() -> str:
    """What a worker must run to take part: the version and the source's digest."""
    return f"{__version__} (source {_source_digest()})"


def _setup(payload: bytes) -> bytes:
    return payload


def _run_dask(
    version: str,
    key: str,
    prepare: Callable[[Any], object],
    run: Callable[[Any, B], R],
    payload: bytes,
    batch: B,
) -> R:
    if version != code_identity():
        raise RuntimeError(
            f"this worker runs unionvote {code_identity()}, the client {version}: install the "
            "same version of unionvote on every worker"
        )
    return run(_state(key, prepare, payload), batch)


# -- in this process ------------------------------------------------------------------------------


class InProcessEngine(_Closing):
    """Every batch in this process, one at a time, as it is read."""

    window = 1

    def describe(self) -> str:
        return "this process"

    def map(self, job: Job[Any, Any, B, R], batches: Iterable[B]) -> Iterator[R]:
        state = job.prepare(job.setup)
        for batch in batches:
            yield job.run(state, batch)


# -- a local process pool ---------------------------------------------------------------------


class LocalPoolEngine(_Closing):
    """``workers`` processes of this machine, started (with ``spawn``) at the first stream of
    more than one batch, and kept for the engine's life; a job other than the one they were
    started for starts them anew."""

    def __init__(self, workers: int) -> None:
        if workers < 2:
            raise ValueError("a pool needs at least 2 workers; use InProcessEngine instead")
        self.workers = workers
        self.window = 2 * workers
        self._executor: ProcessPoolExecutor | None = None
        self._job_key = ""

    def describe(self) -> str:
        return f"{self.workers} local processes"

    def map(self, job: Job[Any, Any, B, R], batches: Iterable[B]) -> Iterator[R]:
        stream = iter(batches)
        first = list(itertools.islice(stream, 2))
        if len(first) < 2:  # one batch at most: not worth starting processes
            yield from InProcessEngine().map(job, first)
            return
        executor = self._start(job)
        in_flight: deque[Future[R]] = deque()
        try:
            for batch in itertools.chain(first, stream):
                if len(in_flight) >= self.window:
                    yield self._result(in_flight.popleft())
                try:
                    in_flight.append(executor.submit(_run_local, job.key, job.run, batch))
                except BrokenProcessPool as error:  # it broke before this batch went out
                    raise _died(error) from error
            while in_flight:
                yield self._result(in_flight.popleft())
        finally:
            for future in in_flight:
                future.cancel()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def _start(self, job: Job[Any, Any, Any, Any]) -> ProcessPoolExecutor:
        if self._executor is not None and self._job_key == job.key:
            return self._executor
        self.close()
        self._executor = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_install,
            initargs=(os.getpid(), job.key, job.prepare, job.payload),
        )
        self._job_key = job.key
        return self._executor

    @staticmethod
    def _result(future: Future[R]) -> R:
        try:
            return future.result()
        except BrokenProcessPool as error:
            raise _died(error) from error


def _died(error: BrokenProcessPool) -> EngineError:
    return EngineError(
        f"a local worker process died before finishing its batch ({error}); "
        "nothing was concluded from the unfinished work"
    )


# -- a Dask distributed cluster ---------------------------------------------------------------


class DaskEngine(_Closing):
    """The workers of the Dask cluster whose scheduler is at ``address`` (``tcp://host:port``
    or ``tls://host:port``; TLS certificates come from Dask's configuration).

    Each job's setup is one task, whose result each worker fetches once; each batch is one task,
    at most ``window`` (twice the cluster's threads when it was reached) in flight. A task whose
    worker dies is run again elsewhere by the scheduler, up to its ``allowed-failures``; past
    that, or when the cluster has had no worker for ``worker_timeout`` seconds, or when the
    scheduler is lost, ``map`` raises ``EngineError``."""

    def __init__(
        self,
        address: str,
        *,
        connect_timeout: float = CONNECT_TIMEOUT,
        worker_timeout: float = WORKER_TIMEOUT,
    ) -> None:
        try:
            import distributed
        except ImportError as error:
            raise EngineError(
                "checking on a Dask cluster needs the Python package dask[distributed] "
                "(pip install 'dask[distributed]')"
            ) from error
        self._distributed: Any = distributed
        self._client: Any = None
        if not address.strip() or address.strip() != address:
            # (Dask would start a cluster of its own for an empty address.)
            raise EngineError(f"not a Dask scheduler address: {address!r}")
        self.address = address
        self.worker_timeout = worker_timeout
        # A first connection of our own, so that a wrong address fails cleanly: a service that
        # is not a Dask scheduler can answer with anything (bytes Dask reads as a frame size).
        try:
            asyncio.run(_probe(distributed, address, connect_timeout))
            self._client = distributed.Client(
                address, timeout=connect_timeout, set_as_default=False
            )
        except (OSError, TimeoutError) as error:
            raise EngineError(
                f"cannot reach the Dask scheduler at {address} within {connect_timeout:g} s "
                f"({_reason(error)}); check the address, that `dask scheduler` is "
                "running there and that this machine may connect to it"
            ) from error
        except ValueError as error:  # a malformed address
            raise EngineError(f"not a Dask scheduler address: {address} ({error})") from error
        except Exception as error:
            raise EngineError(
                f"what answers at {address} is not a Dask scheduler this version of Dask can "
                f"talk to ({type(error).__name__}: {_reason(error)})"
            ) from error
        try:
            self._client.wait_for_workers(1, timeout=worker_timeout)
        except TimeoutError as error:
            self.close()
            raise EngineError(
                f"the Dask scheduler at {address} has had no worker for {worker_timeout:g} s; "
                "start some with `dask worker " + address + "`"
            ) from error
        except BaseException:
            self.close()
            raise
        self.threads = max(1, sum(self._client.nthreads().values()))
        self.window = 2 * self.threads

    def describe(self) -> str:
        workers = len(self._client.nthreads())
        return f"the Dask cluster at {self.address} ({workers} workers, {self.threads} threads)"

    def map(self, job: Job[Any, Any, B, R], batches: Iterable[B]) -> Iterator[R]:
        client = self._client
        tag = f"unionvote-{job.key[:12]}-{uuid.uuid4().hex[:8]}"
        # The setup as a task of its own rather than scattered data: each worker fetches its
        # result once, from a peer, and the scheduler can make it again if every worker
        # holding it dies (scattered data would be lost with them).
        setup = client.submit(_setup, job.payload, key=f"{tag}-setup", pure=False)
        in_flight: deque[Any] = deque()
        try:
            for number, batch in enumerate(batches):
                if len(in_flight) >= self.window:
                    yield self._result(in_flight.popleft())
                in_flight.append(
                    client.submit(
                        _run_dask,
                        code_identity(),
                        job.key,
                        job.prepare,
                        job.run,
                        setup,
                        batch,
                        key=f"{tag}-{number}",
                        pure=False,
                    )
                )
            while in_flight:
                yield self._result(in_flight.popleft())
        finally:
            with contextlib.suppress(Exception):
                if in_flight and client.status == "running":
                    client.cancel(list(in_flight))
            in_flight.clear()
            with contextlib.suppress(Exception):
                setup.release()

    def close(self) -> None:
        client = self._client
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
            self._client = None

    def _result(self, future: Any) -> Any:
        """The future's result; waits while the cluster lives, raises once it cannot finish."""
        distributed = self._distributed
        idle_since: float | None = None
        while True:
            try:
                result = future.result(timeout=_POLL)
            except TimeoutError:
                pass
            except distributed.KilledWorker as error:
                raise EngineError(
                    "a batch was tried on several Dask workers and every one of them died "
                    f"({error}); nothing was concluded from the unfinished work"
                ) from error
            except distributed.CancelledError as error:
                raise EngineError(
                    f"the Dask cluster at {self.address} dropped the work (the scheduler was "
                    "restarted or lost); nothing was concluded from the unfinished work"
                ) from error
            except UnionVoteError:  # a refusal by the job itself: as in this process
                raise
            except Exception as error:  # raised on a worker: an install or version problem
                raise EngineError(
                    f"a Dask worker could not check its batch: {type(error).__name__}: {error}"
                ) from error
            else:
                future.release()
                return result
            if self._client.status != "running":
                raise EngineError(
                    f"lost the connection to the Dask scheduler at {self.address}; "
                    "nothing was concluded from the unfinished work"
                )
            try:
                workers = len(self._client.nthreads())
            except (OSError, TimeoutError):
                workers = 0
            if workers:
                idle_since = None
            elif idle_since is None:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > self.worker_timeout:
                raise EngineError(
                    f"the Dask cluster at {self.address} has had no worker for "
                    f"{self.worker_timeout:g} s; nothing was concluded from the "
                    "unfinished work"
                )


async def _probe(distributed: Any, address: str, timeout: float) -> None:
    """Connect to ``address`` and go through Dask's handshake (with the client's TLS settings
    from Dask's configuration), then hang up."""
    arguments = distributed.Security().get_connection_args("client")
    comm = await distributed.comm.connect(address, timeout=timeout, **arguments)
    await comm.close()


def _reason(error: BaseException) -> str:
    return str(error) or type(error).__name__


def open_engine(
    *,
    workers: int = 1,
    scheduler: str | None = None,
    connect_timeout: float = CONNECT_TIMEOUT,
    worker_timeout: float = WORKER_TIMEOUT,
) -> InProcessEngine | LocalPoolEngine | DaskEngine:
    """The engine for ``scheduler`` (a Dask cluster) or else ``workers`` local processes (1:
    this process)."""
    if scheduler is not None:
        if workers != 1:
            raise ValueError("give either a number of local workers or a scheduler, not both")
        return DaskEngine(scheduler, connect_timeout=connect_timeout, worker_timeout=worker_timeout)
    if workers < 1:
        raise ValueError("workers must be at least 1")
    return InProcessEngine() if workers == 1 else LocalPoolEngine(workers)
