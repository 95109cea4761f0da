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


class DiskFullError(TesseraError, OSError):
    """An output could not be written for want of space; nothing half-written is left."""


class IncompleteWriteError(TesseraError, OSError):
    """A file read back short or unreadable after it was written (a writer that only warned of a
    failed write); it is removed, never renamed into place."""


class GeoreferenceError(TesseraError, ValueError):
    """CRS or transform missing or unusable."""


class ConfigError(TesseraError, ValueError):
    """A configuration value is out of range or inconsistent."""


class LabelError(ConfigError):
    """Labels that cannot support the requested evaluation (one class, too few pixels, …)."""


class MissingExtraError(TesseraError, ImportError):
    """A part of tessera needs an optional dependency group (an "extra") that is not installed."""


# -- the errors of each part, all here so that one module is the home of every error a user sees --


class StoreError(TesseraError, ValueError):
    """A location is not a usable embedding store, or a store does not fit what is asked of it."""


class StoreDamageError(StoreError):
    """Stored bytes fail their checks (crc32c, size, a missing half of a shard pair). The message
    names the shard: a damaged store never yields numbers."""


class StoreUnreachableError(StoreError, ConnectionError):
    """A remote store did not answer after bounded retries."""


class ManifestError(TesseraError, ValueError):
    """A manifest file is unreadable or names a path outside its store."""


class AccessError(TesseraError, ValueError):
    """A request the store cannot answer as asked (bad bbox, a year it does not hold, …)."""


class RegistryError(AccessError):
    """A tile registry that is missing or not the global store's (another schema)."""


class CheckpointError(TesseraError, ValueError):
    """A checkpoint file is unreadable or its tensors do not fit the model."""


class AcquireError(TesseraError, ValueError):
    """A search or load that cannot give a cube: nothing found, unreachable, missing bands."""


class SchedulerError(TesseraError, ConnectionError):
    """The Dask scheduler named by the user cannot be reached."""


class HeadFileError(LabelError):
    """A saved head that cannot be loaded: damaged, of an unknown kind, or holding foreign types."""


class DatasetMismatchError(HeadFileError):
    """A head fitted on one dataset's embeddings, applied to another's."""


class ExploreError(TesseraError, ValueError):
    """A request the explorer or tile server cannot answer: a tile outside the data, a zoom out of
    range, a label that covers no pixel, a malformed body."""


class ProjectError(ExploreError):
    """An explorer project folder whose files cannot be used as they are (a label file edited into
    invalid GeoJSON, settings of another store)."""


class NoTileError(ExploreError):
    """A tile the layer does not have: outside its area, or at a zoom out of its range."""
