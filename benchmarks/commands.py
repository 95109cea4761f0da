"""Running the real `tessera` commands from a benchmark, printed as a user would type them."""

import shlex
import subprocess


def run(cmd: list[str]) -> None:
    print("$", " ".join(shlex.quote(c) for c in cmd), flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
