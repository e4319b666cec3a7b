"""Batches of bags over forked worker processes, with nothing more than pipes.

``preserve verify`` of 2,000 small bags takes ~0.3 s in all; a
:class:`~concurrent.futures.ProcessPoolExecutor` costs ~25 ms of that before the
first bag is checked (importing multiprocessing, its queues, its manager thread,
the workers' start). Verifying needs much less: each worker takes the next batch
number from one shared pipe, checks the batch, and writes the pickled results to a
pipe of its own; the parent reads whichever pipe is ready and hands the results
back in input order.

* The batch numbers are all written before the first fork and the pipe's write end
  closed: a worker reads 4 bytes at a time (one read is atomic against the other
  readers) until the pipe is empty, so faster workers simply take more batches.
* A worker never outlives its parent: it holds the read end of a pipe whose only
  write end the parent holds, and a thread of the worker waits on it; when the
  parent dies, however (even SIGKILL), the kernel closes that end, the read
  returns, and the worker exits at once, in the middle of a large bag if need be.
* A worker that dies (killed, out of memory) fails closed: each bag of the batches
  it did not finish gets a ``check.failed`` result naming the signal or status. A
  worker says which batch it takes before checking it, so the batch it died in is
  reported as soon as its death is seen, and the results after it are handed on
  as they come instead of being held until every other batch is done.
* Only where ``os.fork`` is safe and cheap: Linux, and no other thread running
  (forking a threaded process can deadlock the child). Elsewhere
  :func:`~preserve.verify.run.verify_bags` uses the process pool.
"""

from __future__ import annotations

import _thread
import contextlib
import gc
import os
import pickle
import select
import signal
import struct
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

_INDEX = struct.Struct("<I")
#: Before each message on a result pipe: the batch number and the length of the
#: pickled results that follow, or _TAKEN (the worker has taken that batch).
_HEADER = struct.Struct("<Iq")
_TAKEN = -1
#: At most this many batches: their numbers (4 bytes each) must fit in a pipe's
#: buffer (64 KiB on Linux), written before any worker starts.
MAX_BATCHES = 8192


def usable() -> bool:
    """Whether :func:`run_batches` may be used here (Linux, one thread)."""
    threading = sys.modules.get("threading")  # not imported: no thread was started by it
    return sys.platform.startswith("linux") and (threading is None or threading.active_count() == 1)


def run_batches(
    batches: Sequence[Sequence[T]],
    work: Callable[[Sequence[T]], list[R]],
    workers: int,
    failed: Callable[[T, str], R],
) -> Iterator[list[R]]:
    """``work(batch)`` for every batch over ``workers`` forked processes, in order.

    ``failed(item, reason)`` stands in for each item of a batch whose worker died.
    """
    if len(batches) > MAX_BATCHES:
        raise ValueError(f"at most {MAX_BATCHES} batches")
    tasks_r, tasks_w = os.pipe()
    try:
        os.write(tasks_w, b"".join(_INDEX.pack(i) for i in range(len(batches))))
    finally:
        os.close(tasks_w)
    # Objects alive now are the workers' too: the collector of each worker need not
    # scan them (nor copy their pages to mark them), only what the worker makes.
    gc.freeze()
    lifeline_r, lifeline_w = os.pipe()
    children: dict[int, int] = {}  # result pipe -> pid
    finished = False
    try:
        for _ in range(max(1, min(workers, len(batches)))):
            results_r, results_w = os.pipe()
            pid = os.fork()
            if pid == 0:  # the worker: never returns
                os.close(results_r)
                os.close(lifeline_w)
                for fd in children:
                    os.close(fd)
                _serve(tasks_r, results_w, lifeline_r, batches, work)
            os.close(results_w)
            children[results_r] = pid
        os.close(tasks_r)
        tasks_r = -1
        yield from _collect(children, batches, failed)
        finished = True
    finally:
        if tasks_r >= 0:
            os.close(tasks_r)
        os.close(lifeline_r)
        _reap(children, stop=not finished)
        os.close(lifeline_w)
        gc.unfreeze()


