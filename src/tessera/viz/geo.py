"""Georeferenced pictures: RGB GeoTIFFs, a self-contained HTML web map (folium/Leaflet), and a
plot of where a store has embeddings."""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import numpy as np

from tessera.atomic import atomic_file
from tessera.errors import ConfigError
from tessera.grid import Grid


def class_rgba(classes: np.ndarray, vmax: int, cmap: str = "tab10") -> np.ndarray:
    """(H, W) class ids → (H, W, 4) uint8 in the colours :func:`save_png` uses; negative ids
    (no data) transparent."""
    import matplotlib

    rgba = (matplotlib.colormaps[cmap](np.maximum(classes, 0) / max(vmax, 1)) * 255).astype(np.uint8)
    rgba[classes < 0, 3] = 0
    return rgba


def value_rgba(values: np.ndarray, cmap: str = "viridis") -> np.ndarray:
    """(H, W) values → (H, W, 4) uint8, stretched between the 2nd and 98th percentile; NaN transparent."""
    import matplotlib

    ok = np.isfinite(values)
    lo, hi = np.percentile(values[ok], [2, 98]) if ok.any() else (0.0, 1.0)
    scaled = np.clip((np.nan_to_num(values, nan=lo) - lo) / max(hi - lo, 1e-12), 0, 1)
    rgba = (matplotlib.colormaps[cmap](scaled) * 255).astype(np.uint8)
    rgba[~ok, 3] = 0
    return rgba


