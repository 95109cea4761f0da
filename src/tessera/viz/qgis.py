"""QGIS styles beside the rasters we write: QGIS loads ``map.qml`` with ``map.tif`` by itself, so a
class map opens with its class names and the colours of our PNGs, not as grey integers (it does
not read our ``.json`` legend). A GeoTIFF colour table would need 8- or 16-bit unsigned classes;
class maps stay int32 with -1 = no data."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path


def class_colours(ids: list[int], top: int, cmap: str = "tab10") -> dict[int, str]:
    """``#rrggbb`` of each class id, as ``viz.save_png`` colours it (``cmap(id / top)``)."""
    import matplotlib

    cm = matplotlib.colormaps[cmap]
    out = {}
    for i in ids:
        r, g, b, _ = cm(i / max(top, 1))
        out[i] = f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"
    return out


def write_class_style(path: str | os.PathLike, legend: dict[int, str], top: int, cmap: str = "tab10") -> Path:
    """A paletted-renderer QGIS style (``.qml``) for band 1 of a class map: one entry per class."""
    from tessera.atomic import atomic_file

    root = ET.Element("qgis", version="3.28", styleCategories="AllStyleCategories")
    pipe = ET.SubElement(root, "pipe")
    renderer = ET.SubElement(pipe, "rasterrenderer", type="paletted", band="1", opacity="1", alphaBand="-1")
    palette = ET.SubElement(renderer, "colorPalette")
    colours = class_colours(sorted(legend), top, cmap)
    for i in sorted(legend):
        ET.SubElement(palette, "paletteEntry", value=str(i), color=colours[i], alpha="255", label=str(legend[i]))
    text = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(root, encoding="unicode")
    path = Path(path)
    with atomic_file(path) as tmp:
        tmp.write_text(text + "\n")
    return path