def _serve(
    tasks: int,
    results: int,
    lifeline: int,
    batches: Sequence[Sequence[T]],
    work: Callable[[Sequence[T]], list[R]],
) -> None:
    status = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C: the parent reports it
        _thread.start_new_thread(_exit_with_parent, (lifeline,))
        while len(raw := os.read(tasks, _INDEX.size)) == _INDEX.size:
            (index,) = _INDEX.unpack(raw)
            _write_all(results, _HEADER.pack(index, _TAKEN))
            payload = pickle.dumps(work(batches[index]), pickle.HIGHEST_PROTOCOL)
            _write_all(results, _HEADER.pack(index, len(payload)) + payload)
    except BaseException:  # a worker must end here, whatever happened
        status = 1
    finally:
        os._exit(status)


def _exit_with_parent(lifeline: int) -> None:
    """A worker's thread: the read returns only when the parent has closed its end
    (it has ended, or been killed); then the worker ends too."""
    with contextlib.suppress(OSError):
        os.read(lifeline, 1)
    os._exit(1)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _collect(
    children: dict[int, int],
    batches: Sequence[Sequence[T]],
    failed: Callable[[T, str], R],
) -> Iterator[list[R]]:
    """Results in batch order, as the workers send them."""
    done: dict[int, list[R]] = {}
    buffers = {fd: bytearray() for fd in children}
    exits: dict[int, str] = {}
    taken: dict[int, int] = {}  # result pipe -> the batch its worker is checking
    following = 0
    poll = select.poll()
    for fd in children:
        poll.register(fd, select.POLLIN)
    open_pipes = len(children)
    while following < len(batches) and open_pipes:
        for fd, _ in poll.poll():
            chunk = os.read(fd, 1 << 20)
            if not chunk:  # the worker ended
                poll.unregister(fd)
                open_pipes -= 1
                exits[fd] = _wait(children[fd])
                index = taken.pop(fd, None)
                if index is not None:  # it died checking this batch: say so now
                    why = f"the worker process checking it {exits[fd]}"
                    done[index] = [failed(item, why) for item in batches[index]]
                continue
            buffer = buffers[fd]
            buffer += chunk
            while len(buffer) >= _HEADER.size:
                index, size = _HEADER.unpack_from(buffer)
                if size == _TAKEN:
                    taken[fd] = index
                    del buffer[: _HEADER.size]
                    continue
                if len(buffer) < _HEADER.size + size:
                    break
                done[index] = pickle.loads(buffer[_HEADER.size : _HEADER.size + size])
                del buffer[: _HEADER.size + size]
                taken.pop(fd, None)
        while following in done:
            yield done.pop(following)
            following += 1
    # Every worker has ended and these batches were not sent: checked by no one.
    reason = "; ".join(sorted(set(exits.values()) - {"ended"})) or "ended early"
    for index in range(following, len(batches)):
        results = done.pop(index, None)
        if results is None:
            why = f"the worker process checking it {reason}"
            results = [failed(item, why) for item in batches[index]]
        yield results


def _wait(pid: int) -> str:
    """How a worker ended, in words (and it is reaped)."""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return "ended"
    if os.WIFSIGNALED(status):
        return f"was killed by signal {os.WTERMSIG(status)}"
    code = os.waitstatus_to_exitcode(status)
    return "ended" if code == 0 else f"failed (exit status {code})"


def _reap(children: dict[int, int], *, stop: bool) -> None:
    """Close the pipes and wait for the workers; ``stop``: end them first (the caller
    was interrupted). After the last batch they are ending on their own."""
    for fd, pid in children.items():
        with contextlib.suppress(OSError):
            os.close(fd)
        try:
            if stop:
                os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
        except (ChildProcessError, ProcessLookupError):
            pass  # already reaped by _wait
