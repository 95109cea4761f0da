import pytest
from affine import Affine

from tessera.errors import GeoreferenceError
from tessera.grid import Grid, Window, epsg_code, utm_epsg, utm_grid


def test_utm_zone_of_known_places():
    assert utm_epsg(0.12, 52.2) == 32631  # Cambridge
    assert utm_epsg(-3.7, 40.4) == 32630  # Madrid
    assert utm_epsg(-47.9, -15.8) == 32723  # Brasília
    assert utm_epsg(180.0, 10.0) == 32660
    with pytest.raises(GeoreferenceError):
        utm_epsg(0, 89)


def test_grid_window_moves_the_origin_and_round_trips_attrs():
    g = Grid("EPSG:32631", Affine(10, 0, 1000, 0, -10, 5000), 100, 80)
    sub = g.window(Window(10, 20, 5, 6))
    assert sub.transform @ (0, 0) == (1200, 4900) and sub.shape == (5, 6)
    assert Grid.from_attrs(g.to_attrs()) == g
    assert g.bounds.left == 1000 and g.bounds.bottom == 4000 and g.epsg == 32631


def test_grid_refuses_bad_georeferencing():
    with pytest.raises(GeoreferenceError, match="no CRS"):
        Grid("", Affine(10, 0, 0, 0, -10, 0), 2, 2)
    with pytest.raises(GeoreferenceError, match="north-up"):
        Grid("EPSG:32631", Affine(10, 0, 0, 0, 10, 0), 2, 2)
    with pytest.raises(GeoreferenceError, match="outside"):
        Grid("EPSG:32631", Affine(10, 0, 0, 0, -10, 0), 2, 2).window(Window(1, 1, 2, 2))
    with pytest.raises(GeoreferenceError, match="no CRS"):
        Grid.from_attrs({"transform": [10, 0, 0, 0, -10, 0], "height": 1, "width": 1})
    with pytest.raises(GeoreferenceError):
        epsg_code("WGS84")


def test_window_intersection_and_empty_windows():
    assert Window(0, 0, 10, 10).intersection(Window(5, 5, 10, 10)) == Window(5, 5, 5, 5)
    assert Window(0, 0, 2, 2).intersection(Window(2, 2, 1, 1)) is None
    with pytest.raises(GeoreferenceError):
        Window(0, 0, 0, 3)


def test_utm_grid_is_snapped_and_centred():
    g = utm_grid(0.12, 52.2, 64, 32)
    assert g.crs == "EPSG:32631" and g.resolution == (10.0, 10.0)
    assert g.transform.c % 10 == 0 and g.transform.f % 10 == 0
