"""Audits and ingests on a Dask cluster: batches of bags go to workers, one process owns the ledger.

We do not build a scheduler: ``dask.distributed`` runs on a laptop (``local:N``),
on a cluster started by hand (``dask scheduler`` / ``dask worker``), on an HPC
batch system (dask-jobqueue) or on Kubernetes (the Dask operator). The bag check
and the staging of a bag are pure functions of paths, so they run on any worker
that sees the archive's storage (at the same path, or mapped by :class:`PathMap`).

What stays here, in the one process that opened the archive: the plan (which bags,
in what order), every ledger write and every publication. Workers only read bags
(audit) or write into staging (ingest); results come back as batches finish.

``distributed`` is imported only when a :class:`DaskExecutor` is opened, so only
``--scheduler`` pays for it.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import pickle
import uuid
from collections.abc import Callable, Iterable, Iterator, Sized
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from preserve.errors import ExitCode, PreserveError

log = logging.getLogger(__name__)

R = TypeVar("R")

#: How many times a batch whose task raised is run again (a worker that dies is
#: handled by the scheduler itself, up to ``distributed.scheduler.allowed-failures``).
RETRIES = 3
#: Batches in flight per worker thread: enough to keep every thread busy while
#: results travel back, few enough that ``--budget`` and Ctrl-C stop soon.
WINDOW_PER_THREAD = 2
#: The automatic batch size aims at this many batches per thread over the run.
BATCHES_PER_THREAD = 16
MAX_BATCH = 64


class ExecutorLost(PreserveError):
    """The scheduler went away mid-run: exit 2, with what finished already kept."""

    exit_code = ExitCode.cannot_run


class SchedulerUnavailable(PreserveError):
    """No scheduler at the address given (or a cluster could not start): exit 2."""

    exit_code = ExitCode.cannot_run


class BatchExecutor(Protocol):
    """The seam the audit and the ingest hand work to (besides their own process pool).

    ``map_unordered`` runs ``func(*call)`` for each call, in batches, and yields
    ``(index, result)`` as batches finish, each index (the call's position in
    ``calls``) exactly once; it submits new batches only while ``keep_going()`` is
    true, and waits for those already running. ``calls`` may be a lazy iterable:
    it is drawn a batch at a time, as batches are submitted, so a million calls
    are never held at once (``total``, when given, sizes the batches).
    Paths in calls must be the workers' paths: see :meth:`to_remote`.
    """

    def map_unordered(
        self,
        func: Callable[..., R],
        calls: Iterable[tuple[Any, ...]],
        keep_going: Callable[[], bool] = ...,
        total: int | None = None,
    ) -> Iterator[tuple[int, R]]: ...

    def to_remote(self, path: str | Path) -> str: ...

    def to_local(self, path: str | Path) -> str: ...


@dataclass(frozen=True)
class PathMap:
    """``LOCAL=REMOTE``: where the workers see what the planner sees at ``local``."""

    local: str
    remote: str

    @classmethod
    def parse(cls, text: str) -> PathMap:
        local, sep, remote = text.partition("=")
        if not sep or not local or not remote:
            raise ValueError(f"{text!r} is not LOCAL=REMOTE (two absolute paths)")
        if not (local.startswith("/") and remote.startswith("/")):
            raise ValueError(f"{text!r}: both paths must be absolute")
        return cls(local.rstrip("/") or "/", remote.rstrip("/") or "/")

    @staticmethod
    def _swap(path: str, old: str, new: str) -> str:
        if path == old:
            return new
        prefix = old if old.endswith("/") else old + "/"
        if path.startswith(prefix):
            return new.rstrip("/") + "/" + path[len(prefix) :]
        return path

    def to_remote(self, path: str) -> str:
        return self._swap(path, self.local, self.remote)

    def to_local(self, path: str) -> str:
        return self._swap(path, self.remote, self.local)


def run_batch(func: Callable[..., R], calls: list[tuple[Any, ...]]) -> list[R]:
    """One task on a worker: a batch of calls, results in order (one round trip, not N)."""
    return [func(*call) for call in calls]


def batch_size_for(count: int, threads: int) -> int:
    """Enough batches that every thread gets ~16 (so the tail is short and a lost
    worker loses little), few enough that Dask's per-task cost (~1 ms) stays small."""
    if count <= 0:
        return 1
    return max(1, min(MAX_BATCH, math.ceil(count / (max(1, threads) * BATCHES_PER_THREAD))))


