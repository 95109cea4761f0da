// tessera explore: the page. It keeps no state of its own worth saving: every change is sent to
// the server, which writes it into the project folder, and the page redraws from /api/state.
"use strict";
const token = new URLSearchParams(location.search).get("token") || "";
const TITLES = {
  pca: "embeddings (PCA)", similar: "similarity", classes: "predicted classes", confidence: "confidence",
  change: "change between years", clusters: "K-means clusters", coverage: "coverage",
  applicability: "area of applicability (dissimilarity)", suggestions: "label next", reliability: "reliability",
};
const ORDER = ["pca", "change", "similar", "clusters", "classes", "confidence", "applicability", "suggestions", "reliability", "coverage"];
const $ = (id) => document.getElementById(id);
// Names come from the project folder, which may be someone else's: never markup.
const esc = (text) => String(text).replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&#39;" })[c]);
let state = null, map = null, mode = "pan", draft = [], draftLine = null, selected = null;
let labelsLayer = null, basemap = null, saveTimer = null;
const tiles = {}, layerSettings = {};

function say(text, error) {
  $("status").textContent = text;
  $("status").className = "small" + (error ? " error" : "");
}

async function api(name, body) {
  const r = await fetch("/api/" + name, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Tessera-Token": token },
    body: JSON.stringify(body || {}),
  });
  const j = await r.json().catch(() => ({ error: r.statusText }));
  if (!r.ok) throw new Error(j.error || r.statusText);
  return j.result;
}

async function act(label, name, body) {
  say(label + " …");
  try {
    const result = await api(name, body);
    await refresh();
    say(label + ": done");
    return result;
  } catch (e) {
    say(e.message, true);
    return null;
  }
}

async function refresh() {
  const r = await fetch("/api/state" + (token ? "?token=" + encodeURIComponent(token) : ""));
  state = await r.json();
  draw();
}

function tileUrl(name) {
  const v = state.layers[name].version;
  let url = `/tiles/${name}/{z}/{x}/{y}.png?v=${v}`;
  if (name === "similar") url += `&min=${$("threshold").value}`;
  return url + (token ? `&token=${encodeURIComponent(token)}` : "");
}

function layerOptions(name) {
  const saved = (state.settings.layers || {})[name] || {};
  if (!(name in layerSettings)) {
    layerSettings[name] = { visible: saved.visible ?? ["pca", "classes", "similar"].includes(name), opacity: saved.opacity ?? 0.85 };
  }
  return layerSettings[name];
}

function saveSettings(updates) {
  clearTimeout(saveTimer);
  saveTimer = setTimeout(() => api("settings", { updates }).catch((e) => say(e.message, true)), 400);
}

function legendHtml(name) {
  const legend = state.layers[name].legend || [];
  return legend.map((e) => `<span>${e.colour ? `<span class="swatch" style="background:${esc(e.colour)}"></span>` : ""}${esc(e.label)}</span>`).join("");
}

function drawLayers() {
  const names = Object.keys(state.layers).sort((a, b) => (ORDER.indexOf(a) + 99 * (ORDER.indexOf(a) < 0)) - (ORDER.indexOf(b) + 99 * (ORDER.indexOf(b) < 0)));
  const box = $("layers");
  box.innerHTML = "";
  names.forEach((name, i) => {
    const opts = layerOptions(name);
    const url = tileUrl(name);
    if (!tiles[name]) {
      tiles[name] = L.tileLayer(url, {
        minZoom: state.zooms.min, maxZoom: state.zooms.max, bounds: L.latLngBounds([[state.bounds[1], state.bounds[0]], [state.bounds[3], state.bounds[2]]]),
        opacity: opts.opacity, zIndex: 10 + i, className: "layer-" + name.replace(/[^\w-]/g, "_"),
      });
    } else if (tiles[name]._url !== url) {
      tiles[name].setUrl(url);
    }
    tiles[name].setZIndex(10 + i);
    if (opts.visible && !map.hasLayer(tiles[name])) tiles[name].addTo(map);
    if (!opts.visible && map.hasLayer(tiles[name])) map.removeLayer(tiles[name]);
    const div = document.createElement("div");
    div.className = "layer";
    const id = esc(name);  // a quality layer's name comes from the store's metadata
    div.innerHTML = `<div class="row"><input type="checkbox" id="layer-${id}" ${opts.visible ? "checked" : ""}>
      <label class="name" for="layer-${id}">${esc(TITLES[name] || name.replaceAll("_", " "))}</label>
      <input type="range" id="opacity-${id}" min="0" max="1" step="0.05" value="${opts.opacity}" title="opacity"></div>
      <div class="legend">${legendHtml(name)}</div>`;
    box.appendChild(div);
    div.querySelector("input[type=checkbox]").onchange = (e) => { opts.visible = e.target.checked; drawLayers(); saveSettings({ layers: layerSettings }); };
    div.querySelector("input[type=range]").oninput = (e) => { opts.opacity = +e.target.value; tiles[name].setOpacity(opts.opacity); saveSettings({ layers: layerSettings }); };
  });
}

