"""Zone grids and shard geometry: pure functions, exact integers."""

import pytest
from affine import Affine

from tessera.errors import GeoreferenceError
from tessera.grid import Grid, Window, utm_grid
from tessera.store import StoreLayout, Zone, blocks, place, shard_window


def test_zone_names_and_epsg_round_trip():
    for epsg in (32601, 32630, 32660, 32701, 32755):
        zone = Zone.from_epsg(epsg)
        assert Zone.from_name(zone.name) == zone and zone.epsg == 32600 + epsg % 100
    assert Zone.from_epsg(32630).name == "utm30" and Zone.from_epsg(32755).name == "utm55"
    for bad in ("utm61", "utm30N", "30", "utm", "utm5"):
        with pytest.raises(GeoreferenceError):
            Zone.from_name(bad)
    for bad in (4326, 3857, 32661, 32700):
        with pytest.raises(GeoreferenceError, match="UTM"):
            Zone.from_epsg(bad)


def test_a_cube_lands_on_the_zone_lattice_at_its_own_offset():
    grid = utm_grid(-1.5, 52.2, 96, 80)
    zone, win = place(grid)
    assert zone.name == "utm30" and (win.height, win.width) == (96, 80)
    # The window's origin in the zone grid is the cube's origin: same place on Earth.
    assert zone.grid().transform @ (win.col, win.row) == grid.transform @ (0, 0)


def test_a_southern_cube_lands_at_negative_northings_in_the_northern_code():
    grid = utm_grid(-47.9, -15.8, 32, 32)  # Brasília: EPSG:32723
    assert grid.epsg == 32723
    zone, win = place(grid)
    x, y = zone.grid().transform @ (win.col, win.row)
    assert zone.epsg == 32623 and (x, y) == (grid.transform.c, grid.transform.f - 10_000_000)


def test_unaligned_coarse_and_non_utm_grids_are_refused():
    grid = utm_grid(-1.5, 52.2, 16, 16)
    t = grid.transform
    with pytest.raises(GeoreferenceError, match="lattice"):
        place(Grid(grid.crs, Affine(10, 0, t.c + 3, 0, -10, t.f), 16, 16))
    with pytest.raises(GeoreferenceError, match="10 m"):
        place(Grid(grid.crs, Affine(20, 0, t.c, 0, -20, t.f), 16, 16))
    with pytest.raises(GeoreferenceError, match="UTM"):
        place(Grid("EPSG:3857", t, 16, 16))


@pytest.mark.parametrize("window", [Window(5, 7, 140, 133), Window(0, 0, 64, 64), Window(63, 63, 2, 2)])
def test_blocks_tile_a_window_exactly_one_shard_each(window):
    layout = StoreLayout(shard=64)
    covered = set()
    for shard, piece in blocks(window, layout):
        assert piece.intersection(shard_window(shard, layout)) == piece
        cells = {
            (r, c)
            for r in range(piece.row, piece.row + piece.height)
            for c in range(piece.col, piece.col + piece.width)
        }
        assert not cells & covered
        covered |= cells
    assert covered == {
        (r, c)
        for r in range(window.row, window.row + window.height)
        for c in range(window.col, window.col + window.width)
    }


def test_layout_needs_whole_chunks_per_shard():
    with pytest.raises(GeoreferenceError):
        StoreLayout(shard=100)
