"""How a ``preserve`` command runs as a process: its logging and its end, without click.

Here rather than in :mod:`preserve.cli` (whose package imports click, ~15 ms) so that
the plain ``preserve verify BAG...`` (:mod:`preserve.__main__`) sets up and ends its
process exactly as the click commands do, without importing click.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

from preserve.errors import ExitCode

if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec

#: How every command logs: one line on stderr.
LOG_FORMAT = "preserve: %(levelname)s: %(message)s"

#: True when ``preserve`` runs as its own process (``preserve.__main__.main``), not
#: inside another program (a test's CliRunner, a script importing the CLI).
WHOLE_PROCESS = False


def finish_process(code: int) -> None:
    """Exit with ``code``; as a process of its own, without tearing the interpreter down.

    For a command that holds nothing to clean up at exit (no temporary file, no
    worker, no server) and has written all its output: the interpreter's teardown
    (every module's objects freed one by one, ~10 ms) is work nobody waits for.
    Output is flushed first; elsewhere this is ``sys.exit(code)``.
    """
    if WHOLE_PROCESS:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                code = code or int(ExitCode.cannot_run)
        os._exit(code)
    sys.exit(code)


def configure_logging(verbose: int = 0, quiet: bool = False) -> None:
    """Log WARNING and above (INFO with ``-v``, DEBUG with ``-vv``, ERROR with ``-q``).

    Set up when ``logging`` is first imported, not before: a command that logs nothing
    (``verify`` of clean bags) never imports it (~5 ms with threading, traceback and
    string). Code that logs has imported ``logging`` first, so no record goes out
    unformatted, in this process or in the workers it forks.
    """
    level = 40 if quiet else (30, 20, 10)[min(verbose, 2)]  # logging.ERROR; WARNING...

    def basic_config(logging: ModuleType) -> None:
        logging.basicConfig(level=level, stream=sys.stderr, format=LOG_FORMAT)

    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _AfterImport)]
    if "logging" in sys.modules:
        basic_config(sys.modules["logging"])
    else:
        sys.meta_path.insert(0, _AfterImport("logging", basic_config))


class _AfterImport:
    """A meta path finder that runs ``then(module)`` as soon as module ``name`` has been
    executed, before its importer gets it, and then steps out of ``sys.meta_path``.

    It finds nothing itself: it asks the finders after it and wraps the loader they
    give (as :class:`importlib.util.LazyLoader` wraps one).
    """

    def __init__(self, name: str, then: Callable[[ModuleType], None]) -> None:
        self.name = name
        self.then = then

    def find_spec(
        self, name: str, path: Any = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name != self.name:
            return None
        sys.meta_path.remove(self)
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec: ModuleSpec | None = find(name, path, target) if find is not None else None
            if spec is not None:
                if hasattr(spec.loader, "exec_module"):
                    spec.loader = cast(Any, _ThenLoader(spec.loader, self.then))
                return spec
        return None


class _ThenLoader:
    """``loader``, then ``then(module)``; the module keeps ``loader`` as its own."""

    def __init__(self, loader: Any, then: Callable[[ModuleType], None]) -> None:
        self.loader = loader
        self.then = then

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self.loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self.loader
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        self.then(module)
