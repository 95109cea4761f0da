"""Zone grids and shard geometry: pure functions, exact integers."""

import pytest
from affine import Affine

from tessera.errors import GeoreferenceError
from tessera.grid import Grid, Window, utm_grid
from tessera.store import StoreLayout, Zone, blocks, place, shard_window


def test_zone_names_and_epsg_round_trip():
    for epsg in (32601, 32630, 32660, 32701, 32755):
        zone = Zone.from_epsg(epsg)
        assert Zone.from_name(zone.name) == zone and zone.epsg == epsg
    assert Zone.from_epsg(32630).name == "utm30N" and Zone.from_epsg(32755).name == "utm55S"
    for bad in ("utm61N", "utm30X", "30N", "utmN"):
        with pytest.raises(GeoreferenceError):
            Zone.from_name(bad)
    for bad in (4326, 3857, 32661, 32700):
        with pytest.raises(GeoreferenceError, match="UTM"):
            Zone.from_epsg(bad)


def test_a_cube_lands_on_the_zone_lattice_at_its_own_offset():
    grid = utm_grid(-1.5, 52.2, 96, 80)
    zone, win = place(grid)
    assert zone.name == "utm30N" and (win.height, win.width) == (96, 80)
    # The window's origin in the zone grid is the cube's origin: same place on Earth.
    assert zone.grid().transform @ (win.col, win.row) == grid.transform @ (0, 0)


def test_unaligned_coarse_and_non_utm_grids_are_refused():
    grid = utm_grid(-1.5, 52.2, 16, 16)
    t = grid.transform
    with pytest.raises(GeoreferenceError, match="lattice"):
        place(Grid(grid.crs, Affine(10, 0, t.c + 3, 0, -10, t.f), 16, 16))
    with pytest.raises(GeoreferenceError, match="10 m"):
        place(Grid(grid.crs, Affine(20, 0, t.c, 0, -20, t.f), 16, 16))
    with pytest.raises(GeoreferenceError, match="UTM"):
        place(Grid("EPSG:3857", t, 16, 16))


@pytest.mark.parametrize("window", [Window(5, 7, 40, 33), Window(0, 0, 32, 32), Window(31, 31, 2, 2)])
def test_blocks_tile_a_window_exactly_one_shard_each(window):
    layout = StoreLayout(shard=16, chunk=8)
    covered = set()
    for shard, piece in blocks(window, layout):
        assert piece.intersection(shard_window(shard, layout)) == piece
        cells = {(r, c) for r in range(piece.row, piece.row + piece.height)
                 for c in range(piece.col, piece.col + piece.width)}  # fmt: skip
        assert not cells & covered
        covered |= cells
    assert covered == {(r, c) for r in range(window.row, window.row + window.height)
                       for c in range(window.col, window.col + window.width)}  # fmt: skip


def test_layout_needs_whole_chunks_per_shard():
    with pytest.raises(GeoreferenceError):
        StoreLayout(shard=20, chunk=8)
