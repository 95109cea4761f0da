"""The explorer in a real browser (Debian's headless Chromium driven by Selenium): draw two
classes' polygons, train, read the predicted classes from the rendered tiles' pixels, restart
and find everything again, and check that the page asked nothing of any host but its own."""

from __future__ import annotations

import io
import json
import os
import shutil
import time
import urllib.parse
from pathlib import Path

import numpy as np
import pytest

COLOURS = {"crop": (230, 25, 25), "wood": (25, 60, 230)}
ARTIFACTS = Path(os.environ.get("TESSERA_ARTIFACTS", Path(__file__).parents[2] / "artifacts"))


def _browser_paths() -> tuple[str, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (chromium and driver):
        message = "Debian's chromium and chromium-driver are not installed (make browser installs them)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return chromium, driver


@pytest.fixture
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    chromium, driver = _browser_paths()
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not look for a driver online
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--window-size=1400,900",
        "--force-device-scale-factor=1",
    ):
        opts.add_argument(arg)
    opts.add_argument("--disable-dev-shm-usage")
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    drv = webdriver.Chrome(service=Service(driver), options=opts)
    drv.set_page_load_timeout(60)
    yield drv
    drv.quit()


def _wait(drv, script: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = drv.execute_script(script)
        if value:
            return value
        time.sleep(0.1)
    status = drv.execute_script("return document.getElementById('status')?.textContent")
    raise AssertionError(f"timed out waiting for: {script} (page status: {status})")


def _open(drv, url: str) -> None:
    drv.get(url)
    _wait(drv, "return window.tessera && window.tessera.ready")


def _click_at(drv, lon: float, lat: float) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    x, y = drv.execute_script(
        "const p = tessera.map.latLngToContainerPoint([arguments[1], arguments[0]]); return [p.x, p.y];", lon, lat
    )
    el = drv.find_element(By.ID, "map")
    w, h = el.size["width"], el.size["height"]
    ActionChains(drv).move_to_element_with_offset(el, int(x - w / 2), int(y - h / 2)).click().perform()
    time.sleep(0.35)  # apart from the next click: two quick ones are a double-click


def _add_class(drv, name: str) -> None:
    from selenium.webdriver.common.by import By

    drv.find_element(By.ID, "class-name").send_keys(name)
    drv.execute_script(
        "document.getElementById('class-colour').value = arguments[0]", "#{:02x}{:02x}{:02x}".format(*COLOURS[name])
    )
    n = len(drv.execute_script("return tessera.state.classes"))
    drv.find_element(By.ID, "class-add").click()
    _wait(drv, f"return tessera.state.classes.length > {n}")


def _draw(drv, corners: list[tuple[float, float]]) -> None:
    from selenium.webdriver.common.by import By

    n = len(drv.execute_script("return tessera.state.labels.features"))
    drv.find_element(By.CSS_SELECTOR, "[data-mode=polygon]").click()
    for lon, lat in corners:
        _click_at(drv, lon, lat)
    drv.find_element(By.ID, "finish").click()
    _wait(drv, f"return tessera.state.labels.features.length > {n}")


def _tiles_loaded(drv, layer: str) -> bool:
    return drv.execute_script(
        "const t = document.querySelectorAll('.layer-' + arguments[0] + ' img.leaflet-tile');"
        "return t.length > 0 && [...t].every(i => i.complete && i.classList.contains('leaflet-tile-loaded'));",
        layer,
    )


def _only(drv, layer: str) -> None:
    """Show ``layer`` alone, opaque, without the labels drawn over it."""
    from selenium.webdriver.common.by import By

    names = drv.execute_script("return Object.keys(tessera.state.layers)")
    for name in names:  # each click redraws the list: find each box afresh
        box = drv.find_element(By.ID, f"layer-{name}")
        if box.is_selected() != (name == layer):
            box.click()
    drv.execute_script(
        "const s = document.getElementById('opacity-' + arguments[0]);"
        "s.value = 1; s.dispatchEvent(new Event('input'));",
        layer,
    )
    labels = drv.find_element(By.ID, "show-labels")
    if labels.is_selected():
        labels.click()
    deadline = time.monotonic() + 30
    while not _tiles_loaded(drv, layer) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # the tiles' fade-in


def _pixel(image, drv, lon: float, lat: float) -> tuple[int, int, int]:
    x, y = drv.execute_script(
        "const p = tessera.map.latLngToContainerPoint([arguments[1], arguments[0]]); return [p.x, p.y];", lon, lat
    )
    return tuple(int(v) for v in image.getpixel((int(x), int(y)))[:3])


def _hosts(drv) -> set[str]:
    hosts = set()
    for entry in drv.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            url = urllib.parse.urlsplit(msg["params"]["request"]["url"])
            if url.scheme not in ("data", "blob"):
                hosts.add(url.hostname or "")
    return hosts


def test_label_train_map_restart_offline(explorable, serve, browser, tmp_path):
    from PIL import Image

    project = tmp_path / "project"
    server = serve("explore", str(explorable.store), "--project", str(project), "--no-open")
    _open(browser, server.url)
    names = list(COLOURS)
    for name in names:
        _add_class(browser, name)
    for name, fld in zip(names, explorable.fields, strict=True):
        browser.execute_script(f"document.getElementById('class-{names.index(name)}').click()")
        _draw(browser, fld.corners(explorable.grid))
    browser.find_element("id", "train").click()
    _wait(browser, "return tessera.state.head && tessera.state.layers.classes")
    assert (
        "held-out accuracy" in browser.find_element("id", "evaluation").text
        or "no held-out" in browser.find_element("id", "evaluation").text
    )

    _only(browser, "classes")
    shot = browser.get_screenshot_as_png()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "explore-classes.png").write_bytes(shot)
    image = Image.open(io.BytesIO(shot)).convert("RGB")
    for name, fld in zip(names, explorable.fields, strict=True):
        got = np.array(_pixel(image, browser, *fld.centre(explorable.grid)))
        want = np.array(COLOURS[name])
        other = np.array(COLOURS[names[1 - names.index(name)]])
        assert np.abs(got - want).sum() < 40, f"{name}'s polygon is drawn {got.tolist()}, not {want.tolist()}"
        assert np.abs(got - other).sum() > 200

    hosts = _hosts(browser)
    assert hosts == {"127.0.0.1"}, f"the page asked hosts other than its own: {hosts}"

    # Everything was saved as it happened: a new server on the same project restores it.
    server.stop()
    labels = json.loads((project / "labels.geojson").read_text())
    assert [f["properties"]["class"] for f in labels["features"]] == names
    assert (project / "head.skops").exists()
    again = serve("explore", str(explorable.store), "--project", str(project), "--no-open")
    _open(browser, again.url)
    state = browser.execute_script("return tessera.state")
    assert [c["name"] for c in state["classes"]] == names
    assert len(state["labels"]["features"]) == 2
    assert state["head"]["head"] == "logistic" and "classes" in state["layers"]
    _only(browser, "classes")
    image = Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB")
    for name, fld in zip(names, explorable.fields, strict=True):
        assert np.abs(np.array(_pixel(image, browser, *fld.centre(explorable.grid))) - COLOURS[name]).sum() < 40
    browser.execute_script("tessera.map.setZoom(tessera.map.getZoom())")
    (ARTIFACTS / "explore-restored.png").write_bytes(browser.get_screenshot_as_png())


def test_a_web_map_shows_its_layers_without_a_cdn(browser, tmp_path):
    """``--html`` maps inline Leaflet: offline, the overlays draw; only the base map asks a host."""
    from affine import Affine

    from tessera.grid import Grid
    from tessera.viz.geo import web_map

    grid = Grid("EPSG:32631", Affine(10, 0, 300000, 0, -10, 5790000), 32, 32)
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 255
    html = web_map(tmp_path / "map.html", grid, {"red": rgba})
    assert "cdn.jsdelivr" not in html.read_text() and "<script src=" not in html.read_text()
    browser.get(html.as_uri())
    _wait(browser, "return typeof L !== 'undefined' && document.querySelectorAll('.leaflet-image-layer').length > 0")
    assert browser.execute_script("return document.querySelector('.leaflet-image-layer').complete")
    assert _hosts(browser) <= {"tile.openstreetmap.org", ""}, _hosts(browser)
