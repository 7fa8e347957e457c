"""`skyfence zones ...`: list, show, check and import zone sets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from skyfence.cli.common import (
    console,
    errors,
    fail,
    load_or_fail,
)
from skyfence.wording import counted

if TYPE_CHECKING:
    pass


def zones_list() -> None:
    """List the bundled zone sets.

    Each is usable by name wherever a zone file is expected.
    """
    from rich.table import Table

    from skyfence.zones.bundled import bundled_ids, bundled_names

    table = Table(title="Bundled zone sets")
    for name in ("name", "zones", "ids"):
        table.add_column(name)
    for name in bundled_names():
        ids = bundled_ids(name)
        table.add_row(name, str(len(ids)), ", ".join(ids))
    console.print(table)


def zones_show(
    source: Annotated[
        str,  # FILE: `~` is the home folder (skyfence.cli._names_a_file)
        typer.Argument(metavar="FILE|SET", help="Zone file or bundled set name."),
    ],
    geojson: Annotated[bool, typer.Option(metavar="", help="Print the zones as GeoJSON.")] = False,
) -> None:
    """Show a set's zones.

    Band, activity, applicability and size of each.
    """
    import shapely
    from pyproj import Geod
    from rich.table import Table

    from skyfence.zones.frame import is_cap
    from skyfence.zones.geojson import zone_to_feature

    zones = load_or_fail([source])
    if geojson:
        doc = {"type": "FeatureCollection", "features": [zone_to_feature(z) for z in zones]}
        print(json.dumps(doc))
        return
    geod = Geod(ellps="WGS84")
    table = Table(title=source)
    for name in (
        "id",
        "name",
        "band",
        "active (UTC)",
        "applies to",
        "exempt",
        "area km²",
        "vertices",
    ):
        table.add_column(name)
    for z in zones:
        # a cap's edges run along parallels (-180 to 180): as geodesics they would cross the
        # pole and the area came out 0, so they are cut into 1° steps first
        shape = shapely.segmentize(z.geometry, 1.0) if is_cap(z.geometry) else z.geometry
        area = abs(geod.geometry_area_perimeter(shape)[0]) / 1e6
        active = zone_to_feature(z)["properties"].get("active", "always")
        table.add_row(
            z.id,
            z.name,
            z.band_text(),
            "always" if active == "always" else "; ".join(f"{a} → {b or '…'}" for a, b in active),
            json.dumps(z.applies_to.to_json()) if z.applies_to else "everyone",
            json.dumps(z.exempt.to_json()) if not z.exempt.is_empty else "",
            f"{area:,.0f}",
            str(shapely.get_num_coordinates(z.geometry)),
        )
    console.print(table)


def zones_check(
    sources: Annotated[list[str], typer.Argument(metavar="FILE...", help="Zone files.")],
) -> None:
    """Validate zone files.

    Every problem is listed with the feature it is in.
    """
    zones = load_or_fail(sources)
    console.print(f"[green]OK[/]: {counted(len(zones), 'zone')} in {counted(len(sources), 'file')}")


def zones_import(
    sources: Annotated[
        list[Path],
        typer.Argument(help="Published zone files, any known format."),
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="GeoJSON zone file to write.")
    ] = None,
) -> None:
    """Convert published zones to skyfence's zone GeoJSON.

    OpenAir, ICAO NOTAM, FAA TFR XML, ED-269, ED-318 or AIXM 5.1: the format is detected from
    the content, and errors name where.
    """
    from skyfence.zones.geojson import zones_from_geojson
    from skyfence.zones.load import import_file
    from skyfence.zones.model import ZoneError

    _geojson_or_fail(output)
    say = console if output is not None else errors  # stdout may be the GeoJSON itself
    features: list[dict[str, object]] = []
    try:
        for source in sources:
            imported = import_file(source)
            say.print(
                f"{escape(str(source))}: {imported.format}, {counted(len(imported.zones), 'zone')}"
                + (f", {len(imported.skipped)} skipped" if imported.skipped else "")
            )
            for line in imported.skipped:
                say.print(f"  skipped: {escape(line)}", highlight=False)
            features += imported.document["features"]
        document = {"type": "FeatureCollection", "features": features}
        zones = zones_from_geojson(document, ", ".join(str(s) for s in sources))
    except ZoneError as exc:
        raise fail(str(exc)) from None
    text = json.dumps(document, indent=1) + "\n"
    if output is None:
        print(text, end="")
        return
    output.write_text(text, encoding="utf-8")
    console.print(f"{counted(len(zones), 'zone')} written to [bold]{escape(str(output))}[/]")


def _geojson_or_fail(output: Path | None) -> None:
    """`-o events.sqlite` wrote the zones over the event store: a zone file is GeoJSON."""
    if output is not None and output.suffix.lower() not in (".geojson", ".json"):
        raise fail(f"-o {output}: a zone file is GeoJSON: give a name ending in .geojson")


def zones_import_openair(
    source: Annotated[Path, typer.Argument(help="OpenAir airspace file.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="GeoJSON zone file to write.")],
) -> None:
    """Convert OpenAir airspace to skyfence's zone GeoJSON (kept for scripts: `zones import`)."""
    from skyfence.zones.geojson import zones_from_geojson
    from skyfence.zones.model import ZoneError
    from skyfence.zones.openair import openair_to_geojson

    _geojson_or_fail(output)
    try:
        text = source.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise fail(f"{source}: {exc.strerror or exc}") from None
    try:
        document = openair_to_geojson(text, str(source))
        zones = zones_from_geojson(document, str(source))
    except ZoneError as exc:
        raise fail(str(exc)) from None
    output.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    console.print(f"{counted(len(zones), 'zone')} written to [bold]{output}[/]")
