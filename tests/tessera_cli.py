"""Running the ``tessera`` command in tests, one way: ``run_tessera(*args)``.

By default the real console entry point runs in a fresh interpreter, as a user's shell runs it
(import-time effects such as OpenMP settings are the user's). Tests that call many commands on
one fixture pass ``in_process=True``: the same entry point (``tessera.cli.main``, so user errors
still become one line and exit status 2) runs in this process with its output captured, seconds
faster per call; an unexpected exception is raised here with its traceback.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from collections.abc import Mapping
from os import PathLike

Arg = str | int | float | PathLike


def tessera_argv(*args: Arg, python: str | PathLike = sys.executable) -> list[str]:
    """The command line of ``tessera ARGS`` (for ``subprocess.Popen`` where a test must kill it)."""
    return [str(python), "-m", "tessera", *map(str, args)]


def run_tessera(
    *args: Arg,
    check: bool = False,
    in_process: bool = False,
    cwd: str | PathLike | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 900,
    python: str | PathLike = sys.executable,
) -> subprocess.CompletedProcess:
    """``tessera ARGS``: returncode, stdout, stderr. ``check`` asserts exit status 0 and shows the
    output if not."""
    if in_process:
        done = _in_process([str(a) for a in args])
    else:
        done = subprocess.run(
            tessera_argv(*args, python=python), capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout
        )
    if check:
        assert done.returncode == 0, (
            f"tessera {' '.join(map(str, args))} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return done


def one_line_error(done: subprocess.CompletedProcess, says: str) -> None:
    """A user error: exit status 2, one line saying ``says``, no traceback."""
    text = done.stderr + done.stdout
    assert done.returncode == 2 and says in text and "Traceback" not in text, text


def _in_process(argv: list[str]) -> subprocess.CompletedProcess:
    from tessera.cli import main

    out, err, saved = io.StringIO(), io.StringIO(), sys.argv
    sys.argv = ["tessera", *argv]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    finally:
        sys.argv = saved
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())
