"""An explorer project: a folder holding what a user made, written as it happens and read back
on reopening.

- ``settings.json``: the store, year and area, the classes (name, colour), the layers' opacity
  and visibility, a basemap URL if the user added one;
- ``labels.geojson``: every label, a GeoJSON feature in lon/lat whose ``class`` property names its
  class (what ``tessera heads fit --labels labels.geojson --column class`` takes);
- ``head.skops``: the last fitted head, the file ``tessera heads predict`` takes;
- ``map.tif`` (+ ``.json`` legend, ``.png``): the last exported map.

Every write goes to a temporary name and is renamed into place. A label file edited by hand into
something that is not valid GeoJSON is refused with its line and left as it is; the project opens
without those labels, and the first new label moves the broken file aside rather than over it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tessera.atomic import atomic_file
from tessera.errors import ProjectError

SETTINGS, LABELS, HEAD, MAP = "settings.json", "labels.geojson", "head.skops", "map.tif"
GEOMETRIES = ("Point", "MultiPoint", "Polygon", "MultiPolygon")


def write_json(path: Path, obj: Any) -> None:
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1))


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ProjectError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); fix or remove it — "
            f"the project opens without its {what} until then"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ProjectError(f"{path} is not UTF-8 text; fix or remove it") from exc


def check_feature(feature: Any, where: str) -> dict:
    """A label feature as stored: a GeoJSON Feature with a point or polygon geometry and a
    non-empty ``class`` name (a feature without one is not a label)."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise ProjectError(f"{where} is not a GeoJSON Feature")
    geom = feature.get("geometry")
    if (
        not isinstance(geom, dict)
        or geom.get("type") not in GEOMETRIES
        or not isinstance(geom.get("coordinates"), list)
    ):
        raise ProjectError(f"{where} needs a geometry of type {', '.join(GEOMETRIES)} with coordinates")
    props = feature.get("properties")
    name = props.get("class") if isinstance(props, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise ProjectError(f"{where} has no class name (properties.class); every label names its class")
    return feature


def read_labels(path: Path) -> list[dict]:
    """The features of a label file, each checked (``check_feature``)."""
    doc = _read_json(path, "labels")
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(doc.get("features"), list):
        raise ProjectError(f"{path} is not a GeoJSON FeatureCollection; fix or remove it")
    return [check_feature(f, f"{path}: feature {i + 1}") for i, f in enumerate(doc["features"])]


@dataclass
class Project:
    folder: Path
    settings: dict[str, Any] = field(default_factory=dict)
    labels: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what could not be read, said on the page
    _labels_broken: bool = False

    @classmethod
    def open(cls, folder: str | Path) -> Project:
        """The project in ``folder`` (created if absent); files that cannot be read are reported in
        ``problems`` and left untouched."""
        folder = Path(folder).resolve()
        if folder.exists() and not folder.is_dir():
            raise ProjectError(f"project path {folder} is a file; give a folder")
        folder.mkdir(parents=True, exist_ok=True)
        project = cls(folder)
        if (folder / SETTINGS).exists():
            settings = _read_json(folder / SETTINGS, "settings")  # unreadable settings: refuse, say why
            if not isinstance(settings, dict):
                raise ProjectError(f"{folder / SETTINGS} is not a JSON object; fix or remove it")
            project.settings = settings
        if (folder / LABELS).exists():
            try:
                project.labels = read_labels(folder / LABELS)
            except ProjectError as exc:
                project.problems.append(str(exc))
                project._labels_broken = True
        return project

    def path(self, name: str) -> Path:
        """A file of the project named by a request: a plain name inside the folder, nothing else."""
        if not name or "/" in name or "\\" in name or "\0" in name or name.startswith("."):
            raise ProjectError(f"{name!r} is not a file name in the project folder")
        path = (self.folder / name).resolve()
        if path.parent != self.folder:
            raise ProjectError(f"{name!r} is not a file name in the project folder")
        return path

    def save_settings(self) -> None:
        write_json(self.folder / SETTINGS, self.settings)

    def save_labels(self) -> None:
        target = self.folder / LABELS
        if self._labels_broken and target.exists():  # keep the user's hand edit; never write over it
            aside = target.with_name(f"labels.invalid-{time.strftime('%Y%m%d-%H%M%S')}.geojson")
            target.rename(aside)
            self.problems.append(f"the invalid label file was kept as {aside.name}")
        self._labels_broken = False
        write_json(target, {"type": "FeatureCollection", "features": self.labels})
