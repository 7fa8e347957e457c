"""ICAO NOTAM text (Annex 15 / Doc 8126 layout), one or many NOTAMs in a file.

Only restrictions become zones (Q-codes QRR.., QRT.., QRP.., QRD.., QRA.., QRM.. and the
unmanned-aircraft warnings QWU.., QWZ..); every other NOTAM is counted and listed as skipped.
The boundary is taken from E) when it gives one (a coordinate list, or "RADIUS n NM CENTRED ON"),
because the Q-line circle only locates a NOTAM for filtering and is rounded to whole minutes and
nautical miles; the Q-line circle is used only when E) has none. NOTAMR and NOTAMC in the same
input remove the NOTAM they replace or cancel, whatever order the file lists them in.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from skyfence.zones.formats import Converted, Problems, collection, feature
from skyfence.zones.openair import normalise_altitude
from skyfence.zones.schedule import schedule_periods
from skyfence.zones.shapes import NM_M, Point, circle, polygon_from_walk

NAME = "notam"
ZONE_SUBJECTS = ("RR", "RT", "RP", "RD", "RA", "RM", "WU", "WZ")
NOT_IN_FORCE = ("CD", "CN", "CC", "AK")  # deactivated, cancelled, completed, resumed normal ops

_HEADER = re.compile(
    r"(?:^|\()\s*(?P<id>[A-Z]\d{4}/\d{2})\s+NOTAM(?P<kind>[NRC])(?:\s+(?P<ref>[A-Z]\d{4}/\d{2}))?",
    re.MULTILINE,
)
_ITEM = re.compile(r"(?:(?<=\s)|(?<=\()|^)(?P<item>[QA-G])\)\s*", re.MULTILINE)
_ORDER = "QABCDEFG"
_QLINE = re.compile(
    r"^(?P<fir>[A-Z]{4})/(?P<code>Q[A-Z]{4})/(?P<traffic>[IVK ]*)/(?P<purpose>[NBOMK ]*)/"
    r"(?P<scope>[AEWK ]*)/(?P<lower>\d{3})/(?P<upper>\d{3})/"
    r"(?P<lat>\d{4})(?P<ns>[NS])(?P<lon>\d{5})(?P<ew>[EW])(?P<radius>\d{3})$"
)
_NUM = r"\d+(?:\.\d+)?"
_COORD = (
    r"(?:(?<![0-9A-Z.])(?P<la>\d{4}(?:\d{2})?(?:\.\d+)?)\s?(?P<ns>[NS])\s?"
    r"(?P<lo>\d{5}(?:\d{2})?(?:\.\d+)?)\s?(?P<ew>[EW])(?![0-9A-Z])"
    r"|(?<![0-9A-Z.])(?P<ns2>[NS])(?P<la2>\d{4}(?:\d{2})?(?:\.\d+)?)\s?"
    r"(?P<ew2>[EW])(?P<lo2>\d{5}(?:\d{2})?(?:\.\d+)?)(?![0-9]))"
)
_COORD_RE = re.compile(_COORD)
_CIRCLE_RE = re.compile(
    rf"(?:(?:RADIUS|RAD)\s+(?:OF\s+)?(?P<r1>{_NUM})\s*(?P<u1>NM|KM|M)\b"
    rf"|(?P<r2>{_NUM})\s*(?P<u2>NM|KM|M)\s+(?:RADIUS|RAD)\b)"
    r"[^0-9]{0,40}?(?=(?:[NS]\d|\d{4}))"
)
_UNIT_M = {"NM": NM_M, "KM": 1000.0, "M": 1.0}


def sniff(head: str) -> bool:
    return (
        _HEADER.search(head) is not None
        or re.search(r"^\s*Q\)\s*[A-Z]{4}/Q", head, re.M) is not None
    )


@dataclass
class _Notam:
    id: str
    kind: str  # N, R, C
    ref: str | None
    line: int
    items: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"line {self.line} (NOTAM {self.id})"


def split_notams(text: str, problems: Problems) -> list[_Notam]:
    headers = list(_HEADER.finditer(text))
    if not headers and re.search(r"^\s*Q\)", text, re.M):
        problems.add("line 1", "NOTAM without its 'A1234/26 NOTAMN' header")
    notams = []
    for i, m in enumerate(headers):
        end = headers[i + 1].start() if i + 1 < len(headers) else len(text)
        body = text[m.end() : end].strip()
        if body.endswith(")"):
            body = body[:-1]
        notam = _Notam(m["id"], m["kind"], m["ref"], text.count("\n", 0, m.start("id")) + 1)
        marks = [k for k in _ITEM.finditer(body)]
        last = -1
        kept = []
        for k in marks:  # a letter and parenthesis inside E) text is not an item
            order = _ORDER.index(k["item"])
            if order > last:
                kept.append(k)
                last = order
        for j, k in enumerate(kept):
            stop = kept[j + 1].start() if j + 1 < len(kept) else len(body)
            notam.items[k["item"]] = " ".join(body[k.end() : stop].split())
        notams.append(notam)
    return notams


def convert(text: str, source: str) -> Converted:
    problems = Problems(source)
    notams = split_notams(text, problems)
    ids = [n.id for n in notams]
    for nid in {i for i in ids if ids.count(i) > 1}:
        problems.add(f"NOTAM {nid}", "appears more than once")
    superseded = {n.ref: n for n in notams if n.kind in "RC" and n.ref}
    skipped: list[str] = []
    features = []
    for notam in notams:
        if notam.kind in "RC" and not notam.ref:
            problems.add(notam.where, f"NOTAM{notam.kind} without the id of the NOTAM it concerns")
            continue
        if notam.id in superseded:
            by = superseded[notam.id]
            verb = "replaced" if by.kind == "R" else "cancelled"
            skipped.append(f"{notam.where}: {verb} by {by.id}")
            continue
        if notam.kind == "C":
            if notam.ref not in ids:
                skipped.append(f"{notam.where}: cancels {notam.ref}, which is not in this input")
            continue
        if notam.kind == "R" and notam.ref not in ids:
            skipped.append(f"{notam.where}: replaces {notam.ref}, which is not in this input")
        reason = _not_a_zone(notam)
        if reason:
            skipped.append(f"{notam.where}: {reason}")
            continue
        made = _feature(notam, problems)
        if made is not None:
            features.append(made)
    if not notams and not problems.items:
        problems.add("file", "no NOTAM found (expected 'A1234/26 NOTAMN' and items Q) A) B) ...)")
    problems.raise_any()
    return Converted(collection(features), skipped)


def _not_a_zone(notam: _Notam) -> str | None:
    q = notam.items.get("Q", "")
    m = re.search(r"/(Q[A-Z]{4})/", q)
    if m is None:
        return None  # the missing Q-line is reported as a problem
    code = m[1]
    if code[1:3] not in ZONE_SUBJECTS:
        return f"{code} is not a restriction"
    if code[3:5] in NOT_IN_FORCE:
        return f"{code}: the restriction is not in force (condition {code[3:5]})"
    return None


def _feature(notam: _Notam, problems: Problems) -> dict[str, Any] | None:
    where, items = notam.where, notam.items
    before = len(problems.items)
    q = _QLINE.match(items.get("Q", "").replace(" ", ""))
    if q is None:
        problems.add(where, f"Q) {items.get('Q', '')!r} is not FIR/QCODE/../lower/upper/position")
        return None
    for key in ("A", "B", "C", "E"):
        if key not in items:
            problems.add(where, f"item {key}) is missing")
    if len(problems.items) > before:
        return None
    start = _time(items["B"], "B", where, problems)
    end, estimated = _end(items["C"], where, problems)
    floor = _limit(items.get("F"), q["lower"], "F", where, problems)
    ceiling = _limit(items.get("G"), q["upper"], "G", where, problems)
    geometry, geometry_from = _geometry(items["E"], q, where, problems)
    if start is None or end is None or floor is None or ceiling is None or geometry is None:
        return None
    if end <= start:
        problems.add(where, f"C) {items['C']} is not after B) {items['B']}")
        return None
    active = [(start, end)]
    if "D" in items:
        try:
            active = schedule_periods(items["D"], start, end)
        except ValueError as exc:
            problems.add(where, str(exc))
            return None
        if not active:
            problems.add(where, f"D) {items['D']!r} selects no time between B) and C)")
            return None
    return feature(
        notam.id,
        f"NOTAM {notam.id} {items['A']}",
        geometry,
        floor,
        ceiling,
        active,
        notam=notam.id,
        q_code=q["code"],
        fir=q["fir"],
        locations=items["A"],
        valid_from=items["B"],
        valid_until=items["C"],
        end_estimated=True if estimated else None,
        schedule=items.get("D"),
        text=items["E"],
        replaces=notam.ref if notam.kind == "R" else None,
        geometry_from=geometry_from,
    )


def _time(text: str, item: str, where: str, problems: Problems) -> float | None:
    try:
        moment = datetime.strptime(text.strip()[:10], "%y%m%d%H%M").replace(tzinfo=UTC)
    except ValueError:
        problems.add(where, f"{item}) {text!r} is not YYMMDDhhmm")
        return None
    return moment.timestamp()


def _end(text: str, where: str, problems: Problems) -> tuple[float | None, bool]:
    """C) as a time: PERM is open-ended; EST marks an estimate that the issuer must replace or
    cancel by then, so the estimate is the end and the zone says it was estimated."""
    words = text.split()
    if words and words[0] == "PERM":
        return math.inf, False
    estimated = len(words) == 2 and words[1] == "EST"
    if len(words) != 1 and not estimated:
        problems.add(where, f"C) {text!r} is not YYMMDDhhmm, YYMMDDhhmm EST or PERM")
        return None, False
    return _time(words[0], "C", where, problems), estimated


def _limit(text: str | None, q_fl: str, item: str, where: str, problems: Problems) -> str | None:
    if text is None:  # no F)/G): the Q-line's flight levels (000 = surface, 999 = unlimited)
        return "SFC" if q_fl == "000" else "UNL" if q_fl == "999" else f"FL{q_fl}"
    try:
        return normalise_altitude(text.replace("AMSL", "MSL"))
    except ValueError as exc:
        problems.add(where, f"{item}) {exc}")
        return None


def _coord(m: re.Match[str]) -> Point:
    la, ns, lo, ew = (m["la"], m["ns"], m["lo"], m["ew"])
    if la is None:
        la, ns, lo, ew = m["la2"], m["ns2"], m["lo2"], m["ew2"]
    lat = _dms(la, 2)
    lon = _dms(lo, 3)
    if lat > 90 or lon > 180:
        raise ValueError(f"coordinate {m.group().strip()!r} is out of range")
    return (-lon if ew == "W" else lon), (-lat if ns == "S" else lat)


def _dms(text: str, deg_digits: int) -> float:
    """DDMM, DDMMSS, DDMMSS.ss or DDMM.mm (DDD for longitude) as degrees."""
    whole, _, frac = text.partition(".")
    deg, minutes, rest = int(whole[:deg_digits]), int(whole[deg_digits : deg_digits + 2]), ""
    rest = whole[deg_digits + 2 :]
    if rest:
        seconds = float(rest + ("." + frac if frac else ""))
        if seconds >= 60:
            raise ValueError(f"{text}: seconds of 60 or more")
        value = minutes + seconds / 60
    else:
        value = float(f"{minutes}.{frac}") if frac else float(minutes)
    if minutes >= 60:
        raise ValueError(f"{text}: minutes of 60 or more")
    return deg + value / 60


def _geometry(
    text: str, q: re.Match[str], where: str, problems: Problems
) -> tuple[BaseGeometry | None, str]:
    try:
        shapes, used = _circles(text)
        rings = _rings(text, used)
        for ring in rings:
            shapes.append(polygon_from_walk(ring))
        geometry = _union(shapes) if shapes else None
    except ValueError as exc:
        problems.add(where, f"E) {exc}")
        return None, ""
    if geometry is not None:
        return geometry, "E"
    radius_nm = int(q["radius"])
    if radius_nm in (0, 999):
        problems.add(where, f"no boundary in E) and the Q-line radius is {q['radius']}")
        return None, ""
    lat = int(q["lat"][:2]) + int(q["lat"][2:]) / 60
    lon = int(q["lon"][:3]) + int(q["lon"][3:]) / 60
    centre = (-lon if q["ew"] == "W" else lon, -lat if q["ns"] == "S" else lat)
    return circle(centre, radius_nm * NM_M), "Q"


def _circles(text: str) -> tuple[list[BaseGeometry], set[int]]:
    shapes: list[BaseGeometry] = []
    used: set[int] = set()
    for m in _CIRCLE_RE.finditer(text):
        c = _COORD_RE.match(text, m.end())
        if c is None:
            continue
        radius = float(m["r1"] or m["r2"]) * _UNIT_M[m["u1"] or m["u2"]]
        if radius <= 0:
            raise ValueError(f"radius {m.group().strip()!r} must be positive")
        shapes.append(circle(_coord(c), radius))
        used.add(c.start())
    return shapes, used


def _rings(text: str, used: set[int]) -> list[list[Point]]:
    """Coordinate lists; a list closes when it comes back to its first point, so "AREA 1 ...
    AREA 2 ..." gives two polygons. A lone point (an obstacle, a reference) is not a boundary."""
    rings: list[list[Point]] = []
    current: list[Point] = []
    last_end = -1
    for m in _COORD_RE.finditer(text):
        if m.start() in used:
            continue
        gap = text[last_end : m.start()] if last_end >= 0 else ""
        if current and re.search(r"[A-Z]{3,}", gap.replace("TO", "")) and len(current) >= 3:
            rings.append(current)  # words between two lists: a new area
            current = []
        point = _coord(m)
        current.append(point)
        last_end = m.end()
        if len(current) > 3 and point == current[0]:
            rings.append(current)
            current = []
    if len(current) >= 3:
        rings.append(current)
    return rings


def _union(shapes: list[BaseGeometry]) -> BaseGeometry:
    if len(shapes) == 1:
        return shapes[0]
    from shapely.ops import unary_union

    merged = unary_union(shapes)
    if isinstance(merged, Polygon | MultiPolygon):
        return merged
    raise ValueError("the areas of E) do not form polygons")
