"""What a notebook user does first: sample polygons they drew, get a (Geo)DataFrame back with
their own columns, and see what an object is by printing it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tessera.access import open_store
from tessera.errors import AccessError


@pytest.fixture(scope="module")
def store(tmp_path_factory, small_cube):
    from tessera.cube import write_cube
    from tessera.embed import EmbedConfig, embed_cube
    from tessera.pretrained import shipped

    root = tmp_path_factory.mktemp("nb")
    cube = write_cube(root / "c.zarr", small_cube)
    embed_cube(cube, shipped("tiny-broad"), root / "s.zarr", EmbedConfig(draws=1))
    return root / "s.zarr", small_cube.grid


def _squares(grid, path, n=4):
    """n small squares inside the grid, with a name and a value column, as GeoJSON in degrees."""
    from rasterio.warp import transform

    feats = []
    for i in range(n):
        r, c = 5 + 8 * i, 5 + 7 * i
        xy = [grid.transform * (c + dc, r + dr) for dc, dr in ((0, 0), (3, 0), (3, 3), (0, 3), (0, 0))]
        lons, lats = transform(grid.crs, "EPSG:4326", [p[0] for p in xy], [p[1] for p in xy])
        ring = [[a, b] for a, b in zip(lons, lats, strict=True)]
        feats.append(
            {
                "type": "Feature",
                "properties": {"name": f"plot{i}", "value": i},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return path


def test_polygons_in_geojson_are_sampled_at_a_point_inside_each(store, tmp_path):
    path, grid = store
    plots = _squares(grid, tmp_path / "plots.geojson")
    sample = open_store(path).sample_points(plots, 2024)
    assert sample.values.shape == (4, 128) and (sample.status == "valid").all()


def test_a_sample_becomes_a_table_with_the_inputs_columns(store, tmp_path):
    import geopandas as gpd

    path, grid = store
    plots = _squares(grid, tmp_path / "plots.geojson")
    reader = open_store(path)
    sample = reader.sample_points(plots, 2024)
    table = sample.to_dataframe(plots)
    assert table["name"].tolist() == ["plot0", "plot1", "plot2", "plot3"]
    assert np.allclose(table[[f"e{i}" for i in range(128)]].to_numpy(), sample.values)
    gdf = gpd.read_file(plots)
    frame = reader.sample_points(gdf, 2024).to_dataframe(gdf)
    assert isinstance(frame, gpd.GeoDataFrame) and frame.crs == gdf.crs and frame["value"].tolist() == [0, 1, 2, 3]
    assert list(sample.to_dataframe().columns[:2]) == ["status", "e0"]
    with pytest.raises(AccessError, match="3 rows given for a sample of 4"):
        sample.to_dataframe(gdf.iloc[:3])


def test_reprs_say_what_is_there(store):
    path, grid = store
    reader = open_store(path)
    assert "years [2024]" in repr(reader) and "utm31" in repr(reader)
    region = reader.read_patch(*grid.lonlat_bounds()[:2], 2024, size_px=8)
    assert repr(region).startswith("Region(8 × 8 px × 128 dims on EPSG:")
    pts = reader.sample_points(np.array([[0.0, 0.0]]), 2024)
    assert repr(pts) == "PointSample(1 points × 128 dims: 1 nodata)"  # in the zone, never written


def test_the_xarray_front_door_writes_a_copy_zarr_accepts(store, tmp_path):
    import xarray as xr

    import tessera.access as ta

    path, grid = store
    w, s, e, n = grid.lonlat_bounds()
    inner = (w + 0.2 * (e - w), s + 0.2 * (n - s), e - 0.2 * (e - w), n - 0.2 * (n - s))
    ds = ta.dataset(path, inner, chunk_px=7)  # chunk edges on the zone's 7 px lattice: a partial first chunk
    assert ds.tessera.crs == grid.crs and ds.chunks["y"][0] != 7
    with pytest.raises(ValueError, match="uniform chunk sizes"):
        ds.to_zarr(tmp_path / "plain.zarr")  # what a user met
    ds.tessera.to_zarr(tmp_path / "copy.zarr")
    back = xr.open_zarr(tmp_path / "copy.zarr")
    assert np.array_equal(back.embeddings.values, ds.embeddings.values)
    values = ds.tessera.embeddings()
    assert values.dtype == np.float32 and np.isfinite(values.values).any()
    assert ta.dataset(path).sizes["band"] == 128  # the store's only zone
