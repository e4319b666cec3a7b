"""preserve.process: the logging set-up waits for ``logging`` and then is exactly the
one every command had (``logging.basicConfig`` on stderr, ``preserve: LEVEL: ...``)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


def _stderr_of(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout == ""
    return done.stderr


@pytest.mark.parametrize("first", ["configure", "import"])
@pytest.mark.parametrize(
    ("options", "shown"),
    [("", "WARNING ERROR"), ("verbose=1", "INFO WARNING ERROR"), ("quiet=True", "ERROR")],
)
def test_records_come_out_formatted_whether_logging_comes_before_or_after(
    first: str, options: str, shown: str
) -> None:
    configure = f"from preserve.process import configure_logging; configure_logging({options})"
    steps = [configure, "import logging"] if first == "configure" else ["import logging", configure]
    code = f"""
        import sys
        {steps[0]}
        {steps[1]}
        assert not [f for f in sys.meta_path if type(f).__name__ == "_AfterImport"]
        assert type(logging.__loader__).__name__.endswith("Loader"), logging.__loader__
        assert type(logging.__loader__).__name__ != "_ThenLoader"  # its own loader again
        assert logging.__spec__.loader is logging.__loader__
        log = logging.getLogger("preserve.somewhere")
        for level in ("debug", "info", "warning", "error"):
            getattr(log, level)("the %s line", level)
    """
    expected = "".join(f"preserve: {level}: the {level.lower()} line\n" for level in shown.split())
    assert _stderr_of(code) == expected


def test_logging_stays_unimported_until_someone_imports_it() -> None:
    code = """
        import sys
        from preserve.process import configure_logging
        configure_logging()
        print("logging" in sys.modules, file=sys.stderr)
    """
    assert _stderr_of(code) == "False\n"


def test_a_forked_worker_that_imports_logging_logs_as_its_parent_would() -> None:
    code = """
        import os
        from preserve.process import configure_logging
        configure_logging()
        pid = os.fork()
        if pid == 0:
            import logging
            logging.getLogger("pikepdf").warning("from the worker")
            os._exit(0)
        os.waitpid(pid, 0)
    """
    assert _stderr_of(code) == "preserve: WARNING: from the worker\n"


def test_configured_again_before_the_import_the_last_level_holds() -> None:
    code = """
        from preserve.process import configure_logging
        configure_logging(quiet=True)
        configure_logging(verbose=1)
        import logging
        logging.getLogger("preserve").info("shown")
    """
    assert _stderr_of(code) == "preserve: INFO: shown\n"
