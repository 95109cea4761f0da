"""The checkpoints the TESSERA authors publish, where they are, and a verified local copy of each.

``tessera weights NAME`` downloads one into the cache (``$TESSERA_WEIGHTS``, else
``$XDG_CACHE_HOME/tessera/weights``) and checks its SHA-256 before it is kept; from then on
``NAME`` works wherever a checkpoint is taken (``embed -c v2-medium``). Nothing downloads on its
own: a machine without the network keeps working from its cache, and a copied cache works too.

URLs are pinned to a revision, so a name is a promise of one file. Where no checksum is recorded
here (we could not read one off a published source), the user gives one (``--sha256``, from the
file's page on the hub); a download is never kept unchecked. ``TESSERA_WEIGHTS_MIRROR`` replaces
``https://huggingface.co`` (a mirror, a proxy, a local copy served over HTTP).
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tessera.errors import CheckpointError, ConfigError, InputNotFoundError
from tessera.progress import Progress

HUB = "https://huggingface.co"
CHUNK = 1 << 20


@dataclass(frozen=True)
class Published:
    name: str
    repo: str  # on the hub
    revision: str
    file: str  # path inside the repository
    sha256: str | None  # of the whole file; None: not recorded here, the user gives it
    size_mb: float
    about: str
    # torchvision's convention (torchgeo's weights): the file name carries the first 8 hex digits
    # of its SHA-256, which is all that is published of it; checked where no whole digest is.
    sha256_prefix: str | None = None

    @property
    def url(self) -> str:
        base = os.environ.get("TESSERA_WEIGHTS_MIRROR", HUB).rstrip("/")
        return f"{base}/{self.repo}/resolve/{self.revision}/{self.file}"


PUBLISHED: dict[str, Published] = {
    p.name: p
    for p in (
        Published(
            "v2-nano",
            "geotessera/TESSERA-V-2.0-2B-N",
            "9645033fdcd5c0686bab00720e5553ce307629cf",
            "ckpt/student_nano.pt",
            "bc9929e3643dfab2744c2ce14e7c14f698703a94e9562e4e0982f9d6540b0691",
            4,
            "v2 student, 1.07 M parameters, Matryoshka 16/32/64/128",
        ),
        Published(
            "v2-small",
            "geotessera/TESSERA-V-2.0-2B-S",
            "21760b27ff16ca7aab01986b7b3460e3027b19c6",
            "ckpt/student_small.pt",
            "92619d4ffc2936895f145fdcf710140b58c23c860e02f01873828b10c6958d95",
            28,
            "v2 student, 7.11 M parameters",
        ),
        Published(
            "v2-medium",
            "geotessera/TESSERA-V-2.0-2B-M",
            "41db8ee5ddfcf6867f965526c2097d70c3c55c31",
            "ckpt/student_medium.pt",
            "3823be7db9d9cfc93f3c2a47c7699be82821ab4e1117d4d2befdb746941ee96e",
            84,
            "v2 student, 21.03 M parameters: the authors' recommended default",
        ),
        Published(
            "v2-large",
            "geotessera/TESSERA-V-2.0-2B-L",
            "b45f24463acf3fcfe030f94735d3e817b24100d0",
            "ckpt/student_large.pt",
            "b5f20239dbb1849c01a3e407b095aafe39b0bf764300206af78cb9b85f9ec1e1",
            175,
            "v2 student, 43.83 M parameters",
        ),
        Published(
            "v1.1-mpc",
            "geotessera/TESSERA-V-1.1",
            "e037fc62cd196f9e05dde4c4104e1383541b41c5",
            "tessera_v1_1_mpc_encoder.pt",
            "5dab0f070d5711034f7c241e841eaeedb49fef90b9355f68c8f20b9507839ec3",
            231,
            "v1.1 encoder, for inputs preprocessed as on Planetary Computer",
        ),
        Published(
            "v1.0",
            "geotessera/TESSERA-V-1.0",
            "main",
            "tessera-v1.0-QAT-best.pt",
            None,
            0,
            "v1.0 (QAT) encoder; no checksum recorded here: give --sha256 from the file's page",
        ),
        Published(
            "torchgeo-v1",
            "isaaccorley/tessera",
            "acec3c1eb62d97a78b2cf65eb8cbf42587c57e93",
            "model-b00edea0.pth",
            None,
            0,
            "torchgeo's Tessera_Weights.TESSERA: the first TESSERA code's model (nn.GRU pooling, 8 layers)",
            sha256_prefix="b00edea0",
        ),
    )
}


def cache_dir() -> Path:
    given = os.environ.get("TESSERA_WEIGHTS")
    if given:
        return Path(given)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tessera" / "weights"


def entry(name: str) -> Published:
    if name not in PUBLISHED:
        raise InputNotFoundError(
            f"no published checkpoint named {name!r}; known: {', '.join(PUBLISHED)} (`tessera weights --list`)"
        )
    return PUBLISHED[name]


def cached(name: str) -> Path:
    """Where ``name`` lives in the cache (whether or not it is there yet)."""
    p = entry(name)
    return cache_dir() / name / Path(p.file).name


def check_sha256(text: str) -> str:
    if not re.fullmatch(r"[0-9a-fA-F]{64}", text.strip()):
        raise ConfigError(f"--sha256 {text!r} is not a SHA-256 (64 hexadecimal characters)")
    return text.strip().lower()


def fetch(name: str, sha256: str | None = None, progress: Progress | None = None, timeout: float = 60) -> Path:
    """The verified local copy of ``name``, downloading it (once) if it is not cached."""
    p = entry(name)
    want = p.sha256 or (check_sha256(sha256) if sha256 else None)
    if p.sha256 and sha256 and check_sha256(sha256) != p.sha256:
        raise ConfigError(f"{name} has a recorded SHA-256 ({p.sha256[:12]}…); --sha256 is only for names without one")
    if want is None and p.sha256_prefix:
        want = p.sha256_prefix
    if want is None:
        raise ConfigError(
            f"no SHA-256 is recorded for {name}; copy it from {HUB}/{p.repo}/blob/{p.revision}/{p.file} "
            "and give it with --sha256, so the download can be checked"
        )
    path = cached(name)
    if path.is_file():
        if _sha256(path).startswith(want):
            return path
        path.unlink()  # a damaged or older copy: fetched again below
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        digest = _download(p.url, tmp, progress, timeout)
        if not digest.startswith(want):  # a whole digest, or the published prefix
            raise CheckpointError(
                f"{p.url} gave a file whose SHA-256 is {digest[:12]}…, not {want[:12]}…: not the published "
                "checkpoint (tampered, truncated or another revision); nothing was kept"
            )
        os.replace(tmp, path)
        _digest_file(path).write_text(digest + "\n")  # what later uses check a checksum-less entry against
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _digest_file(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def verified(name: str) -> Path:
    """The cached copy of ``name``, checked; an error saying how to get it where there is none."""
    p, path = entry(name), cached(name)
    if not path.is_file():
        raise InputNotFoundError(
            f"{name} is a published checkpoint not downloaded yet: run `tessera weights {name}` "
            f"(about {p.size_mb or '?'} MB from {p.repo}), or copy {Path(p.file).name} into {path.parent}"
        )
    note = _digest_file(path)
    want = p.sha256 or (note.read_text().strip() if note.is_file() else None)
    if want is None:
        raise CheckpointError(f"{path} has no checksum to be checked against; run `tessera weights {name} --sha256 …`")
    if _sha256(path) != want:
        raise CheckpointError(
            f"{path} is not the published {name} (its SHA-256 differs); delete it and run `tessera weights {name}`"
        )
    return path


def _download(url: str, out: Path, progress: Progress | None, timeout: float) -> str:
    h = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(out, "wb") as f:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            while chunk := response.read(CHUNK):
                f.write(chunk)
                h.update(chunk)
                done += len(chunk)
                if progress:
                    progress("download", done, total)
            f.flush()
            os.fsync(f.fileno())
            if total and done != total:
                raise CheckpointError(f"{url} ended after {done:,} of {total:,} bytes; run the command again")
    except urllib.error.HTTPError as exc:
        raise InputNotFoundError(f"{url} answered {exc.code} {exc.reason}; check the name or the mirror") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InputNotFoundError(
            f"cannot reach {url} ({reason}); on a machine without the network, copy the file into {out.parent}"
        ) from None
    return h.hexdigest()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()
