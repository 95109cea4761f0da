"""The d-pixel cube: a year of Sentinel-1/2 observations per pixel, on one UTM grid.

``CubeData`` holds a cube (or a window of one) in memory; ``open_cube`` opens one on disk lazily;
``write_cube`` / ``CubeWriter`` write one atomically; ``import_npy`` converts the official
stacker's ``.npy`` files.
"""

from tessera.cube.data import CubeData, S1Series
from tessera.cube.npy_import import export_npy, grid_from_geotiff, import_npy, write_roi_geotiff
from tessera.cube.timeseries import interpolate_gaps
from tessera.cube.zarr_cube import Cube, CubeChunks, CubeWriter, cube_location, is_cube, open_cube, write_cube

__all__ = [
    "Cube",
    "CubeChunks",
    "CubeData",
    "CubeWriter",
    "S1Series",
    "cube_location",
    "export_npy",
    "grid_from_geotiff",
    "import_npy",
    "interpolate_gaps",
    "is_cube",
    "open_cube",
    "write_cube",
    "write_roi_geotiff",
]
