"""The whole story on simulated data, offline, as one library call: simulate → adapt → embed →
read → heads → report. ``tessera quickstart`` is this with a progress bar.

>>> from tessera.quickstart import QuickstartConfig, run
>>> report = run(Path("quickstart-out"), QuickstartConfig())  # doctest: +SKIP
"""

from tessera.quickstart.config import QuickstartConfig
from tessera.quickstart.run import run

__all__ = ["QuickstartConfig", "run"]
