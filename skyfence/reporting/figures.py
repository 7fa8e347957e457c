"""The report's pictures, drawn with matplotlib over Natural Earth outlines shipped in the package:
no network, no global pyplot state (reports may be drawn from a server's threads)."""

from __future__ import annotations

import gzip
import io
import json
import math
from collections.abc import Sequence
from datetime import UTC
from functools import cache
from importlib.resources import files
from typing import Any

import numpy as np
import shapely
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import DateFormatter
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import Formatter, FuncFormatter
from shapely import affinity
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry

from skyfence.kinds import KINDS
from skyfence.reporting.colours import QUARANTINED_COLOUR, TRUSTED_COLOUR, ZONE_COLOUR
from skyfence.store.records import StoredEvent
from skyfence.zones.frame import continuous, near, to_frame, wrap_lon

LAND, SEA, BORDER = "#eeeae2", "#d7e6f2", "#a09a8f"
MARKERS = {
    "entry": "v",
    "exit": "^",
    "predicted_entry": "D",
    "lost_contact": "X",
    "suspect_position": "*",
    "zone_withdrawn": "s",
    "emergency_squawk": "P",
    "watched_aircraft": "o",
}
# marker and colour per kind: the colour is the kinds' table's, as on the map and the console
EVENT_STYLE = {kind: (MARKERS[kind], info.colour) for kind, info in KINDS.items()}

Record = dict[str, Any]


@cache
def countries() -> tuple[BaseGeometry, ...]:
    data = (files("skyfence") / "data" / "countries.geojson.gz").read_bytes()
    return tuple(shape(f["geometry"]) for f in json.loads(gzip.decompress(data))["features"])