function classColour(name) {
  const c = state.classes.find((k) => k.name === name);
  return c ? c.colour : "#888";
}

function drawLabels() {
  if (labelsLayer) map.removeLayer(labelsLayer);
  labelsLayer = L.geoJSON(state.labels, {
    style: (f) => (f.properties.class ? { color: classColour(f.properties.class), weight: 2, fillOpacity: 0.15 }
      : { color: "#fff", weight: 2, dashArray: "3 3", fillOpacity: 0 }),
    pointToLayer: (f, ll) => (f.properties.class
      ? L.circleMarker(ll, { radius: 4, color: classColour(f.properties.class), weight: 2, fillOpacity: 0.6 })
      : L.circleMarker(ll, { radius: 7, color: "#fff", weight: 2, fillOpacity: 0 })),
    interactive: false,
  });
  const q = state.settings.query;  // the similarity query, marked so the map says what it compares to
  if (q) labelsLayer.addData({ type: "Feature", geometry: q, properties: { class: "" } });
  if ($("show-labels").checked) labelsLayer.addTo(map);
  const n = state.labels.features.length;
  $("label-count").textContent = `${n} label${n === 1 ? "" : "s"}` + (state.undo ? ` · ${state.undo} step${state.undo === 1 ? "" : "s"} to undo` : "");
}

function drawClasses() {
  const box = $("classes");
  box.innerHTML = "";
  if (selected === null && state.classes.length) selected = state.classes[0].id;
  state.classes.forEach((c) => {
    const n = state.labels.features.filter((f) => f.properties.class === c.name).length;
    const div = document.createElement("div");
    div.className = "class" + (c.id === selected ? " selected" : "");
    div.id = "class-" + c.id;
    div.innerHTML = `<span class="swatch" style="background:${esc(c.colour)}"></span><span>${esc(c.name)}</span><span class="small">${n}</span>`;
    div.onclick = () => { selected = c.id; drawClasses(); };
    box.appendChild(div);
  });
  if (!state.classes.length) box.innerHTML = '<div class="small">add a class, then draw its labels</div>';
}

function drawEvaluation() {
  const h = state.head;
  if (!h) { $("evaluation").textContent = "no head yet"; return; }
  const names = (h.confusion_classes || []).map((c) => esc(h.legend[c] || c));
  let html = `<div>${esc(h.head)} on ${h.n_labelled} labelled pixels; ${h.accuracy === null || h.accuracy === undefined ? "no held-out accuracy" : `held-out accuracy <b id="accuracy">${(100 * h.accuracy).toFixed(1)} %</b>`}</div><div>${esc(h.note)}</div>`;
  if (h.confusion && h.confusion.length) {
    html += '<table class="cm"><tr><th>true \\ predicted</th>' + names.map((n) => `<th>${n}</th>`).join("") + "</tr>";
    h.confusion.forEach((row, i) => { html += `<tr><th>${names[i]}</th>` + row.map((v) => `<td>${v}</td>`).join("") + "</tr>"; });
    html += "</table>";
  }
  $("evaluation").innerHTML = html;
}

function expandCount() {
  const t = +$("threshold").value;
  $("threshold-value").textContent = t.toFixed(2);
  if (!state.histogram) { $("expand-count").textContent = "click a place first"; return; }
  const bins = state.histogram.length, first = Math.round((t + 1) / 2 * bins);
  const n = state.histogram.slice(Math.max(0, first)).reduce((a, b) => a + b, 0);
  $("expand-count").textContent = `${n} px ≥ ${t.toFixed(2)}`;
}

function drawYears() {
  for (const id of ["year-from", "year-to"]) {
    const sel = $(id);
    if (sel.options.length) continue;
    state.years.forEach((y) => sel.add(new Option(y, y)));
  }
  const [a, b] = state.settings.change || [state.years[0], state.years[state.years.length - 1]];
  $("year-from").value = a; $("year-to").value = b;
}

function draw() {
  $("where").textContent = `${state.store} · ${state.year} · ${state.size[0]} × ${state.size[1]} px`;
  const p = $("problems");
  p.hidden = !state.problems.length;
  p.innerHTML = state.problems.map((t) => `<div>${esc(t)}</div>`).join("");
  drawLayers(); drawLabels(); drawClasses(); drawEvaluation(); expandCount(); drawYears();
}

function setMode(m) {
  mode = m;
  document.querySelectorAll("[data-mode]").forEach((b) => b.classList.toggle("on", b.dataset.mode === m));
  map.getContainer().style.cursor = m === "pan" ? "" : "crosshair";
  clearDraft();
}

function clearDraft() {
  draft = [];
  if (draftLine) { map.removeLayer(draftLine); draftLine = null; }
}

