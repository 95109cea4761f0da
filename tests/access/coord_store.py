"""A store whose values encode where they were written (zone, lattice row and column), over the
30N/31N boundary at 0° E: any seam, shift or wrong zone in a read shows as a wrong decoded place."""

import numpy as np

from tessera.grid import Window, lonlat_to
from tessera.store import Provenance, StoreLayout, Zone, blocks, open_for_write

LAYOUT = StoreLayout(shard=64)
DIMS = 10
Z30, Z31 = Zone(30), Zone(31)
PROV = Provenance({"checkpoint_sha256": "0" * 64}, {"seed": 0}, "test")
BBOX = (-0.01, 52.0, 0.01, 52.01)  # straddles the 30N / 31N boundary at 0°
NODATA_PX = {}


def encode(zone: Zone, win: Window) -> np.ndarray:
    r = np.arange(win.row, win.row + win.height)[:, None] + np.zeros(win.width, int)
    c = np.arange(win.col, win.col + win.width)[None, :] + np.zeros((win.height, 1), int)
    digits = [r % 100, r // 100 % 100, r // 10**4 % 100, r // 10**6, c % 100, c // 100 % 100, c // 10**4]
    return np.stack([np.full_like(r, 127), np.full_like(r, zone.number), *digits, np.ones_like(r)], -1).astype(np.int8)


def decode(vals: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    v = np.rint(vals).astype(np.int64)
    row = v[..., 2] + 100 * v[..., 3] + 10**4 * v[..., 4] + 10**6 * v[..., 5]
    return v[..., 1], row, v[..., 6] + 100 * v[..., 7] + 10**4 * v[..., 8]


def zone_pixels(zone: Zone, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return zone.grid().pixel_of(*lonlat_to(zone.epsg, lon, lat))


def zone_window(zone, lon0, lon1, lat0, lat1):
    rows, cols = zone_pixels(zone, np.array([lon0, lon1, lon0, lon1]), np.array([lat0, lat0, lat1, lat1]))
    return Window(int(rows.min()), int(cols.min()), int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1))


def build_store(root):
    store = open_for_write(root, PROV, DIMS, LAYOUT)
    # Each zone covers its side of 0° and a little of the other: overlap, no gap.
    for zone, (lon0, lon1) in ((Z30, (-0.02, 0.002)), (Z31, (-0.002, 0.02))):
        group = store.ensure(2024, zone, PROV, DIMS)
        win = zone_window(zone, lon0, lon1, 51.99, 52.02)
        for shard, piece in blocks(win, LAYOUT):
            q = encode(zone, piece)
            scales = np.ones(q.shape[:2], np.float32)
            if zone == Z31 and (piece.row // 64 + piece.col // 64) % 3 == 0:
                scales[0, 0] = np.inf  # a pixel embedded without any valid observation: no data
                NODATA_PX[(piece.row, piece.col)] = True
            group.write_block(shard, piece, q, scales, f"cube-{zone.name}")
    return root