def track_map(
    track: Sequence[Record],
    zone: Record | None,
    events: Sequence[StoredEvent],
    width_px: int = 900,
    height_px: int = 700,
) -> bytes:
    """The track against the zone, events marked; PNG bytes. Drawn in a longitude frame
    centred on the event (or the track), so a scene across ±180 is drawn in one piece."""
    lons = [p["lon"] for p in track] + [e.lon for e in events]
    centre = float(lons[0]) if lons else 0.0
    if events:
        centre = float(events[0].lon)

    def lon(x: float) -> float:
        return float(to_frame(np.float64(x), centre))

    geometry = near(continuous(shape(zone["geometry"])), centre) if zone else None
    lons = [lon(x) for x in lons]
    lats = [p["lat"] for p in track] + [e.lat for e in events]
    west, south, east, north = _extent(lons, lats, geometry, width_px / height_px)
    fig = Figure(figsize=(width_px / 100, height_px / 100), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_facecolor(SEA)
    frame = box(west, south, east, north)
    for country in countries():
        for turn in (-360.0, 0.0, 360.0):  # outlines from the other side of ±180 too
            moved = affinity.translate(country, turn) if turn else country
            if moved.intersects(frame):
                _fill(ax, moved.intersection(frame), LAND, BORDER, 0.6)
    if geometry is not None:
        _fill(ax, geometry.intersection(frame), ZONE_COLOUR, ZONE_COLOUR, 1.5, alpha=0.15)
    trusted = [p for p in track if p["trusted"]]
    quarantined = [p for p in track if not p["trusted"]]
    if trusted:
        ax.plot(
            [lon(p["lon"]) for p in trusted], [p["lat"] for p in trusted],
            color=TRUSTED_COLOUR, linewidth=2, label="trusted fixes", zorder=3,
        )  # fmt: skip
    if quarantined:
        ax.scatter(
            [lon(p["lon"]) for p in quarantined], [p["lat"] for p in quarantined],
            s=10, color=QUARANTINED_COLOUR, label="quarantined fixes", zorder=4,
        )  # fmt: skip
    for e in events:
        marker, colour = EVENT_STYLE[e.kind]
        ax.scatter(
            [lon(e.lon)], [e.lat], marker=marker, s=140, color=colour,
            edgecolors="black", linewidths=0.8, label=e.kind.replace("_", " "), zorder=5,
        )  # fmt: skip
    ax.set_xlim(west, east)
    if west < -180 or east > 180:  # longitudes labelled as they are, not as drawn
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{wrap_lon(float(x)):g}"))
    ax.set_ylim(south, north)
    ax.set_aspect(1 / math.cos(math.radians((south + north) / 2)))  # degrees drawn to scale
    ax.set_xlabel("longitude (°)")
    ax.set_ylabel("latitude (°)")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(unique.values(), unique.keys(), loc="best", fontsize=8)
    ax.set_title("Base map: Natural Earth", fontsize=7, loc="right", color="#666666")
    return _png(fig, tight=True)  # drawn to scale, the axes rarely fill the figure: no blank band


def altitude_profile(
    track: Sequence[Record],
    zone: Record | None,
    events: Sequence[StoredEvent],
    width_px: int = 900,
    height_px: int = 350,
) -> bytes:
    """Altitude over time against the zone's vertical band; PNG bytes."""
    fig = Figure(figsize=(width_px / 100, height_px / 100), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    points = [p for p in track if p["altitude_ft"] is not None]
    top = max([p["altitude_ft"] for p in points] + [1000.0]) * 1.15
    if zone is not None:
        props = zone["properties"]
        floor = props.get("floor_ft")
        ceiling = props.get("ceiling_ft")
        low = 0.0 if floor is None else float(floor)
        high = top if ceiling is None else min(float(ceiling), top)
        if high > low:
            ax.axhspan(low, high, color=ZONE_COLOUR, alpha=0.12, label=f"zone {props['band']}")
    styles = ((True, TRUSTED_COLOUR, "trusted"), (False, QUARANTINED_COLOUR, "quarantined"))
    for trusted, colour, label in styles:
        chosen = [p for p in points if p["trusted"] is trusted]
        if chosen:
            ax.scatter(
                [_when(p["time_s"]) for p in chosen], [p["altitude_ft"] for p in chosen],
                s=4, color=colour, label=f"{label} fixes",
            )  # fmt: skip
    for e in events:
        _, colour = EVENT_STYLE[e.kind]
        ax.axvline(_when(e.t_s), color=colour, linestyle="--", linewidth=1.2, label=e.kind)
    ax.set_ylim(0, top)
    ax.set_ylabel("pressure altitude (ft)")
    ax.xaxis.set_major_formatter(_time_axis("%H:%M", tz=UTC))
    ax.set_xlabel("time (UTC)")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(unique.values(), unique.keys(), loc="best", fontsize=8)
    fig.tight_layout()
    return _png(fig)


# bars per period: the shortest bin that keeps at most MAX_BARS of them, so that a bar stays
# a few pixels wide (hourly bars over three months are a third of a pixel: they vanish)
BINS = (("hour", 3600), ("day", 86_400), ("week", 7 * 86_400))
MAX_BARS = 240


def time_bin(since: float, until: float) -> tuple[str, int]:
    """The bar width of a period's chart: its name and seconds."""
    for name, seconds in BINS:
        if (until - since) / seconds <= MAX_BARS:
            return name, seconds
    return BINS[-1]


def events_per_hour(
    records: Sequence[StoredEvent],
    since: float,
    until: float,
    width_px: int = 900,
    height_px: int = 350,
) -> bytes:
    """Stacked bars of events per hour (per day or week over a long period, see `time_bin`)
    over the whole period (quiet hours show as quiet), one colour per kind; PNG bytes."""
    name, seconds = time_bin(since, until)
    fig = Figure(figsize=(width_px / 100, height_px / 100), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    slots = np.array([r.t_s // seconds for r in records])
    if len(slots):
        bins = np.arange(slots.min(), slots.max() + 2)
        bottom = np.zeros(len(bins) - 1)
        days = seconds / 86_400  # slots to date numbers
        for kind, (_, colour) in EVENT_STYLE.items():
            counts, _ = np.histogram(slots[[r.kind == kind for r in records]], bins)
            busy = counts > 0  # a bar per busy slot only: a year of empty ones takes minutes
            if busy.any():
                ax.bar(
                    bins[:-1][busy] * days, counts[busy], width=days,
                    bottom=bottom[busy], color=colour, label=kind, align="edge",
                )  # fmt: skip
                bottom += counts
        ax.legend(fontsize=8)
    ax.set_xlim(_when(since), _when(until))
    label = "%m-%d %H:%M" if name == "hour" else "%Y-%m-%d"
    ax.xaxis.set_major_formatter(_time_axis(label, tz=UTC))
    ax.set_ylabel(f"events per {name}")
    fig.autofmt_xdate()
    fig.tight_layout()
    return _png(fig)


JAMMING_COLOUR = {"low": "#4caf50", "medium": "#f2c12e", "high": "#d62728"}


def interference_map(
    cells: Sequence[Record],
    zones: Sequence[Record] = (),
    title: str = "",
    width_px: int = 1000,
    height_px: int = 800,
) -> bytes:
    """Cells coloured as gpsjam colours them (share of degraded aircraft), cells where aircraft
    were spoofed outlined, and the cells spoofed positions claimed hatched; PNG bytes. Each
    record carries a GeoJSON `ring` and the counts of `skyfence.gnss.outputs.records`."""
    fig = Figure(figsize=(width_px / 100, height_px / 100), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_facecolor(SEA)
    xs = [x for c in cells for x, _ in c["ring"]]
    ys = [y for c in cells for _, y in c["ring"]]
    west, south, east, north = _extent(xs, ys, None, width_px / height_px)
    frame = box(west, south, east, north)
    for country in countries():
        if country.intersects(frame):
            _fill(ax, country.intersection(frame), LAND, BORDER, 0.6)
    for zone in zones:
        _fill(ax, shape(zone["geometry"]).intersection(frame), ZONE_COLOUR, ZONE_COLOUR, 1.0, 0.08)
    for c in cells:
        x, y = zip(*c["ring"], strict=True)
        if c["aircraft"]:
            colour = JAMMING_COLOUR[c["jamming"]]
            ax.fill(x, y, facecolor=colour, edgecolor="white", linewidth=0.3, alpha=0.55, zorder=2)
        if c["spoofed"]:
            ax.plot(x, y, color=QUARANTINED_COLOUR, linewidth=2.2, zorder=4)
        if c["claimed"]:
            ax.fill(
                x, y, facecolor="none", edgecolor=QUARANTINED_COLOUR, hatch="xxx", linewidth=0.8,
                zorder=3,
            )  # fmt: skip
    legend = [
        Patch(facecolor=JAMMING_COLOUR["low"], alpha=0.55, label="aircraft seen, < 2 % degraded"),
        Patch(facecolor=JAMMING_COLOUR["medium"], alpha=0.55, label="2-10 % degraded"),
        Patch(facecolor=JAMMING_COLOUR["high"], alpha=0.55, label="> 10 % degraded (jamming)"),
        Patch(facecolor="none", edgecolor=QUARANTINED_COLOUR, linewidth=2.2,
              label="aircraft spoofed here (trusted track)"),
        Patch(facecolor="none", edgecolor=QUARANTINED_COLOUR, hatch="xxx",
              label="claimed by spoofed positions"),
    ]  # fmt: skip
    ax.legend(handles=legend, loc="best", fontsize=8)
    ax.set_xlim(west, east)
    ax.set_ylim(south, north)
    ax.set_aspect(1 / math.cos(math.radians((south + north) / 2)))
    ax.set_xlabel("longitude (°)")
    ax.set_ylabel("latitude (°)")
    ax.set_title(title, fontsize=10, loc="left")
    ax.text(
        1.0, 1.01, "H3 cells; base map: Natural Earth", transform=ax.transAxes, ha="right",
        fontsize=7, color="#666666",
    )  # fmt: skip
    return _png(fig)


def _extent(
    lons: list[float], lats: list[float], zone: BaseGeometry | None, ratio: float
) -> tuple[float, float, float, float]:
    """Track and zone, with a margin; the zone alone is not allowed to zoom out to a whole FIR
    when the track is a few kilometres long, so it counts only when the track is near it."""
    if not lons:  # nothing to show but the zone
        zw, zs, ze, zn = zone.bounds if zone is not None else (0.0, 0.0, 1.0, 1.0)
        lons, lats = [zw, ze], [zs, zn]
    west, east, south, north = min(lons), max(lons), min(lats), max(lats)
    if zone is not None:
        zw, zs, ze, zn = zone.bounds
        span = max(east - west, north - south, 0.2)
        if max(ze - zw, zn - zs) < 4 * span:
            west, east = min(west, zw), max(east, ze)
            south, north = min(south, zs), max(north, zn)
    # at least half a degree across, then widened to the picture's shape (at this latitude)
    scale = math.cos(math.radians((south + north) / 2))
    half_w = max((east - west) * scale, 0.5) * 0.56
    half_h = max(north - south, 0.5) * 0.56
    half_w, half_h = max(half_w, half_h * ratio), max(half_h, half_w / ratio)
    cx, cy = (west + east) / 2, (south + north) / 2
    return cx - half_w / scale, cy - half_h, cx + half_w / scale, cy + half_h


def _fill(
    ax: Any, geometry: BaseGeometry, face: str, edge: str, width: float, alpha: float = 1.0
) -> None:
    for polygon in shapely.get_parts(geometry):
        if polygon.geom_type != "Polygon" or polygon.is_empty:
            continue
        x, y = polygon.exterior.xy
        ax.fill(x, y, facecolor=face, edgecolor=edge, linewidth=width, alpha=alpha, zorder=1)


def _time_axis(pattern: str, tz: Any) -> Formatter:
    return DateFormatter(pattern, tz=tz)  # type: ignore[no-untyped-call]


def _when(t_s: float) -> float:
    """matplotlib's date number (days since its epoch, 1970-01-01 UTC)."""
    return t_s / 86400.0


def _png(fig: Figure, tight: bool = False) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", bbox_inches="tight" if tight else None, pad_inches=0.1)
    return out.getvalue()
