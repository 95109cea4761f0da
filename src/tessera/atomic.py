"""Outputs that appear whole or not at all.

Every writer builds its result under a hidden temporary name beside the destination and renames
it into place at the end, so a crash or an error never leaves something a reader would trust.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from tessera.errors import DiskFullError, IncompleteWriteError, OutputExistsError

# What a plain ``open(path, "w")`` would give: some writers (safetensors) create their files
# 0600, and a model or map only its owner can read surprises the colleague it was written for.
_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK

# Free bytes below which a failed write is taken for a full disk even when the writer did not
# say ENOSPC (numpy says "N requested and M written", GDAL "Write error at scanline").
_NEARLY_FULL = 4 << 20


def _is_empty(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def check_output(path: Path, overwrite: bool, is_replaceable: Callable[[Path], bool]) -> None:
    """Refuse to write over data that is not ours to replace.

    An absent path or an empty directory is fine. An existing output of the same kind
    (``is_replaceable``) is fine only with ``overwrite``. Anything else is refused, because
    deleting a user's unrelated data is never the right default.
    """
    if not path.exists() or _is_empty(path):
        return
    if overwrite and is_replaceable(path):
        return
    what = "an existing output of this kind" if is_replaceable(path) else "other data"
    hint = "pass --overwrite to replace it" if is_replaceable(path) else "choose another path"
    raise OutputExistsError(f"output path {path} already holds {what}; {hint}")


def _tmp_sibling(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:12]}")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _replace(tmp: Path, path: Path) -> None:
    if path.exists() or path.is_symlink():
        # A directory cannot be renamed over a non-empty one: move the old aside first.
        trash = _tmp_sibling(path)
        os.replace(path, trash)
        os.replace(tmp, path)
        _remove(trash)
    else:
        os.replace(tmp, path)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory that becomes ``path`` when the block exits cleanly."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_sibling(path)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException as exc:
        _remove(tmp)
        _raise_if_full(exc, path)
        raise
    _replace(tmp, path)


class Outputs:
    """Files that appear together or not at all (a data file and its scales, a map and its
    sidecar): each is written under a temporary name, settled and checked, and only when every
    one is whole are they renamed into place."""

    def __init__(self) -> None:
        self._files: list[tuple[Path, Path, Callable[[Path], None] | None]] = []

    def file(self, path: str | os.PathLike, check: Callable[[Path], None] | None = None) -> Path:
        """A temporary path to write ``path``'s content to; ``check(tmp)`` raises (anything) if
        what was written is not whole (a writer that only warns of a failed write)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _tmp_sibling(path)
        self._files.append((path, tmp, check))
        return tmp

    def _settle(self) -> None:
        for path, tmp, check in self._files:
            if not tmp.is_file():
                raise IncompleteWriteError(f"{path} was not written; nothing was put in its place")
            # Delayed write errors (NFS, a full disk behind a cache) surface at fsync, not write.
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.chmod(tmp, FILE_MODE)
            if check is None:
                continue
            try:
                check(tmp)
            except Exception as exc:
                raise IncompleteWriteError(f"{path.name} read back short after writing ({exc})") from exc

    def _discard(self) -> None:
        for _, tmp, _ in self._files:
            _remove(tmp)

    def _commit(self) -> None:
        for path, tmp, _ in self._files:
            os.replace(tmp, path)


@contextlib.contextmanager
def atomic_outputs() -> Iterator[Outputs]:
    """Yield an :class:`Outputs`; its files are renamed into place when the block exits cleanly
    and every one of them reads back whole, and all are removed otherwise."""
    outputs = Outputs()
    try:
        yield outputs
        outputs._settle()
    except BaseException as exc:
        outputs._discard()
        for path, _, _ in outputs._files:
            _raise_if_full(exc, path)
        raise
    outputs._commit()


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, check: Callable[[Path], None] | None = None) -> Iterator[Path]:
    """Yield a temporary file path that becomes ``path`` when the block exits cleanly (and
    ``check``, if given, finds it whole)."""
    with atomic_outputs() as outputs:
        yield outputs.file(path, check)


@contextlib.contextmanager
def no_empty_folders_on_failure(root: str | os.PathLike) -> Iterator[None]:
    """If the block fails, remove the folders it made under ``root`` that hold nothing (a
    tile's folder made for files whose write then failed): a reader must not take them for data."""
    root = Path(root)
    before = {p for p in root.rglob("*") if p.is_dir()} if root.is_dir() else set()
    existed = root.exists()
    try:
        yield
    except BaseException:
        if root.is_dir():
            made = sorted((p for p in root.rglob("*") if p.is_dir() and p not in before), key=lambda p: -len(p.parts))
            for folder in [*made, *([] if existed else [root])]:
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only when empty
        raise


def disk_is_full(exc: BaseException, path: Path) -> bool:
    """Whether a failed write to ``path`` ran out of space: ENOSPC, or (after the partial file is
    removed) next to no free space left on its device."""
    import errno

    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return True
    if not isinstance(exc, OSError | RuntimeError) and type(exc).__module__.split(".")[0] != "rasterio":
        return False
    try:
        return shutil.disk_usage(path.parent).free < _NEARLY_FULL
    except OSError:
        return False


def _raise_if_full(exc: BaseException, path: Path) -> None:
    if not isinstance(exc, DiskFullError) and disk_is_full(exc, path):
        raise DiskFullError(
            f"the disk holding {path} is full ({exc}); nothing half-written is left there — free space and rerun"
        ) from exc
