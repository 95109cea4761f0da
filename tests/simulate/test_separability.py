"""The simulator rewards temporal models: full time series separate the classes, single dates don't.

Train on one simulated region and test on another (different fields, different weather), so a
classifier cannot score by recognising individual fields.
"""

import numpy as np
from sklearn.ensemble import RandomForestClassifier

from tessera.cube import interpolate_gaps
from tessera.simulate import SimulationConfig, simulate

CALENDAR = np.arange(5, 366, 15)  # a common 15-day calendar after gap filling


def features(seed):
    scene = simulate(SimulationConfig(height=128, width=128, seed=seed))
    c = scene.cube
    t, h, w, _ = c.s2_bands.shape
    filled = interpolate_gaps(
        c.s2_bands.reshape(t, h * w, 10), c.s2_mask.reshape(t, h * w).astype(bool), c.s2_doy, CALENDAR
    )
    return filled, scene.classes.ravel()  # (K, N, 10), (N,)


def test_full_series_beat_every_single_date_by_a_wide_margin():
    train, y_train = features(seed=11)
    test, y_test = features(seed=12)
    pick = np.random.default_rng(0).choice(len(y_train), 3000, replace=False)
    as_table = lambda f: f.transpose(1, 0, 2).reshape(f.shape[1], -1)  # noqa: E731
    full = RandomForestClassifier(150, random_state=0, n_jobs=2)
    full.fit(as_table(train)[pick], y_train[pick])
    full_acc = full.score(as_table(test), y_test)
    single = []
    for k in range(len(CALENDAR)):
        rf = RandomForestClassifier(40, random_state=0, n_jobs=2).fit(train[k][pick], y_train[pick])
        single.append(rf.score(test[k], y_test))
    assert full_acc > 0.9, f"full time series only reach {full_acc:.2f}"
    # A random single date (the expectation over dates) falls far behind ...
    assert np.mean(single) < full_acc - 0.2, f"mean single date {np.mean(single):.2f}"
    # ... and no date, not even the best one in hindsight, comes close.
    assert max(single) < full_acc - 0.12, (
        f"best single date {max(single):.2f} (DOY {CALENDAR[int(np.argmax(single))]}) is too "
        f"close to the full series {full_acc:.2f}"
    )
