/* skyfence web UI: plain JS + MapLibre GL JS, no build step, no network beyond this server. */
(function () {
  "use strict";

  const TOKEN_KEY = "skyfence.token";
  const BY_KEY = "skyfence.by"; // the name the operator typed, sent with acknowledgements
  const MAX_ALERTS = 300;
  const STALE_S = 60;
  const STATES = ["normal", "warning", "inside", "suspect"];
  const SEVERITY_COLOURS = ["match", ["get", "severity"],
    "info", "#4aa3ff", "warning", "#f5a524", "critical", "#f0474f", "#f5a524"];
  // kind -> {label, colour, severity, explanation}, from /api/kinds (skyfence/kinds.py) at start
  let KINDS = {};
  const kindLabel = (kind) => (KINDS[kind] && KINDS[kind].label) || kind;

  const $ = (sel) => document.querySelector(sel);
  const state = {
    zones: new Map(), // zone id -> Feature
    aircraft: new Map(), // icao24 -> {marker, el, props, sig}
    alerts: new Map(), // event id -> record
    selected: null, // selected event id
    stream: null,
    everConnected: false,
    lastStatus: null,
  };

  // ------------------------------------------------------------------ helpers
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(node.dataset, v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  const SVG_NS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    return node;
  }

  async function api(path, options) {
    const resp = await fetch(path, options);
    if (!resp.ok) {
      const err = new Error(`${options && options.method ? options.method : "GET"} ${path}: HTTP ${resp.status}`);
      err.status = resp.status;
      throw err;
    }
    return resp.json();
  }

  function parseTime(iso) {
    const t = Date.parse(iso);
    return Number.isFinite(t) ? t : 0;
  }

  function hms(iso) {
    if (!iso) return "–";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    return d.toISOString().slice(11, 19) + "Z";
  }

  function dateTime(iso) {
    if (!iso) return "–";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    return d.toISOString().slice(0, 19).replace("T", " ") + "Z";
  }

  function shortTime(iso) {
    // time of day if the date is today's (UTC), else date and time
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    const today = new Date().toISOString().slice(0, 10);
    const day = d.toISOString().slice(0, 10);
    return day === today ? hms(iso) : `${day.slice(5)} ${hms(iso)}`;
  }

  function duration(seconds) {
    const s = Math.round(Math.abs(seconds));
    const m = Math.floor(s / 60);
    const sign = seconds < 0 ? "−" : "+";
    return m ? `${sign}${m} min ${s % 60} s` : `${sign}${s} s`;
  }

  function alt(ft) {
    return ft === null || ft === undefined ? "–" : `${Math.round(ft).toLocaleString("en-US")} ft`;
  }

  function bandText(zone, details) {
    const p = zone && zone.properties;
    if (p && (p.floor || p.ceiling)) return `${p.floor || "SFC"} – ${p.ceiling || "UNL"}`;
    if (details && details.band) return String(details.band);
    return "–";
  }

  function zoneName(zoneId) {
    const z = state.zones.get(zoneId);
    return (z && z.properties && z.properties.name) || zoneId || "–";
  }

  // Where an event is: its zone, or for a rule's event (no zone) what the rule saw, as
  // skyfence.alerts.message.place says it in messages and on the console.
  function placeOf(ev) {
    if (ev.zone_id) return zoneName(ev.zone_id);
    const d = ev.details || {};
    if (ev.kind === "emergency_squawk" && d.squawk) return `squawk ${d.squawk}` + (d.meaning ? ` (${d.meaning})` : "");
    const listed = d.watchlist || null;
    if (ev.kind === "watched_aircraft") return "watch list" + (listed && listed.category ? ` (${listed.category})` : "");
    return kindLabel(ev.kind);
  }

  let messageTimer = null;
  function showMessage(text, kind) {
    const node = $("#message");
    node.textContent = text;
    node.className = kind || "info";
    clearTimeout(messageTimer);
    if (kind !== "error") messageTimer = setTimeout(() => { node.textContent = ""; }, 8000);
  }

  function announce(text) {
    $("#announcer").textContent = text;
  }

  function extendBounds(bounds, coords) {
    if (!Array.isArray(coords)) return;
    if (typeof coords[0] === "number") {
      if (Number.isFinite(coords[0]) && Number.isFinite(coords[1])) bounds.extend([coords[0], coords[1]]);
      return;
    }
    for (const c of coords) extendBounds(bounds, c);
  }

  function geometryBounds(bounds, geometry) {
    if (!geometry) return;
    if (geometry.type === "GeometryCollection") geometry.geometries.forEach((g) => geometryBounds(bounds, g));
    else extendBounds(bounds, geometry.coordinates);
  }

  // ------------------------------------------------------------------ token
  function tokenFromFragment() {
    const hash = window.location.hash.replace(/^#/, "");
    if (!hash) return;
    const params = new URLSearchParams(hash);
    const token = params.get("token");
    if (!token) return;
    setToken(token);
    params.delete("token");
    const rest = params.toString();
    // keep the token out of the address bar, screenshots and history
    history.replaceState(null, "", window.location.pathname + window.location.search + (rest ? "#" + rest : ""));
  }

  function getToken() {
    try { return localStorage.getItem(TOKEN_KEY) || state.memToken || null; } catch (e) { return state.memToken || null; }
  }

  function setToken(token) {
    state.memToken = token || null;
    try {
      if (token) localStorage.setItem(TOKEN_KEY, token); else localStorage.removeItem(TOKEN_KEY);
    } catch (e) { /* storage disabled: memory only */ }
  }

  // ------------------------------------------------------------------ map
  tokenFromFragment();
  setupByField();

  const map = new maplibregl.Map({
    container: "map",
    style: {
      version: 8,
      // no glyphs, no sprite: nothing is fetched from elsewhere; all text is HTML
      sources: {},
      layers: [{ id: "sea", type: "background", paint: { "background-color": "#0d1b2a" } }],
    },
    center: [10, 48],
    zoom: 3,
    dragRotate: false,
    pitchWithRotate: false,
    attributionControl: { compact: true, customAttribution: "Base map: Natural Earth" },
  });
  window.skyfenceMap = map; // for the browser tests and the curious, from the console
  map.touchZoomRotate.disableRotation();
  map.keyboard.disableRotation();
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "bottom-right");
  map.addControl(new maplibregl.ScaleControl({ unit: "nautical" }), "bottom-left");

  const mapLoaded = new Promise((resolve) => map.on("load", resolve));

  function updateLabelVisibility() {
    const z = map.getZoom();
    const container = $("#map");
    container.classList.toggle("no-labels", z < 4);
    container.classList.toggle("no-zone-labels", z < 3);
    declutterZoneLabels();
  }
  map.on("zoomend", updateLabelVisibility);
  map.on("moveend", () => declutterZoneLabels());

  // zone labels are HTML (no glyphs fetched), so MapLibre cannot collide them: a label that
  // would overlap one already placed waits until the zoom leaves it room (the zone's click
  // still names it)
  function declutterZoneLabels() {
    const placed = [];
    const alerted = new Set((state.firstEvents || []).map((ev) => ev.zone_id));
    const markers = (state.zoneLabels || []).slice().sort((a, b) =>
      alerted.has(b.getElement().dataset.zone) - alerted.has(a.getElement().dataset.zone));
    for (const marker of markers) {  // the zones alerts are about placed first
      const node = marker.getElement();
      node.classList.remove("crowded");
      const r = node.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      const clash = placed.some((q) => r.left < q.right && q.left < r.right && r.top < q.bottom && q.top < r.bottom);
      if (clash) node.classList.add("crowded");
      else placed.push(r);
    }
  }

  const emptyFC = () => ({ type: "FeatureCollection", features: [] });

  function addBasemap(fc) {
    map.addSource("land", { type: "geojson", data: fc, tolerance: 0.5 });
    map.addLayer({ id: "land", type: "fill", source: "land", paint: { "fill-color": "#1e2c3b" } });
    map.addLayer({
      id: "land-outline", type: "line", source: "land",
      paint: { "line-color": "#3a4f64", "line-width": 0.6 },
    });
  }

  function addOverlayLayers() {
    map.addSource("zones", { type: "geojson", data: emptyFC() });
    map.addLayer({
      id: "zones-fill", type: "fill", source: "zones",
      paint: {
        "fill-color": SEVERITY_COLOURS,
        "fill-opacity": ["case", ["==", ["get", "active_now"], false], 0.06, 0.18],
      },
    });
    map.addLayer({
      id: "zones-line", type: "line", source: "zones",
      paint: {
        "line-color": SEVERITY_COLOURS,
        "line-width": 1.5,
        "line-opacity": ["case", ["==", ["get", "active_now"], false], 0.5, 0.95],
      },
    });
    map.addLayer({
      id: "zones-line-inactive", type: "line", source: "zones",
      filter: ["==", ["get", "active_now"], false],
      paint: { "line-color": "#0d1b2a", "line-width": 1.6, "line-dasharray": [3, 3] },
    });
    map.addSource("sel-zone", { type: "geojson", data: emptyFC() });
    map.addLayer({
      id: "sel-zone", type: "line", source: "sel-zone",
      paint: { "line-color": "#ffffff", "line-width": 2.5, "line-opacity": 0.8 },
    });
    map.addSource("track", { type: "geojson", data: emptyFC() });
    map.addLayer({
      id: "track-line", type: "line", source: "track",
      filter: ["==", ["geometry-type"], "LineString"],
      layout: { "line-join": "round", "line-cap": "round" },
      paint: { "line-color": "#5cb8ff", "line-width": 2.5 },
    });
    map.addLayer({
      id: "track-fixes", type: "circle", source: "track",
      filter: ["==", ["get", "role"], "fix"],
      paint: { "circle-radius": 2, "circle-color": "#5cb8ff" },
    });
    map.addLayer({
      id: "track-quarantined", type: "circle", source: "track",
      filter: ["==", ["get", "role"], "quarantined"],
      paint: {
        "circle-radius": 4, "circle-color": "rgba(181,123,255,0.25)",
        "circle-stroke-color": "#b57bff", "circle-stroke-width": 1.5,
      },
    });
    map.addLayer({
      id: "track-predicted", type: "circle", source: "track",
      filter: ["==", ["get", "role"], "predicted"],
      paint: {
        "circle-radius": 6, "circle-color": "rgba(0,0,0,0)",
        "circle-stroke-color": "#f5a524", "circle-stroke-width": 2,
      },
    });
    map.addLayer({
      id: "track-event", type: "circle", source: "track",
      filter: ["==", ["get", "role"], "event"],
      paint: {
        "circle-radius": 7, "circle-color": "#f0474f",
        "circle-stroke-color": "#ffffff", "circle-stroke-width": 2.5,
      },
    });
  }

  // ------------------------------------------------------------------ interference
  // Per hour and H3 cell (from the watcher's integrity layer): cells coloured by the share of
  // degraded aircraft (gpsjam's bands), cells where aircraft were spoofed outlined, and the
  // cells spoofed positions claimed filled in purple. The slider picks the hour.
  const IF_COLOURS = ["match", ["get", "jamming"], "high", "#f0474f", "medium", "#f2c12e", "#4caf50"];
  const IF_LAYERS = {
    "if-fill": [">", ["get", "aircraft"], 0],
    "if-claimed": [">", ["get", "claimed"], 0],
    "if-spoofed": [">", ["get", "spoofed"], 0],
  };
  const interference = { hours: [], hour: null };

  function addInterferenceLayers() {
    map.addSource("interference", { type: "geojson", data: emptyFC() });
    map.addLayer({
      id: "if-fill", type: "fill", source: "interference",
      paint: { "fill-color": IF_COLOURS, "fill-opacity": 0.4, "fill-outline-color": "#0d1b2a" },
    });
    map.addLayer({
      id: "if-claimed", type: "fill", source: "interference",
      paint: { "fill-color": "#b57bff", "fill-opacity": 0.5, "fill-outline-color": "#e2ccff" },
    });
    map.addLayer({
      id: "if-spoofed", type: "line", source: "interference",
      paint: { "line-color": "#b57bff", "line-width": 3 },
    });
    for (const id of Object.keys(IF_LAYERS)) {
      map.on("click", id, (e) => {
        const p = e.features[0].properties;
        const body = el("div", { class: "popup" },
          el("b", { text: `${p.hour.slice(0, 13).replace("T", " ")}:00 UTC` }),
          el("div", { text: `${p.aircraft} aircraft seen, ${p.degraded} degraded (jamming)` }),
          el("div", { text: `${p.spoofed} spoofed here, ${p.claimed} claimed this cell` }),
          el("div", { class: "muted", text: `H3 ${p.cell}` }));
        new maplibregl.Popup({ maxWidth: "300px" }).setLngLat(e.lngLat).setDOMContent(body).addTo(map);
      });
    }
    $("#if-hour").addEventListener("input", showInterferenceHour);
    $("#if-show").addEventListener("change", showInterferenceHour);
  }

  function showInterferenceHour() {
    const hours = interference.hours;
    const hour = hours[Number($("#if-hour").value)] || null;
    interference.hour = hour;
    const visible = $("#if-show").checked && hour !== null;
    for (const [id, filter] of Object.entries(IF_LAYERS)) {
      map.setFilter(id, ["all", ["==", ["get", "hour"], hour || ""], filter]);
      map.setLayoutProperty(id, "visibility", visible ? "visible" : "none");
    }
    const cells = hour ? interference.fc.features.filter((f) => f.properties.hour === hour) : [];
    const flagged = cells.filter((f) => f.properties.jamming !== "low" || f.properties.spoofed || f.properties.claimed);
    $("#if-label").textContent = hour
      ? `${hour.slice(0, 13).replace("T", " ")}:00 UTC · ${cells.length} cells, ${flagged.length} flagged`
      : "";
  }

  async function loadInterference() {
    const fc = await api("/api/interference");
    interference.fc = fc;
    const hours = fc.hours || [];
    const previous = interference.hours;
    const atLatest = interference.hour === null || interference.hour === previous[previous.length - 1];
    const keep = atLatest ? -1 : hours.indexOf(interference.hour); // the latest hour is followed
    interference.hours = hours;
    $("#interference").hidden = hours.length === 0;
    const slider = $("#if-hour");
    slider.max = String(Math.max(0, hours.length - 1));
    slider.value = String(keep >= 0 ? keep : Math.max(0, hours.length - 1));
    map.getSource("interference").setData(fc);
    showInterferenceHour();
  }

  // ------------------------------------------------------------------ zones
  function ringArea(ring) {
    let a = 0;
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      a += (ring[j][0] - ring[i][0]) * (ring[j][1] + ring[i][1]);
    }
    return a / 2;
  }

  function labelPoint(geometry) {
    // centroid of the largest outer ring: good enough for a label
    const polys = geometry.type === "Polygon" ? [geometry.coordinates]
      : geometry.type === "MultiPolygon" ? geometry.coordinates : [];
    let best = null;
    let bestArea = -1;
    for (const poly of polys) {
      const area = Math.abs(ringArea(poly[0]));
      if (area > bestArea) { bestArea = area; best = poly[0]; }
    }
    if (!best) return null;
    let cx = 0, cy = 0, a = 0;
    for (let i = 0, j = best.length - 1; i < best.length; j = i++) {
      const f = best[j][0] * best[i][1] - best[i][0] * best[j][1];
      cx += (best[j][0] + best[i][0]) * f;
      cy += (best[j][1] + best[i][1]) * f;
      a += f;
    }
    if (Math.abs(a) < 1e-12) return best[0];
    return [cx / (3 * a), cy / (3 * a)];
  }

  function zonePopup(feature) {
    const p = feature.properties || {};
    const periods = Array.isArray(p.periods) ? p.periods : [];
    return el("div", { class: "popup" },
      el("h3", { text: p.name || p.id }),
      el("dl", {},
        el("dt", { text: "id" }), el("dd", { text: p.id }),
        el("dt", { text: "band" }), el("dd", { text: bandText(feature) }),
        el("dt", { text: "severity" }), el("dd", { text: p.severity || "–" }),
        el("dt", { text: "active now" }), el("dd", { text: p.active_now === false ? "no" : "yes" }),
        periods.length ? [el("dt", { text: "periods" }),
          el("dd", {}, ...periods.slice(0, 6).map((pr) =>
            el("div", { text: `${dateTime(pr[0])} → ${pr[1] ? dateTime(pr[1]) : "open"}` })))] : null));
  }

  function drawZones(fc) {
    const features = (fc && fc.features) || [];
    state.zones.clear();
    for (const f of features) {
      if (f && f.properties && f.properties.id !== undefined) state.zones.set(f.properties.id, f);
    }
    map.getSource("zones").setData({ type: "FeatureCollection", features });
    for (const m of state.zoneLabels || []) m.remove();
    state.zoneLabels = [];
    for (const f of features) {
      if (!f.geometry) continue;
      const at = labelPoint(f.geometry);
      if (!at) continue;
      const p = f.properties || {};
      const node = el("div", { class: "zone-label", dataset: { zone: p.id } },
        el("div", { text: p.name || p.id }), el("div", { class: "band", text: bandText(f) }));
      state.zoneLabels.push(new maplibregl.Marker({ element: node }).setLngLat(at).addTo(map));
    }
    declutterZoneLabels();
  }

  map.on("click", "zones-fill", (e) => {
    if (e.originalEvent && e.originalEvent.defaultPrevented) return;
    const f = e.features && e.features[0];
    if (!f) return;
    const full = state.zones.get(f.properties.id) || f;
    // MapLibre flattens nested properties to strings; use the original feature
    new maplibregl.Popup({ maxWidth: "320px" }).setLngLat(e.lngLat).setDOMContent(zonePopup(full)).addTo(map);
  });
  map.on("mouseenter", "zones-fill", () => { map.getCanvas().style.cursor = "pointer"; });
  map.on("mouseleave", "zones-fill", () => { map.getCanvas().style.cursor = ""; });

  // ------------------------------------------------------------------ aircraft
  function aircraftElement(icao24) {
    const root = el("div", { class: "aircraft state-normal", dataset: { icao24 }, role: "img" });
    const s = svg("svg", { viewBox: "-10 -10 20 20", "aria-hidden": "true" });
    const g = svg("g", {});
    const arrow = svg("path", { class: "glyph arrow", d: "M0,-9 L6.5,7 L0,3.2 L-6.5,7 Z" });
    const dot = svg("circle", { class: "glyph dot", r: "4.5" });
    g.append(arrow, dot);
    s.append(g);
    const label = el("span", { class: "callsign" });
    root.append(s, label);
    return { root, g, arrow, dot, label };
  }

  function aircraftPopup(p) {
    const zones = Array.isArray(p.zones) ? p.zones : [];
    return el("div", { class: "popup" },
      el("h3", { text: `${p.callsign || "—"} (${p.icao24})` }),
      el("dl", {},
        el("dt", { text: "state" }), el("dd", { text: p.state || "normal" }),
        el("dt", { text: "time" }), el("dd", { text: dateTime(p.time) }),
        el("dt", { text: "altitude" }), el("dd", { text: alt(p.altitude_ft) }),
        el("dt", { text: "speed" }), el("dd", { text: p.gs_kt == null ? "–" : `${Math.round(p.gs_kt)} kt` }),
        el("dt", { text: "track" }), el("dd", { text: p.track_deg == null ? "–" : `${Math.round(p.track_deg)}°` }),
        el("dt", { text: "country" }), el("dd", { text: p.country || "–" }),
        zones.length ? [el("dt", { text: "zones" }), el("dd", { text: zones.map(zoneName).join(", ") })] : null));
  }

  function updateAircraft(fc) {
    const features = (fc && fc.features) || [];
    const seen = new Set();
    let newest = -Infinity;
    for (const f of features) {
      const t = f.properties && Number(f.properties.time_s);
      if (Number.isFinite(t) && t > newest) newest = t;
    }
    const selectedIcao = state.selectedIcao;
    for (const f of features) {
      const p = f.properties || {};
      const c = f.geometry && f.geometry.coordinates;
      if (!p.icao24 || !c || !Number.isFinite(c[0]) || !Number.isFinite(c[1])) continue;
      seen.add(p.icao24);
      let a = state.aircraft.get(p.icao24);
      if (!a) {
        const parts = aircraftElement(p.icao24);
        const marker = new maplibregl.Marker({ element: parts.root }).setLngLat(c).addTo(map);
        parts.root.addEventListener("click", (ev) => {
          ev.stopPropagation();
          const cur = state.aircraft.get(p.icao24);
          new maplibregl.Popup({ offset: 12, maxWidth: "300px" })
            .setLngLat(cur.marker.getLngLat()).setDOMContent(aircraftPopup(cur.props)).addTo(map);
        });
        a = { marker, parts, sig: "" };
        state.aircraft.set(p.icao24, a);
      } else {
        a.marker.setLngLat(c);
      }
      a.props = p;
      const st = STATES.includes(p.state) ? p.state : "normal";
      const hasTrack = p.track_deg !== null && p.track_deg !== undefined && Number.isFinite(Number(p.track_deg));
      const stale = Number.isFinite(newest) && Number.isFinite(Number(p.time_s)) && newest - p.time_s > STALE_S;
      const sig = `${st}|${hasTrack ? Math.round(p.track_deg) : "x"}|${p.callsign}|${stale}|${p.icao24 === selectedIcao}`;
      if (sig === a.sig) continue;
      a.sig = sig;
      const root = a.parts.root;
      // classList, not className: MapLibre's own marker classes position the element
      for (const name of STATES) root.classList.toggle(`state-${name}`, name === st);
      root.classList.toggle("stale", stale);
      root.classList.toggle("selected", p.icao24 === selectedIcao);
      root.setAttribute("aria-label", `${p.callsign || p.icao24} ${st}`);
      root.title = `${p.callsign || ""} ${p.icao24} · ${st}`.trim();
      a.parts.label.textContent = p.callsign || p.icao24;
      a.parts.arrow.style.display = hasTrack ? "" : "none";
      a.parts.dot.style.display = hasTrack ? "none" : "";
      a.parts.g.setAttribute("transform", hasTrack ? `rotate(${Number(p.track_deg)})` : "");
    }
    for (const [icao24, a] of state.aircraft) {
      if (!seen.has(icao24)) { a.marker.remove(); state.aircraft.delete(icao24); }
    }
    $("#aircraft-count").textContent = String(state.aircraft.size);
  }

  // ------------------------------------------------------------------ alerts
  function alertItem(ev) {
    const acked = ev.acknowledged || null;
    const li = el("li", {
      class: `alert kind-${ev.kind}` + (acked ? " acked" : "") + (state.selected === ev.id ? " selected" : ""),
      style: KINDS[ev.kind] ? `--k: ${KINDS[ev.kind].colour}` : null,
      title: KINDS[ev.kind] ? KINDS[ev.kind].explanation : null,
      dataset: { id: ev.id, time: ev.time },
    });
    const open = el("button", {
      class: "open", type: "button", "aria-label": `${kindLabel(ev.kind)} ${ev.callsign || ev.icao24} ${ev.zone_id ? "in " : ""}${placeOf(ev)} at ${dateTime(ev.time)}: show details`,
    },
      el("div", { class: "row" },
        el("span", { class: "kind", text: kindLabel(ev.kind) }),
        el("time", { datetime: ev.time, title: dateTime(ev.time), text: shortTime(ev.time) })),
      el("div", { class: "who" }, el("b", { text: ev.callsign || "—" }), el("span", { class: "icao", text: ev.icao24 })),
      el("div", { class: "zone" + (ev.zone_id ? "" : " rule"), title: ev.zone_id || KINDS[ev.kind]?.explanation || "", text: placeOf(ev) }));
    const button = el("button", {
      class: "ack", type: "button", disabled: !!acked, text: acked ? "Acknowledged" : "Acknowledge",
      onclick: (e) => { e.stopPropagation(); acknowledge(ev.id, button); },
    });
    const info = el("span", { class: "ack-info" });
    if (acked) {
      info.textContent = `by ${acked.by || "?"} at ${dateTime(acked.at)}` + (acked.note ? ` — ${acked.note}` : "");
    }
    li.append(open, el("div", { class: "ack-row" }, button, info));
    li.addEventListener("click", () => selectEvent(ev.id));
    return li;
  }

  function putAlert(ev, isNew) {
    if (!ev || !ev.id) return;
    const list = $("#alerts");
    const old = list.querySelector(`.alert[data-id="${CSS.escape(ev.id)}"]`);
    state.alerts.set(ev.id, ev);
    const li = alertItem(ev);
    if (isNew) li.classList.add("new");
    if (old) {
      if (old.classList.contains("new") && !isNew) li.classList.add("new");
      old.replaceWith(li);
    } else {
      // newest first: insert before the first item older than this one
      const t = parseTime(ev.time);
      let before = null;
      for (const item of list.children) {
        if (parseTime(item.dataset.time) < t) { before = item; break; }
      }
      list.insertBefore(li, before);
      while (list.children.length > MAX_ALERTS) {
        const last = list.lastElementChild;
        state.alerts.delete(last.dataset.id);
        last.remove();
      }
    }
    $("#alerts-empty").hidden = list.children.length > 0;
    $("#alerts-count").textContent = list.children.length ? `(${list.children.length})` : "";
  }

  async function loadEvents() {
    let page = await api("/api/events?limit=50");
    const items0 = page.items || [];
    const ascending = items0.length > 1 && parseTime(items0[0].time) < parseTime(items0[items0.length - 1].time);
    if (ascending && page.total > items0.length) {
      // a server that pages oldest first: the newest 50 are on the last page
      page = await api(`/api/events?limit=50&offset=${Math.max(0, page.total - 50)}`);
    }
    const items = (page.items || []).slice().sort((a, b) => parseTime(b.time) - parseTime(a.time));
    for (const ev of items) putAlert(ev, false);
    state.firstEvents = items;
    $("#event-count").textContent = String(page.total);
  }

  // the acknowledging name is only ever what the operator typed: no link can set it
  function setupByField() {
    const field = $("#by");
    try { field.value = localStorage.getItem(BY_KEY) || ""; } catch (e) { /* none */ }
    field.addEventListener("change", () => {
      try { localStorage.setItem(BY_KEY, field.value.trim()); } catch (e) { /* memory only */ }
    });
  }

  function ackBody() {
    const by = $("#by").value.trim();
    return by ? { note: "", by } : { note: "" };
  }

  async function acknowledge(id, button) {
    let token = getToken();
    if (!token) {
      token = window.prompt("Operator token (printed by `skyfence serve`) to acknowledge events:");
      if (!token) return;
      token = token.trim();
      setToken(token);
    }
    button.disabled = true;
    try {
      const resp = await fetch(`/api/events/${encodeURIComponent(id)}/ack`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
        body: JSON.stringify(ackBody()),
      });
      if (resp.status === 401 || resp.status === 403) {
        setToken(null);
        button.disabled = false;
        showMessage("Token rejected: it was cleared. Open the URL printed by `skyfence serve`, or acknowledge again to enter it.", "error");
        return;
      }
      if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
      const record = await resp.json();
      putAlert(record, false);
      if (state.selected === id) selectEvent(id, { keepView: true });
      showMessage(`Acknowledged ${record.callsign || record.icao24}`, "info");
    } catch (err) {
      button.disabled = false;
      showMessage(`Acknowledge failed: ${err.message}`, "error");
    }
  }

  // ------------------------------------------------------------------ details
  function closeDetails() {
    state.selected = null;
    state.selectedIcao = null;
    $("#details").hidden = true;
    $("#details").replaceChildren();
    if (map.getSource("track")) map.getSource("track").setData(emptyFC());
    if (map.getSource("sel-zone")) map.getSource("sel-zone").setData(emptyFC());
    for (const li of document.querySelectorAll(".alert.selected")) li.classList.remove("selected");
    for (const a of state.aircraft.values()) { a.parts.root.classList.remove("selected"); a.sig = ""; }
  }

  async function selectEvent(id, opts) {
    const keepView = opts && opts.keepView;
    state.selected = id;
    for (const li of document.querySelectorAll(".alert")) li.classList.toggle("selected", li.dataset.id === id);
    let data;
    try {
      data = await api(`/api/events/${encodeURIComponent(id)}`);
    } catch (err) {
      showMessage(`Could not load event: ${err.message}`, "error");
      return;
    }
    if (state.selected !== id) return; // another click came first
    const ev = data.event;
    const track = Array.isArray(data.track) ? data.track : [];
    const zone = data.zone || state.zones.get(ev.zone_id) || null;
    state.selectedIcao = ev.icao24;
    for (const a of state.aircraft.values()) a.sig = "";

    const trusted = track.filter((p) => p.trusted !== false);
    const quarantined = track.filter((p) => p.trusted === false);
    const features = [];
    const trustedCoords = trusted.filter((p) => Number.isFinite(p.lon) && Number.isFinite(p.lat)).map((p) => [p.lon, p.lat]);
    for (let i = 1; i < trustedCoords.length; i++) {
      // each step the short way across ±180: MapLibre draws longitudes past 180 continuously
      const prev = trustedCoords[i - 1][0];
      const lon = trustedCoords[i][0] - 360 * Math.round((trustedCoords[i][0] - prev) / 360);
      trustedCoords[i] = [lon, trustedCoords[i][1]];
    }
    if (trustedCoords.length >= 2) {
      features.push({ type: "Feature", properties: { role: "line" }, geometry: { type: "LineString", coordinates: trustedCoords } });
    }
    for (const c of trustedCoords) features.push({ type: "Feature", properties: { role: "fix" }, geometry: { type: "Point", coordinates: c } });
    for (const p of quarantined) {
      if (!Number.isFinite(p.lon) || !Number.isFinite(p.lat)) continue;
      features.push({ type: "Feature", properties: { role: "quarantined", reason: p.reason || "" }, geometry: { type: "Point", coordinates: [p.lon, p.lat] } });
    }
    const d = ev.details || {};
    if (Number.isFinite(d.predicted_lon) && Number.isFinite(d.predicted_lat)) {
      features.push({ type: "Feature", properties: { role: "predicted" }, geometry: { type: "Point", coordinates: [d.predicted_lon, d.predicted_lat] } });
    }
    if (Number.isFinite(ev.lon) && Number.isFinite(ev.lat)) {
      features.push({ type: "Feature", properties: { role: "event" }, geometry: { type: "Point", coordinates: [ev.lon, ev.lat] } });
    }
    map.getSource("track").setData({ type: "FeatureCollection", features });
    map.getSource("sel-zone").setData(zone ? { type: "FeatureCollection", features: [zone] } : emptyFC());

    renderDetails(ev, track, trusted, quarantined, zone, data.track_around_s);

    if (!keepView) {
      const bounds = new maplibregl.LngLatBounds();
      for (const f of features) geometryBounds(bounds, f.geometry);
      if (zone) geometryBounds(bounds, zone.geometry);
      if (!bounds.isEmpty()) {
        map.fitBounds(bounds, { padding: viewPadding(), maxZoom: 11, duration: 600 });
      }
    }
  }

  function valueText(v) {
    if (v === null || v === undefined) return "–";
    if (Array.isArray(v) && v.length && v.every((x) => x && typeof x === "object" && "lat" in x && "lon" in x)) {
      // fixes (an entry's crossing segment): one line each
      return v.map((x) => `${x.time ? hms(x.time) : ""} ${Number(x.lat).toFixed(4)}, ${Number(x.lon).toFixed(4)}`
        + (x.altitude_ft == null ? "" : ` ${alt(x.altitude_ft)}`)).join("\n");
    }
    if (Array.isArray(v)) return v.map((x) => (typeof x === "object" ? JSON.stringify(x) : String(x))).join(", ");
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  }

  function altitudeProfile(track, ev, zone) {
    const pts = track.filter((p) => Number.isFinite(p.time_s ?? parseTime(p.time) / 1000));
    const tOf = (p) => (Number.isFinite(p.time_s) ? p.time_s : parseTime(p.time) / 1000);
    const alts = pts.map((p) => p.altitude_ft).filter((a) => Number.isFinite(a));
    if (pts.length < 2 || !alts.length) return null;
    const t0 = tOf(pts[0]);
    const t1 = tOf(pts[pts.length - 1]);
    const zp = (zone && zone.properties) || {};
    const floor = Number.isFinite(zp.floor_ft) ? zp.floor_ft : null;
    const ceiling = Number.isFinite(zp.ceiling_ft) ? zp.ceiling_ft : null;
    let lo = Math.min(...alts, 0);
    let hi = Math.max(...alts, floor !== null && floor < 60000 ? floor : 0);
    if (ceiling !== null && ceiling < hi * 1.5) hi = Math.max(hi, ceiling);
    hi = Math.max(hi * 1.08, lo + 1000);
    const W = 340, H = 120, L = 38, R = 6, T = 8, B = 16;
    const x = (t) => L + ((t - t0) / Math.max(1, t1 - t0)) * (W - L - R);
    const y = (a) => T + (1 - (a - lo) / (hi - lo)) * (H - T - B);
    const s = svg("svg", { class: "profile", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Altitude over time; zone band shaded" });
    if (floor !== null || ceiling !== null) {
      const top = y(Math.min(ceiling === null ? hi : ceiling, hi));
      const bottom = y(Math.max(floor === null ? lo : floor, lo));
      if (bottom > top) s.append(svg("rect", { class: "band", x: L, y: top, width: W - L - R, height: bottom - top }));
    }
    const trustedPts = pts.filter((p) => p.trusted !== false && Number.isFinite(p.altitude_ft));
    if (trustedPts.length) {
      s.append(svg("polyline", { class: "alt", points: trustedPts.map((p) => `${x(tOf(p)).toFixed(1)},${y(p.altitude_ft).toFixed(1)}`).join(" ") }));
    }
    for (const p of pts) {
      if (p.trusted === false && Number.isFinite(p.altitude_ft)) {
        s.append(svg("circle", { class: "q", cx: x(tOf(p)).toFixed(1), cy: y(p.altitude_ft).toFixed(1), r: 2.2 }));
      }
    }
    const te = parseTime(ev.time) / 1000;
    if (te >= t0 && te <= t1) s.append(svg("line", { class: "ev", x1: x(te), x2: x(te), y1: T, y2: H - B }));
    const label = (text, attrs) => { const n = svg("text", attrs); n.textContent = text; s.append(n); };
    label(`${Math.round(hi).toLocaleString("en-US")}`, { x: 2, y: T + 8 });
    label(`${Math.round(lo).toLocaleString("en-US")}`, { x: 2, y: H - B });
    label(hms(pts[0].time), { x: L, y: H - 4 });
    label(hms(pts[pts.length - 1].time), { x: W - R, y: H - 4, "text-anchor": "end" });
    return s;
  }

  function renderDetails(ev, track, trusted, quarantined, zone, aroundS) {
    const pane = $("#details");
    const aroundText = `within ${Math.round((aroundS || 900) / 60)} min of the event`;
    const d = ev.details || {};
    const reasons = new Map();
    for (const p of quarantined) reasons.set(p.reason || "quarantined", (reasons.get(p.reason || "quarantined") || 0) + 1);
    const suspectEvent = ev.kind === "suspect_position";
    const warn = quarantined.length > 0 || suspectEvent;
    const verdictText = quarantined.length === 0
      ? (suspectEvent ? "The reported position itself was judged suspect." : "All fixes in this window passed the integrity checks.")
      : `${quarantined.length} of the ${track.length} fixes logged ${aroundText} quarantined; they were not used for zone decisions.`;

    const timeRows = [];
    if (track.length) timeRows.push({ label: "first fix", time: track[0].time });
    timeRows.push({ label: kindLabel(ev.kind), time: ev.time, event: true });
    if (d.predicted_time) timeRows.push({ label: kindLabel("predicted_entry"), time: d.predicted_time });
    if (d.last_seen) timeRows.push({ label: "last seen", time: d.last_seen });
    if (track.length) timeRows.push({ label: "last fix", time: track[track.length - 1].time });
    timeRows.sort((a, b) => parseTime(a.time) - parseTime(b.time));
    const evT = parseTime(ev.time);

    const acked = ev.acknowledged;
    const profile = altitudeProfile(track, ev, zone);
    pane.replaceChildren(
      el("header", {},
        el("h2", {}, `${kindLabel(ev.kind)}: `, el("span", { class: "mono", text: ev.callsign || ev.icao24 })),
        el("button", { class: "close", type: "button", "aria-label": "Close details", text: "×", onclick: closeDetails })),
      el("dl", {},
        el("dt", { text: "aircraft" }), el("dd", { text: `${ev.callsign || "—"} · ${ev.icao24}${ev.country ? " · " + ev.country : ""}` }),
        ...(ev.zone_id
          ? [el("dt", { text: "zone" }), el("dd", { text: `${(zone && zone.properties && zone.properties.name) || zoneName(ev.zone_id)} (${ev.zone_id})` })]
          : [el("dt", { text: "rule" }), el("dd", { class: "rule", text: placeOf(ev) })]),
        ...(ev.zone_id ? [el("dt", { text: "zone band" }), el("dd", { class: "band", text: bandText(zone, d) })] : []),
        el("dt", { text: "event time" }), el("dd", { text: dateTime(ev.time) }),
        el("dt", { text: "position" }), el("dd", { text: `${Number(ev.lat).toFixed(4)}, ${Number(ev.lon).toFixed(4)}` }),
        el("dt", { text: "altitude" }), el("dd", { text: alt(ev.altitude_ft) }),
        el("dt", { text: "acknowledged" }), el("dd", { text: acked ? `by ${acked.by || "?"} at ${dateTime(acked.at)}${acked.note ? " — " + acked.note : ""}` : "no" })),
      el("h3", { text: "Integrity verdict" }),
      el("div", { class: "verdict" + (warn ? " warn" : ""), dataset: { trusted: trusted.length, quarantined: quarantined.length } },
        el("div", {}, el("b", { class: "trusted-count", text: String(trusted.length) }), " trusted · ",
          el("b", { class: "quarantined-count", text: String(quarantined.length) }), ` quarantined, ${aroundText}`),
        el("div", { text: verdictText }),
        reasons.size ? el("ul", {}, ...[...reasons].map(([r, n]) => el("li", { class: "mono", text: `${r}: ${n}` }))) : null),
      el("h3", { text: "Timeline" }),
      el("ul", { class: "timeline" }, ...timeRows.map((row) =>
        el("li", { class: row.event ? "event" : null },
          el("span", { class: "mono", text: hms(row.time) }),
          el("span", {}, row.label, row.event ? null : el("span", { class: "muted", text: `  ${duration((parseTime(row.time) - evT) / 1000)}` }))))),
      profile,
      el("h3", { text: "Event details" }),
      Object.keys(d).length
        ? el("dl", { class: "event-details" }, ...Object.entries(d).map(([k, v]) => [el("dt", { text: k }), el("dd", { text: valueText(v) })]))
        : el("p", { class: "muted", text: "none" }));
    pane.hidden = false;
  }

  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !$("#details").hidden) closeDetails();
  });

  function viewPadding() {
    const wide = window.innerWidth > 800;
    return { top: 40, bottom: 40, right: 40, left: wide ? 400 : 40 };
  }

  // ------------------------------------------------------------------ status
  function renderStatus(st) {
    if (!st) return;
    state.lastStatus = st;
    const sources = Array.isArray(st.sources) ? st.sources : [];
    $("#sources").replaceChildren(...sources.map((s) => {
      const rate = Number.isFinite(s.rate_per_s) ? `${s.rate_per_s.toFixed(s.rate_per_s < 10 ? 1 : 0)} msg/s` : "";
      const tip = [s.name, s.kind, s.connected ? "connected" : "disconnected",
        Number.isFinite(s.lag_s) ? `lag ${s.lag_s.toFixed(1)} s` : null,
        s.dropped ? `dropped ${s.dropped}` + (s.dropped_bytes ? ` (${s.dropped_bytes} bytes)` : "") : null, s.last_error || null].filter(Boolean).join(" · ");
      if (s.finished) {
        // a recording played to its end: done, not a lost feed, and no rate to show
        const done = `finished · ${Number(s.messages || 0).toLocaleString("en")} messages`;
        return el("span", { class: "source finished", dataset: { name: s.name }, title: `${s.name} · ${done}` },
          String(s.name).split(/[\\/]/).pop(), el("span", { class: "rate", text: done }));
      }
      // a feed that is down says why in the footer itself, not only in its tooltip
      const why = !s.connected && s.last_error ? shortError(s.last_error, s.name) : null;
      return el("span", { class: "source " + (s.connected ? "connected" : "disconnected"), dataset: { name: s.name }, title: tip },
        String(s.name).split(/[\\/]/).pop(), el("span", { class: why ? "rate why" : "rate", text: why || rate }));
    }));
    // deliveries waiting or failing (webhooks): the URL's secret is never sent, only its host
    const deliveries = (Array.isArray(st.deliveries) ? st.deliveries : []).filter((d) => d.pending || d.last_error);
    $("#deliveries").replaceChildren(...deliveries.map((d) => {
      const age = Number.isFinite(d.oldest_pending_s) ? `oldest ${Math.round(d.oldest_pending_s)} s` : null;
      const tip = [d.name, `${d.pending} pending`, age, d.last_error || null].filter(Boolean).join(" · ");
      const text = `${d.pending} pending` + (d.last_error ? ` · ${shortError(d.last_error, "")}` : "");
      return el("span", { class: "delivery" + (d.last_error ? " failing" : ""), dataset: { name: d.name }, title: tip },
        String(d.name), el("span", { class: "rate why", text }));
    }));
    if (Number.isFinite(st.aircraft)) $("#aircraft-count").textContent = String(st.aircraft);
    if (Number.isFinite(st.events)) $("#event-count").textContent = String(st.events);
    if (st.version) $("#version").textContent = `v${st.version}`;
  }

  function shortError(text, name) {
    let t = String(text);
    if (name && t.startsWith(name + ": ")) t = t.slice(name.length + 2);
    return t.replace(/^\[Errno -?\d+\] /, "");
  }

  function setStreamState(s) {
    const node = $("#stream-state");
    node.dataset.state = s;
    node.textContent = { live: "live", connecting: "connecting…", reconnecting: "reconnecting…", disconnected: "disconnected" }[s] || s;
  }

  function connectStream() {
    if (state.stream) state.stream.close();
    setStreamState(state.everConnected ? "reconnecting" : "connecting");
    const es = new EventSource("/api/stream");
    state.stream = es;
    es.addEventListener("open", () => {
      const resync = state.everConnected;
      state.everConnected = true;
      setStreamState("live");
      // events that happened while we were away came by no `alert`: read them again
      if (resync) loadEvents().catch(() => {});
    });
    es.addEventListener("aircraft", (e) => {
      try { updateAircraft(JSON.parse(e.data)); } catch (err) { console.warn("bad aircraft message", err); }
    });
    es.addEventListener("status", (e) => {
      try { renderStatus(JSON.parse(e.data)); } catch (err) { console.warn("bad status message", err); }
    });
    es.addEventListener("alert", (e) => {
      let ev;
      try { ev = JSON.parse(e.data); } catch (err) { console.warn("bad alert message", err); return; }
      const known = state.alerts.has(ev.id);
      putAlert(ev, !known);
      if (!known) {
        const counter = $("#event-count");
        const n = Number(counter.textContent);
        if (Number.isFinite(n)) counter.textContent = String(n + 1);
        announce(`${kindLabel(ev.kind)}: ${ev.callsign || ev.icao24} ${ev.zone_id ? "in " : ""}${placeOf(ev)}`);
      }
    });
    es.addEventListener("error", () => {
      if (es.readyState === EventSource.CLOSED) {
        // the browser gave up (an HTTP error): try again ourselves
        setStreamState("disconnected");
        setTimeout(() => { if (state.stream === es) connectStream(); }, 5000);
      } else {
        setStreamState("reconnecting");
      }
    });
  }

  // ------------------------------------------------------------------ start
  async function start() {
    try {
      KINDS = await api("/api/kinds");
    } catch (err) {
      showMessage(`Event kinds: ${err.message}`, "error");
    }
    const basemap = api("/api/basemap");
    const zones = api("/api/zones");
    const aircraft = api("/api/aircraft");
    api("/api/status").then(renderStatus).catch((err) => showMessage(`Status: ${err.message}`, "error"));
    await mapLoaded;
    try {
      addBasemap(await basemap);
    } catch (err) {
      showMessage(`Base map: ${err.message}`, "error");
      addBasemap(emptyFC());
    }
    addInterferenceLayers();
    addOverlayLayers();
    const interferenceLoaded = loadInterference().catch((err) => showMessage(`Interference: ${err.message}`, "error"));
    setInterval(() => loadInterference().catch(() => {}), 60_000);
    let zfc;
    try {
      zfc = await zones;
      drawZones(zfc);
    } catch (err) {
      showMessage(`Zones: ${err.message}`, "error");
      throw err;
    }
    const bounds = new maplibregl.LngLatBounds();
    for (const f of zfc.features || []) geometryBounds(bounds, f.geometry);
    try {
      const afc = await aircraft;
      updateAircraft(afc);
      if (bounds.isEmpty()) for (const f of afc.features || []) geometryBounds(bounds, f.geometry);
    } catch (err) {
      showMessage(`Aircraft: ${err.message}`, "error");
    }
    const eventsLoaded = loadEvents().catch((err) => showMessage(`Events: ${err.message}`, "error"));
    await eventsLoaded;
    for (const ev of state.firstEvents || []) {
      if (Number.isFinite(ev.lon) && Number.isFinite(ev.lat)) bounds.extend([ev.lon, ev.lat]);
    }
    // every zone and event in view, clear of the alert panel over the map's left side
    if (!bounds.isEmpty()) map.fitBounds(bounds, { padding: viewPadding(), maxZoom: 9, duration: 0 });
    updateLabelVisibility();
    // a notification links to its event as #event=ID: open that event's card
    const linked = new URLSearchParams(window.location.hash.replace(/^#/, "")).get("event");
    if (linked) await selectEvent(linked);
    await interferenceLoaded;
    map.once("idle", () => { document.body.dataset.ready = "1"; });
    map.triggerRepaint();
    connectStream();
  }

  start().catch((err) => console.error("skyfence UI failed to start", err));
})();