def _distributed() -> Any:
    """``distributed``, imported on first use (it and its imports take ~1 s); untyped."""
    import importlib

    return importlib.import_module("distributed")


def _quiet_dask(level: int = logging.WARNING) -> None:
    """Dask's INFO lines (cluster start, every connection) only with ``-vv``."""
    for name in list(logging.root.manager.loggerDict):
        if name == "distributed" or name.startswith("distributed."):
            logging.getLogger(name).setLevel(level)


def _preload(modules: tuple[str, ...]) -> None:
    """On each worker: import what the batches will need (``dask worker --preload`` does
    the same for a worker that starts later)."""
    import importlib

    for name in modules:
        importlib.import_module(name)


def _always() -> bool:
    return True


class DaskExecutor:
    """A connection to a Dask scheduler (or a ``LocalCluster`` it starts), used as a context.

    ``scheduler`` is ``tcp://HOST:PORT`` (any Dask address), a scheduler file
    (``*.json``, as ``dask scheduler --scheduler-file`` and dask-jobqueue write),
    or ``local:N`` for a cluster of N single-threaded worker processes on this
    machine, bound to 127.0.0.1.
    """

    def __init__(
        self,
        scheduler: str,
        *,
        path_map: PathMap | None = None,
        batch_size: int | None = None,
        retries: int = RETRIES,
        timeout: float = 30.0,
        preload: tuple[str, ...] = ("preserve.audit",),
    ) -> None:
        self.scheduler = scheduler
        self.preload = preload
        self.path_map = path_map
        self.batch_size = batch_size
        self.retries = retries
        self.timeout = timeout
        self.client: Any = None
        self.cluster: Any = None
        #: Batches that came back, and bags (calls) in them; for reports and tests.
        self.batches_done = 0

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> DaskExecutor:
        quiet = not logging.getLogger("preserve").isEnabledFor(logging.DEBUG)
        if quiet:
            # Read at import by this process and by the worker processes local:N spawns:
            # their shutdown races (a last heartbeat to a closed scheduler) are not news.
            os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")
        try:
            dd = _distributed()
        except ImportError:  # pragma: no cover - the extra is not installed
            raise SchedulerUnavailable(
                "--scheduler needs Dask: pip install 'preserve[dask]' (distributed)"
            ) from None
        if quiet:
            _quiet_dask()
        spec = self.scheduler
        try:
            if spec.startswith("local:"):
                count = spec.removeprefix("local:")
                if not count.isdigit() or int(count) < 1:
                    raise SchedulerUnavailable(f"{spec!r}: give local:N with N ≥ 1 workers")
                self.cluster = dd.LocalCluster(
                    n_workers=int(count),
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address="127.0.0.1:0",
                )
                self.client = dd.Client(self.cluster, timeout=self.timeout)
            elif spec.endswith(".json") and "://" not in spec:
                if not Path(spec).is_file():
                    raise SchedulerUnavailable("no such scheduler file", spec)
                self.client = dd.Client(scheduler_file=spec, timeout=self.timeout)
            else:
                self.client = dd.Client(spec, timeout=self.timeout)
            # Every worker imports the checks now (pikepdf, schemas: ~1-2 s), as part of
            # the start-up, not of the first batch; workers that join later do it then.
            self.client.run(_preload, self.preload)
        except PreserveError:
            self.close()
            raise
        except (OSError, TimeoutError, ValueError) as exc:
            self.close()
            raise SchedulerUnavailable(f"cannot reach the Dask scheduler: {exc}", spec) from None
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the client, and the cluster if we started it; quietly, even half-open."""
        for thing in (self.client, self.cluster):
            if thing is None:
                continue
            try:
                thing.close()
            except Exception as exc:  # a scheduler already gone: nothing left to close
                log.debug("closing %r: %s", thing, exc)
        self.client = self.cluster = None

    @property
    def dashboard_link(self) -> str | None:
        """The Dask dashboard's address, when the scheduler serves one."""
        if self.client is None:
            return None
        try:
            info = self.client.scheduler_info()
            if not info.get("services", {}).get("dashboard"):
                return None
            return str(self.client.dashboard_link)
        except Exception:  # no dashboard (bokeh absent) or no answer
            return None

    def threads(self) -> int:
        """Worker threads the scheduler knows now (at least 1, to size batches)."""
        if self.client is None:
            return 1
        return max(1, sum(int(n) for n in self.client.nthreads().values()))

    # ------------------------------------------------------------------ paths

    def to_remote(self, path: str | Path) -> str:
        return self.path_map.to_remote(str(path)) if self.path_map else str(path)

    def to_local(self, path: str | Path) -> str:
        return self.path_map.to_local(str(path)) if self.path_map else str(path)

    # ------------------------------------------------------------------ work

    def map_unordered(
        self,
        func: Callable[..., R],
        calls: Iterable[tuple[Any, ...]],
        keep_going: Callable[[], bool] = _always,
        total: int | None = None,
    ) -> Iterator[tuple[int, R]]:
        """See :class:`BatchExecutor`. Raises :class:`ExecutorLost` if the scheduler goes."""
        if isinstance(calls, Sized):
            total = len(calls)
        if total == 0:
            return
        client = self.client
        if client is None:
            raise RuntimeError("DaskExecutor used outside its with-block")
        threads = self.threads()
        size = self.batch_size or (
            batch_size_for(total, threads) if total is not None else MAX_BATCH
        )
        window = max(2, threads * WINDOW_PER_THREAD)
        run = uuid.uuid4().hex[:12]
        pending_calls = iter(calls)
        drawn = 0  # calls drawn so far: the next batch's first index
        in_flight: dict[Any, int] = {}
        # Batches (by first index) whose results came back: a retried batch never
        # counts twice. One entry a batch, not a call: flat at a million calls.
        finished: set[int] = set()
        numbers = itertools.count()

        def submit() -> bool:
            nonlocal drawn
            batch = list(itertools.islice(pending_calls, size))
            if not batch:
                return False
            start, drawn = drawn, drawn + len(batch)
            future = client.submit(
                run_batch,
                func,
                batch,
                key=f"preserve-{run}-{next(numbers)}",
                retries=self.retries,
                pure=False,
            )
            in_flight[future] = start
            return True

        queue = _distributed().as_completed()
        stopping = False
        try:
            for _ in range(window):
                if not keep_going() or not submit():
                    break
            queue.update(in_flight)
            for future in queue:
                start = in_flight.pop(future)
                results = self._result(future)
                self.batches_done += 1
                if start not in finished:  # a retried batch never counts twice
                    finished.add(start)
                    for offset, result in enumerate(results):
                        yield start + offset, result
                if stopping or not keep_going():
                    stopping = True  # --budget: submit nothing more, wait for the rest
                    continue
                if self.batches_done % 16 == 0:  # workers come and go (autoscaling, faults)
                    window = max(2, self.threads() * WINDOW_PER_THREAD)
                before = set(in_flight)
                while len(in_flight) < window and submit():
                    pass
                queue.update(set(in_flight) - before)
        finally:
            # Ctrl-C, a lost scheduler, or a consumer that stopped early: nothing left queued.
            if in_flight:
                try:
                    client.cancel(list(in_flight), force=True)
                except Exception as exc:
                    log.debug("cancelling batches: %s", exc)

    def _result(self, future: Any) -> list[Any]:
        """A batch's results, or :class:`ExecutorLost` when the cluster could not give them."""
        status = future.status
        if status == "finished":
            try:
                return list(future.result(timeout=self.timeout))
            except Exception as exc:  # the result was lost with its worker and the scheduler
                raise self._lost(exc) from None
        if status == "error":
            # run_batch's funcs report a bag's problems as results: an exception here is
            # a worker environment fault (import error, out of memory) after every retry.
            error = future.exception()
            raise ExecutorLost(
                f"a batch failed on the Dask workers after {self.retries} retries: "
                f"{type(error).__name__}: {error}",
                self.scheduler,
            )
        raise self._lost(RuntimeError(f"batch {status}"))

    def _lost(self, exc: BaseException) -> ExecutorLost:
        # The client keeps trying to reconnect while it closes, logging each refusal
        # with a traceback: the one line of ExecutorLost says it all.
        _quiet_dask(logging.CRITICAL)
        return ExecutorLost(
            f"the Dask scheduler was lost mid-run ({type(exc).__name__}: {exc}); "
            "results that came back before were kept",
            self.scheduler,
        )


def portable_error(exc: BaseException) -> BaseException:
    """An exception that survives the trip back from a worker (pickled), else its one line."""
    try:
        clone = pickle.loads(pickle.dumps(exc))
        if type(clone) is type(exc) and str(clone) == str(exc):
            return exc
    except Exception as pickling_error:
        log.debug("%r does not pickle: %s", exc, pickling_error)
    if isinstance(exc, PreserveError):
        plain = PreserveError(exc.one_line())
        plain.exit_code = exc.exit_code
        return plain
    return RuntimeError(repr(exc))
