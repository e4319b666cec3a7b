"""Worker processes that die with the process that started them.

A pool worker blocks reading its task queue; when its parent is killed (SIGKILL, the
OOM killer) nothing ever closes that queue, so the worker would wait for minutes,
holding the ledger and staged files open. Each worker asks the kernel to kill it
when its parent dies (Linux ``PR_SET_PDEATHSIG``) and, where that is not available,
watches its parent from a thread.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1
#: How often the fallback watcher looks at its parent, in seconds.
_WATCH_INTERVAL = 0.5


def die_with_parent(parent_pid: int) -> None:
    """Pool initializer: end this process as soon as ``parent_pid`` is gone."""
    if sys.platform.startswith("linux") and _set_pdeathsig(signal.SIGKILL):
        # The parent may have died before the kernel was asked: then we are orphaned.
        if os.getppid() != parent_pid:
            os._exit(1)
        return
    threading.Thread(target=_watch, args=(parent_pid,), daemon=True, name="parent-watch").start()


def _set_pdeathsig(sig: int) -> bool:
    # The running program's own symbols (dlopen(NULL)) include libc's prctl: asking
    # ctypes.util.find_library("c") instead runs ``ldconfig -p`` in every new worker
    # (~10 ms of CPU each, paid again by every pool a command starts).
    for name in (None, "libc.so.6"):
        try:
            prctl = ctypes.CDLL(name, use_errno=True).prctl
            return int(prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)) == 0
        except (OSError, AttributeError):
            continue
    return False


def _watch(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(_WATCH_INTERVAL)
    os._exit(1)
