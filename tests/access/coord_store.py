"""A store whose values encode where they were written (zone, lattice row and column), over the
30N/31N boundary at 0° E: any seam, shift or wrong zone in a read shows as a wrong decoded place."""

import numpy as np

from tessera.access.points import zone_pixels
from tessera.grid import Window
from tessera.store import Provenance, StoreLayout, Zone, blocks, open_for_write

LAYOUT = StoreLayout(shard=16, chunk=8)
Z30, Z31 = Zone(30, True), Zone(31, True)
BBOX = (-0.01, 52.0, 0.01, 52.01)  # straddles the 30N / 31N boundary at 0°
NODATA_PX = {}


def encode(zone: Zone, win: Window) -> np.ndarray:
    r = np.arange(win.row, win.row + win.height)[:, None] + np.zeros(win.width, int)
    c = np.arange(win.col, win.col + win.width)[None, :] + np.zeros((win.height, 1), int)
    digits = [r % 100, r // 100 % 100, r // 10000, c % 100, c // 100 % 100, c // 10000]
    return np.stack([np.full_like(r, 127), np.full_like(r, zone.number), *digits], -1).astype(np.int8)


def decode(vals: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    v = np.rint(vals).astype(np.int64)
    return v[..., 1], v[..., 2] + 100 * v[..., 3] + 10000 * v[..., 4], v[..., 5] + 100 * v[..., 6] + 10000 * v[..., 7]


def zone_window(zone, lon0, lon1, lat0, lat1):
    rows, cols = zone_pixels(zone, np.array([lon0, lon1, lon0, lon1]), np.array([lat0, lat0, lat1, lat1]))
    return Window(int(rows.min()), int(cols.min()), int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1))


def build_store(root):
    store, _ = open_for_write(root, LAYOUT)
    prov = Provenance({"checkpoint_sha256": "0" * 64}, {"seed": 0}, "test", "test")
    # Each zone covers its side of 0° and a little of the other: overlap, no gap.
    for zone, (lon0, lon1) in ((Z30, (-0.02, 0.002)), (Z31, (-0.002, 0.02))):
        group = store.ensure_group(2024, zone, 8, prov)
        win = zone_window(zone, lon0, lon1, 51.99, 52.02)
        for shard, piece in blocks(win, LAYOUT):
            q = encode(zone, piece)
            scales = np.ones(q.shape[:2], np.float32)
            if zone == Z31 and (piece.row // 16 + piece.col // 16) % 7 == 0:
                scales[0, 0] = np.nan  # a pixel embedded without any valid observation
                NODATA_PX[(piece.row, piece.col)] = True
            group.write_block(shard, piece, q, scales, f"cube-{zone.name}")
    return root