def rgb_rgba(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) float in [0, 1] → (H, W, 4) uint8; all-zero (no-data) pixels transparent."""
    out = np.zeros((*rgb.shape[:2], 4), np.uint8)
    out[..., :3] = np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8)
    out[..., 3] = np.where(rgb.any(axis=2), 255, 0)
    return out


def save_rgb_geotiff(path: str | os.PathLike, rgb: np.ndarray, grid: Grid) -> Path:
    """An RGB(A) picture as a Cloud-Optimised GeoTIFF on ``grid`` (GIS tools show it in place)."""
    from rasterio.enums import ColorInterp

    from tessera.geotiff import write_cog

    img = rgb_rgba(rgb) if rgb.dtype != np.uint8 else rgb
    interp = [ColorInterp.red, ColorInterp.green, ColorInterp.blue, ColorInterp.alpha][: img.shape[2]]
    return write_cog(path, np.ascontiguousarray(img.transpose(2, 0, 1)), grid, colorinterp=interp)


def _to_web_mercator(rgba: np.ndarray, grid: Grid) -> tuple[np.ndarray, list[list[float]]]:
    """Warp to EPSG:3857 (Leaflet's plane, where an image overlay is stretched linearly) and give
    its corners in lat/lon."""
    from rasterio.warp import Resampling, calculate_default_transform, reproject, transform_bounds

    b = grid.bounds
    dst_t, w, h = calculate_default_transform(
        grid.crs, "EPSG:3857", grid.width, grid.height, b.left, b.bottom, b.right, b.top
    )
    out = np.zeros((4, h, w), np.uint8)
    for i in range(4):
        reproject(
            np.ascontiguousarray(rgba[..., i]),
            out[i],
            src_transform=grid.transform,
            src_crs=grid.crs,
            dst_transform=dst_t,
            dst_crs="EPSG:3857",
            resampling=Resampling.nearest,
        )
    left, top = dst_t.c, dst_t.f
    right, bottom = left + w * dst_t.a, top + h * dst_t.e
    west, south, east, north = transform_bounds("EPSG:3857", "EPSG:4326", left, bottom, right, top)
    return out.transpose(1, 2, 0), [[south, west], [north, east]]


def _png_uri(rgba: np.ndarray) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    plt.imsave(buf, rgba, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


#: Leaflet 1.9.4 from npm, vendored with its licence (``SOURCE.md``): the explorer serves it, web maps inline it.
LEAFLET = Path(__file__).parent / "leaflet"


def _metric_scale():
    """A Leaflet scale bar in metres and kilometres only."""
    from branca.element import MacroElement
    from jinja2 import Template

    scale = MacroElement()
    scale._template = Template(
        "{% macro script(this, kwargs) %}"
        "L.control.scale({metric: true, imperial: false}).addTo({{ this._parent.get_name() }});"
        "{% endmacro %}"
    )
    return scale


def web_map(
    path: str | os.PathLike,
    grid: Grid,
    layers: dict[str, np.ndarray],
    legend: dict[int, str] | None = None,
    vmax: int | None = None,
) -> Path:
    """One HTML file with an OpenStreetMap base and each (H, W, 4) uint8 layer inlined as PNG,
    switchable in a layer control. Leaflet is inlined too (the copy vendored in ``viz/leaflet``),
    and folium's CDN scripts left out: the layers show offline; only the base map needs a network."""
    import folium

    if not layers:
        raise ValueError("web_map needs at least one layer")
    m = folium.Map(tiles="OpenStreetMap", control_scale=False)  # folium's scale bar shows feet and miles too
    _metric_scale().add_to(m)
    m.default_js, m.default_css = [], []  # jQuery, Bootstrap, markers from CDNs: nothing here uses them
    inline = (
        f"<style>{(LEAFLET / 'leaflet.css').read_text()}</style><script>{(LEAFLET / 'leaflet.js').read_text()}</script>"
    )
    m.get_root().header.add_child(folium.Element(inline))  # type: ignore[attr-defined]  # a Figure's header
    for name, rgba in layers.items():
        img, bounds = _to_web_mercator(rgba, grid)  # every layer is on ``grid``: the same bounds
        folium.raster_layers.ImageOverlay(
            _png_uri(img), bounds=bounds, name=name, opacity=0.85, interactive=False
        ).add_to(m)
    m.fit_bounds(bounds)
    folium.LayerControl(collapsed=False).add_to(m)
    if legend:
        import matplotlib

        cm, top = matplotlib.colormaps["tab10"], vmax or max(legend)
        rows = "".join(
            f'<div><span style="background:{matplotlib.colors.to_hex(cm(i / top))};display:inline-block;'
            f'width:12px;height:12px;margin-right:4px"></span>{name}</div>'
            for i, name in sorted(legend.items())
        )
        box = (
            f'<div style="position:fixed;bottom:24px;left:12px;z-index:9999;background:white;padding:6px;'
            f'font:12px sans-serif;border-radius:4px">{rows}</div>'
        )
        m.get_root().html.add_child(folium.Element(box))  # type: ignore[attr-defined]  # a Figure's html
    path = Path(path)
    with atomic_file(path) as tmp:
        m.save(str(tmp))
    return path


def plot_coverage(footprints: list[dict], path: str | os.PathLike, title: str = "") -> Path:
    """Where a store has embeddings: one rectangle per recorded block or tile (lon/lat), coloured
    by year."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    fig, ax = plt.subplots(figsize=(6, 5), dpi=110)
    years = sorted({f["year"] for f in footprints})
    colours = {y: matplotlib.colormaps["tab10"](i % 10) for i, y in enumerate(years)}
    for f in footprints:
        w, s, e, n = f["bounds"]
        ax.add_patch(
            Rectangle(
                (w, s),
                e - w,
                n - s,
                facecolor=colours[f["year"]],
                alpha=0.35,
                edgecolor=colours[f["year"]],
                linewidth=0.5,
            )
        )
    if footprints:
        b = np.array([f["bounds"] for f in footprints])
        pad = max(b[:, 2].max() - b[:, 0].min(), b[:, 3].max() - b[:, 1].min()) * 0.05 + 1e-4
        ax.set_xlim(b[:, 0].min() - pad, b[:, 2].max() + pad)
        ax.set_ylim(b[:, 1].min() - pad, b[:, 3].max() + pad)
    ax.set_aspect(1 / np.cos(np.deg2rad(np.mean(ax.get_ylim()))))
    ax.set_xlabel("longitude (°)")
    ax.set_ylabel("latitude (°)")
    ax.set_title(title or "embedding coverage", fontsize=10)
    ax.legend(
        handles=[Rectangle((0, 0), 1, 1, color=colours[y], alpha=0.5, label=str(y)) for y in years],
        fontsize=7,
        loc="upper right",
    )
    ax.grid(alpha=0.3)
    from tessera.viz import save_figure

    return save_figure(fig, path)


def plot_tile_coverage(
    rows: list, bbox: tuple[float, float, float, float], path: str | os.PathLike, title: str = ""
) -> Path:
    """Tiles of a coverage answer (``tile_registry.TileRow``) in lon/lat: green where embedded
    (paler the more pixels were refused), red where evaluated and wholly refused; the asked-for
    box outlined. A tile across the antimeridian is drawn on both sides."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    fig, ax = plt.subplots(figsize=(6, 5), dpi=110)
    tile_px = 2048 * 2048
    for r in rows:
        w, s, e, n = r.bbox
        spans = [(w, 180.0), (-180.0, e)] if w > e else [(w, e)]
        refused = 0.0 if r.refused_px is None else min(1.0, r.refused_px / tile_px)
        colour = ("tab:green", 0.65 - 0.5 * refused) if r.embedded else ("tab:red", 0.45)
        for lo, hi in spans:
            ax.add_patch(
                Rectangle((lo, s), hi - lo, n - s, facecolor=colour[0], alpha=colour[1], edgecolor="k", lw=0.3)
            )
    w, s, e, n = bbox
    for lo, hi in [(w, 180.0), (-180.0, e)] if w > e else [(w, e)]:
        ax.add_patch(Rectangle((lo, s), hi - lo, n - s, fill=False, edgecolor="tab:blue", lw=1.5))
    boxes = np.array([r.bbox for r in rows] + [bbox], float)
    pad = 0.05 * max(float(np.ptp(boxes[:, [0, 2]])), float(np.ptp(boxes[:, [1, 3]])), 1e-3)
    ax.set_xlim(boxes[:, [0, 2]].min() - pad, boxes[:, [0, 2]].max() + pad)
    ax.set_ylim(boxes[:, [1, 3]].min() - pad, boxes[:, [1, 3]].max() + pad)
    ax.set_aspect(1 / max(np.cos(np.deg2rad(np.mean(ax.get_ylim()))), 0.05))
    ax.set_xlabel("longitude (°)")
    ax.set_ylabel("latitude (°)")
    ax.set_title(title or "coverage", fontsize=10)
    ax.legend(
        handles=[
            Rectangle((0, 0), 1, 1, color="tab:green", alpha=0.6, label="embedded"),
            Rectangle((0, 0), 1, 1, color="tab:red", alpha=0.45, label="wholly refused"),
            Rectangle((0, 0), 1, 1, fill=False, edgecolor="tab:blue", label="asked for"),
        ],
        fontsize=7,
        loc="best",
    )
    ax.grid(alpha=0.3)
    from tessera.viz import save_figure

    return save_figure(fig, path)


def check_pca_path(path: str | os.PathLike) -> str:
    """The suffix of a PCA picture to write (``.png``, ``.tif``/``.tiff``, ``.html``), or a one-line error."""
    kind = Path(path).suffix.lower()
    if kind not in (".png", ".tif", ".tiff", ".html"):
        raise ConfigError(f"--out {path} must end in .png, .tif or .html")
    return kind


def save_pca(path: str | os.PathLike, embeddings: np.ndarray, grid: Grid, name: str) -> Path:
    """The first three principal components of (H, W, D) ``embeddings`` as RGB, in the form the
    suffix asks for: ``.png``, an RGBA Cloud-Optimised GeoTIFF (``.tif``) or a web map (``.html``)."""
    from tessera.viz import pca_rgb, save_png

    path = Path(path)
    kind = check_pca_path(path)
    rgb = pca_rgb(embeddings)
    if kind == ".png":
        return save_png(path, rgb, f"{name}: first three principal components")
    if kind == ".html":
        return web_map(path, grid, {f"{name} (PCA)": rgb_rgba(rgb)})
    return save_rgb_geotiff(path, rgb, grid)
