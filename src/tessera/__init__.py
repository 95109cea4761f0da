"""tessera — an open implementation of TESSERA, the pixel-wise Earth-observation foundation model.

Quickstart::

    from tessera.simulate import SimulationConfig, simulate
    from tessera.cube import open_cube, write_cube

    scene = simulate(SimulationConfig(height=128, width=128, year=2024, seed=0))
    write_cube("scene.zarr", scene.cube)
    cube = open_cube("scene.zarr")
    window = cube.read(tessera.grid.Window(0, 0, 64, 64))   # lazy: reads only those chunks

See ``tessera --help`` for the command line.
"""

from importlib.metadata import PackageNotFoundError, version

from tessera.errors import TesseraError

try:
    __version__ = version("tessera")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"

__all__ = ["TesseraError", "__version__"]