function ring(points) {
  const coords = points.map((p) => [p.lng, p.lat]);
  coords.push(coords[0]);
  return { type: "Polygon", coordinates: [coords] };
}

async function finishPolygon() {
  if (draft.length < 3) { say("a polygon needs three corners or more", true); return; }
  const geometry = ring(draft), wasQuery = mode === "query-polygon";
  clearDraft();
  if (wasQuery) await act("similarity to the polygon", "query", { geometry });
  else await addLabel(geometry);
}

async function addLabel(geometry) {
  if (selected === null) { say("add a class first", true); return; }
  await act("label", "labels", { class: selected, geometry });
}

function onClick(e) {
  if (mode === "point") addLabel({ type: "Point", coordinates: [e.latlng.lng, e.latlng.lat] });
  else if (mode === "query") act("similarity", "query", { geometry: { type: "Point", coordinates: [e.latlng.lng, e.latlng.lat] } });
  else if (mode === "polygon" || mode === "query-polygon") {
    draft.push(e.latlng);
    if (draftLine) map.removeLayer(draftLine);
    draftLine = L.polyline(draft, { color: "#fff", dashArray: "4 3" }).addTo(map);
  }
}

function wire() {
  document.querySelectorAll("[data-mode]").forEach((b) => (b.onclick = () => setMode(b.dataset.mode)));
  $("finish").onclick = finishPolygon;
  $("undo").onclick = () => act("undo", "undo");
  $("class-add").onclick = async () => {
    const r = await act("class", "classes", { name: $("class-name").value, colour: $("class-colour").value });
    if (r) { selected = r.id; $("class-name").value = ""; drawClasses(); }
  };
  $("threshold").oninput = () => {
    expandCount();
    clearTimeout(window._simTimer);
    window._simTimer = setTimeout(() => { if (state.layers.similar) drawLayers(); }, 150);
  };
  $("expand").onclick = () => act("expansion", "expand", { class: selected, threshold: +$("threshold").value });
  $("suggest").onclick = async () => {
    const clusters = await act("K-means", "suggest", { k: +$("k").value });
    if (!clusters) return;
    const box = $("clusters");
    box.innerHTML = "";
    clusters.forEach((c) => {
      const div = document.createElement("div");
      div.className = "row";
      div.innerHTML = `<span class="swatch" style="background:${c.colour}"></span> ${c.pixels} px <select>${state.classes.map((k) => `<option value="${k.id}">${esc(k.name)}</option>`).join("")}</select><button>adopt</button>`;
      div.querySelector("button").onclick = () => act("cluster labels", "adopt", { cluster: c.cluster, class: +div.querySelector("select").value });
      box.appendChild(div);
    });
  };
  $("next").onclick = async () => {
    const found = await act("label-next", "next", { n: +$("next-n").value });
    if (!found) return;
    $("next-list").innerHTML = found.map((s) => `${s.rank}. ${s.lon.toFixed(5)}, ${s.lat.toFixed(5)} (uncertainty ${s.uncertainty === null ? "–" : s.uncertainty.toFixed(2)})`).join("<br>");
  };
  $("train").onclick = () => act("training", "train", { head: $("head").value });
  $("head-load").onclick = () => act("head", "head", { name: $("head-file").value });
  $("export").onclick = async () => { const name = await act("export", "export"); if (name) say(`wrote ${name} in the project folder`); };
  $("change").onclick = () => act("change", "change", { from: +$("year-from").value, to: +$("year-to").value });
  $("show-labels").onchange = drawLabels;
  $("basemap-add").onclick = () => { setBasemap($("basemap-url").value); saveSettings({ basemap: $("basemap-url").value }); };
  map.on("click", onClick);
  map.on("dblclick", (e) => { if (mode === "polygon" || mode === "query-polygon") { draft.pop(); finishPolygon(); } });
  map.on("moveend", () => saveSettings({ view: { center: [map.getCenter().lat, map.getCenter().lng], zoom: map.getZoom() } }));
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") clearDraft(); });
}

function setBasemap(url) {
  if (basemap) { map.removeLayer(basemap); basemap = null; }
  if (url) basemap = L.tileLayer(url, { zIndex: 1, maxZoom: 22 }).addTo(map);  // only the user's choice leaves the machine
}

async function start() {
  await refresh().catch(() => null);
  if (!state) { say("could not read the explorer's state", true); return; }
  const b = state.bounds, view = state.settings.view;
  map = L.map("map", { doubleClickZoom: false, minZoom: state.zooms.min, maxZoom: state.zooms.max, attributionControl: false });
  if (view && view.center) map.setView(view.center, view.zoom);
  else map.fitBounds([[b[1], b[0]], [b[3], b[2]]]);
  if (state.settings.basemap) { $("basemap-url").value = state.settings.basemap; setBasemap(state.settings.basemap); }
  wire();
  draw();
  window.tessera = { map, get state() { return state; }, refresh, ready: true };
}
start();
