"""An Icechunk repository holding a store in the convention reads exactly as the store itself."""

import numpy as np
import pytest

from tessera.access import open_store
from tessera.errors import StoreError
from tests.access.coord_store import BBOX

icechunk = pytest.importorskip("icechunk")


def _commit_store(store_path, repo_path) -> None:
    """Every object of a local store, written into a new repository by the icechunk package."""
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.sync import sync

    repo = icechunk.Repository.create(icechunk.local_filesystem_storage(str(repo_path)))
    session = repo.writable_session("main")
    proto = default_buffer_prototype()
    files = sorted(p for p in store_path.rglob("*") if p.is_file())
    # Metadata first (icechunk checks chunk keys against their array), then shard objects.
    for path in sorted(files, key=lambda p: p.name != "zarr.json"):
        key = path.relative_to(store_path).as_posix()
        sync(session.store.set(key, proto.buffer.from_bytes(path.read_bytes())))
    session.commit("embeddings")


def test_an_icechunk_repository_reads_like_the_store(store_path, tmp_path):
    repo = tmp_path / "emb.icechunk"
    _commit_store(store_path, repo)
    plain, ice = open_store(store_path), open_store(repo)
    assert ice.years == plain.years == [2024] and ice.zones() == plain.zones()
    a, b = plain.read_region(BBOX, 2024), ice.read_region(BBOX, 2024)
    assert np.array_equal(a.data, b.data, equal_nan=True) and np.isfinite(b.data).mean() > 0.9
    pts = [[0.005, 52.005], [-0.005, 52.002], [5.0, 52.0]]
    p, q = plain.sample_points(pts, 2024), ice.sample_points(pts, 2024)
    assert np.array_equal(p.values, q.values, equal_nan=True) and list(p.status) == list(q.status)


def test_broken_hemisphere_groups_and_repositories_are_named(tmp_path):
    import zarr

    repo = icechunk.Repository.create(icechunk.local_filesystem_storage(str(tmp_path / "dc.icechunk")))
    session = repo.writable_session("main")
    root = zarr.group(store=session.store, attributes={"geoemb:type": "embeddings"})
    root.create_group("30N")
    session.commit("layout")
    with pytest.raises(StoreError, match=r"zone group 30N .* no usable spatial:/proj: attributes"):
        open_store(tmp_path / "dc.icechunk")
    (tmp_path / "bad.icechunk").mkdir()
    with pytest.raises(StoreError, match="cannot open the Icechunk repository"):
        open_store(tmp_path / "bad.icechunk")


def test_the_public_repository_is_read_from_aws_whatever_endpoint_is_set(monkeypatch):
    """An endpoint set for another store (Source Coop's, for the global store's plain copy) must not
    send reads of the public Icechunk bucket there; other buckets follow it (moto, MinIO)."""
    from tessera.store.sources import _icechunk_s3

    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://data.source.coop")
    assert _icechunk_s3("tessera-embeddings") == {"region": "us-west-2", "anonymous": True}
    assert _icechunk_s3("my-bucket")["endpoint_url"] == "https://data.source.coop"
