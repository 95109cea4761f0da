"""Errors a user can cause. Each names the problem and the fix in one line.

They subclass the matching built-in exception too, so generic handlers
(``except FileNotFoundError``) keep working, as in TorchGeo's ``DatasetNotFoundError``.
"""

from __future__ import annotations


class TesseraError(Exception):
    """Base class: the CLI prints these as one line, without a traceback."""


class InputNotFoundError(TesseraError, FileNotFoundError):
    """A path the user named does not exist."""


class NotACubeError(TesseraError, ValueError):
    """A path exists but does not hold a d-pixel cube."""


class CubeValidationError(TesseraError, ValueError):
    """Cube arrays or attributes break the d-pixel contract (shape, dtype, range, order)."""


class OutputExistsError(TesseraError, FileExistsError):
    """The output path already holds data that we refuse to overwrite."""


class GeoreferenceError(TesseraError, ValueError):
    """CRS or transform missing or unusable."""


class ConfigError(TesseraError, ValueError):
    """A configuration value is out of range or inconsistent."""


class LabelError(ConfigError):
    """Labels that cannot support the requested evaluation (one class, too few pixels, …)."""


class MissingExtraError(TesseraError, ImportError):
    """A part of tessera needs an optional dependency group (an "extra") that is not installed."""
