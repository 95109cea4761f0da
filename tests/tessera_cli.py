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
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
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


def default_sigint() -> None:
    """``preexec_fn`` for a child that Ctrl-C must reach, as from a terminal: a shell without job
    control (CI scripts, ``cmd &``) starts its background children with SIGINT ignored, and Python
    then never turns Ctrl-C into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Serving:
    """A ``tessera`` command that serves until Ctrl-C, run until it prints an address: ``url``
    (the first whole address printed), ``base`` (its scheme, host and port), ``token`` (its
    ``?token=``, if any). Output (stdout and stderr together) is kept in ``lines``."""

    def __init__(self, args: list[str], env: Mapping[str, str] | None = None, wait_s: float = 120) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "300", **(env or {})}
        out = subprocess.PIPE
        self.proc = subprocess.Popen(
            tessera_argv(*args), stdout=out, stderr=subprocess.STDOUT, text=True, env=env, preexec_fn=default_sigint
        )
        self.lines: list[str] = []
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline() if self.proc.stdout else ""
            if not line:
                break
            self.lines.append(line)
            m = re.search(r"https?://[^\s{}]+(?=\s|$)", line)  # an XYZ template ({z}/{x}/{y}) is no address
            if m:
                self.url = m.group(0)
                parts = urllib.parse.urlsplit(self.url)
                self.base = f"{parts.scheme}://{parts.netloc}"
                self.token = urllib.parse.parse_qs(parts.query).get("token", [None])[0]
                return
        self.stop()
        raise AssertionError(f"tessera {' '.join(args)} printed no address:\n" + "".join(self.lines))

    def stop(self, wait_s: float = 20) -> str:
        """Ctrl-C (killed if it has not stopped ``wait_s`` later); everything it printed."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(wait_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rest = self.proc.stdout.read() if self.proc.stdout else ""
        return "".join(self.lines) + (rest or "")
