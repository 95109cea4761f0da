import numpy as np
import pytest

from tessera.errors import ConfigError
from tessera.sensors import s1_decode_db
from tessera.simulate import CLASSES, SimulationConfig, simulate
from tessera.simulate.classes import CLASS_NAMES


@pytest.fixture(scope="module")
def scene():
    return simulate(SimulationConfig(height=96, width=96, year=2024, seed=0))


def ndvi(bands):
    b = bands.astype(np.float32)
    return (b[..., 3] - b[..., 0]) / (b[..., 3] + b[..., 0] + 1e-6)


def class_median_over(scene, values, valid, doy, class_id, lo, hi):
    """Median over pixels of class ``class_id`` and valid dates with lo ≤ DOY ≤ hi."""
    sel = scene.classes == class_id
    t = (doy >= lo) & (doy <= hi)
    v, ok = values[t][:, sel], valid[t][:, sel]
    return float(np.median(v[ok]))


def test_deterministic_by_seed(small_scene):
    again = simulate(small_scene.config)
    assert again.cube.equals(small_scene.cube)
    assert np.array_equal(again.classes, small_scene.classes)
    other = simulate(SimulationConfig(height=48, width=40, seed=8, field_px=12))
    assert not np.array_equal(other.classes, small_scene.classes)


def test_classes_and_layout(scene):
    assert len(CLASSES) >= 8 and len(set(CLASS_NAMES)) == len(CLASSES)
    present = np.unique(scene.classes)
    assert len(present) >= 8, f"only classes {present} in a 96² scene"
    # Fields are patches, not salt-and-pepper: most pixels share their class with the right neighbour.
    same = (scene.classes[:, 1:] == scene.classes[:, :-1]).mean()
    assert same > 0.85


def test_revisits_and_gaps(scene):
    c = scene.cube
    assert set(np.diff(c.s2_doy.astype(int)) % 5) == {0}  # 5-day revisit, cloudy dates dropped
    assert 40 <= len(c.s2_doy) <= 74
    assert set(np.diff(c.s1_ascending.doy.astype(int))) == {12}  # 2024: Sentinel-1A alone
    assert len(c.s1_descending.doy) > 20
    assert not np.array_equal(c.s1_ascending.doy, c.s1_descending.doy)
    valid_per_pixel = c.s2_mask.sum(0)
    assert valid_per_pixel.min() < valid_per_pixel.max()  # gaps differ per pixel
    partial = [(0.05 < m.mean() < 0.95) for m in c.s2_mask]
    assert sum(partial) >= 5  # some dates are partly cloudy, not all-or-nothing
    two_sats = simulate(SimulationConfig(height=16, width=16, year=2020, seed=0))
    assert set(np.diff(two_sats.cube.s1_ascending.doy.astype(int))) == {6}


def test_optical_phenology_follows_crop_calendars(scene):
    c = scene.cube
    v, ok, doy = ndvi(c.s2_bands), c.s2_mask.astype(bool), c.s2_doy
    ids = {cl.name: cl.id for cl in CLASSES}
    maize = lambda lo, hi: class_median_over(scene, v, ok, doy, ids["maize"], lo, hi)  # noqa: E731
    cereal = lambda lo, hi: class_median_over(scene, v, ok, doy, ids["winter_cereal"], lo, hi)  # noqa: E731
    assert maize(200, 240) > maize(60, 120) + 0.3
    assert cereal(110, 150) > cereal(220, 260) + 0.3
    water = class_median_over(scene, v, ok, doy, ids["water"], 1, 366)
    assert water < 0


def test_radar_responds_to_vegetation_and_water(scene):
    c = scene.cube
    vh = s1_decode_db(c.s1_ascending.values[..., 1])
    ok = np.isfinite(vh)
    doy = c.s1_ascending.doy
    ids = {cl.name: cl.id for cl in CLASSES}
    maize = lambda lo, hi: class_median_over(scene, vh, ok, doy, ids["maize"], lo, hi)  # noqa: E731
    assert maize(200, 240) > maize(60, 120) + 2.0  # dB: canopy volume scattering
    vv = s1_decode_db(c.s1_ascending.values[..., 0])
    assert class_median_over(scene, vv, np.isfinite(vv), doy, ids["water"], 1, 366) < -15
    speckle = np.nanstd(vv[:, scene.classes == ids["water"]])
    assert speckle > 1.0  # dB spread from speckle and wind


def test_continuous_target_and_year_to_year_change():
    base = SimulationConfig(height=64, width=64, seed=4)
    y1 = simulate(base)
    assert y1.canopy_height[np.isin(y1.classes, (5, 6))].mean() > 10
    assert y1.canopy_height[y1.classes == 9].max() == 0
    same = simulate(SimulationConfig(height=64, width=64, seed=4, year=2023))
    assert np.array_equal(same.classes, y1.classes)  # no rotation asked: same land cover
    rot = simulate(SimulationConfig(height=64, width=64, seed=4, year=2023, change_fraction=0.5))
    changed = rot.classes != y1.classes
    assert 0.05 < changed.mean() < 0.8
    assert np.array_equal(rot.changed, changed)
    # Only fields rotate; forests, water and town stay where they are.
    static = np.isin(y1.classes, (5, 6, 7, 8))
    assert not changed[static].any()


def test_bad_config():
    with pytest.raises(ConfigError, match="size"):
        SimulationConfig(height=2)
    with pytest.raises(ConfigError, match="change_fraction"):
        SimulationConfig(change_fraction=1.5)
    with pytest.raises(ConfigError, match="year"):
        SimulationConfig(year=1990)


def test_the_smallest_scene_its_config_allows_simulates():
    for seed in range(6):  # shadows displaced farther than an 8 px scene is wide
        scene = simulate(SimulationConfig(height=8, width=8, seed=seed, field_px=4))
        assert scene.cube.s2_bands.shape[1:3] == (8, 8)


def test_drawn_regimes_vary_calendars_clouds_sar_and_revisit(tmp_path):
    import dataclasses
    import json

    from tessera.simulate import read_labels, write_scene
    from tessera.simulate.regime import Regime

    regimes = [Regime.drawn(s) for s in range(40)]
    assert len({r.calendar_shift_days for r in regimes}) == 40
    assert {r.s2_revisit_days for r in regimes} == {5, 10}
    base = SimulationConfig(height=24, width=24, seed=4)
    classic = simulate(base).cube
    one_sat = simulate(dataclasses.replace(base, regime=Regime(s2_revisit_days=10))).cube
    assert len(one_sat.s2_doy) < 0.7 * len(classic.s2_doy)
    cloudy = simulate(dataclasses.replace(base, regime=Regime(cloudiness=0.3))).cube
    assert cloudy.s2_mask.mean() < classic.s2_mask.mean()
    noisy = simulate(dataclasses.replace(base, regime=Regime(speckle_looks=1.5))).cube
    db = lambda c: s1_decode_db(c.s1_ascending.values)[..., 0]  # noqa: E731
    assert np.nanstd(np.diff(db(noisy), axis=2)) > np.nanstd(np.diff(db(classic), axis=2))
    late = dataclasses.replace(base, regime=Regime(calendar_shift_days=30), seed=4)
    scene = write_scene(simulate(late), tmp_path / "late")
    back = SimulationConfig(**json.loads((scene / "scene.json").read_text()))
    assert back == late and read_labels(scene)["classes"].shape == (24, 24)
