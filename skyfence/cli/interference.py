"""`skyfence interference`: the GNSS interference picture of recordings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from skyfence.cli.common import (
    console,
    fail,
    load_or_fail,
    time_or_fail,
)

if TYPE_CHECKING:
    pass


def interference(
    inputs: Annotated[
        list[Path],
        typer.Argument(help="Recordings (format found from content)."),
    ],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Cells file: .geojson or .parquet.")
    ] = None,
    png: Annotated[Path | None, typer.Option(help="Also draw the cells on a map (PNG).")] = None,
    zones: Annotated[
        list[str] | None,
        typer.Option(
            "--zones",
            "-z",
            metavar="FILE|SET",
            help="Zones to draw on the map (file or bundled set).",
        ),
    ] = None,
    resolution: Annotated[
        int, typer.Option(help="H3 resolution, 0-10 (4: about 1,770 km² a cell, as gpsjam).")
    ] = 4,
    hour: Annotated[
        str | None, typer.Option(help="Only this hour (UTC), e.g. 2024-09-17T09:00.")
    ] = None,
    file_format: Annotated[
        str | None,
        typer.Option("--format", help="Force the input format (see docs/reference/recordings.md)."),
    ] = None,
) -> None:
    """Map GNSS interference in recordings.

    Per H3 cell and hour: aircraft seen, degraded (jamming), spoofed, and the cells their
    spoofed positions claimed.
    """
    from skyfence.auditing import run_audit
    from skyfence.engine.engine import Engine
    from skyfence.gnss.aggregate import HOUR_S, InterferencePicture
    from skyfence.gnss.cells import cell_outline
    from skyfence.gnss.outputs import (
        FORMATS,
        feature_collection,
        records,
        write_parquet,
    )
    from skyfence.sources.recordings import RecordingError
    from skyfence.zones.geojson import zone_display_feature

    if out is None and png is None:
        raise fail("give -o cells.geojson|cells.parquet, --png map.png, or both")
    if out is not None and out.suffix.lower() not in FORMATS:
        raise fail(f"{out}: the cells file must end in {' or '.join(FORMATS)}")
    if png is not None and png.suffix.lower() != ".png":
        raise fail(f"{png}: the map must be a .png file")
    for path in inputs:
        if not path.is_file():
            raise fail(f"{path}: no such file")
    only = time_or_fail(hour, "--hour")
    try:
        picture = InterferencePicture(resolution)
    except ValueError as exc:
        raise fail(f"--resolution: {exc}") from None
    drawn = load_or_fail(zones or [])
    engine = Engine(drawn, keep_judged=True)
    try:
        with console.status("judging positions"):
            run_audit(
                inputs, engine, [], file_format,
                on_batch=lambda _path, _n: picture.add(engine.take_judged()),
            )  # fmt: skip
    except (RecordingError, ValueError, OSError) as exc:
        raise fail(str(exc)) from None
    counts = picture.counts()
    if only is not None:
        counts = counts.take(counts.hour_s == (int(only) // HOUR_S) * HOUR_S)
    rows = records(counts)
    hours = sorted({r["hour"] for r in rows})
    flagged = [r for r in rows if r["degraded"] or r["spoofed"] or r["claimed"]]
    console.print(
        f"{len(rows):,} cell-hours in {len(hours)} hour(s) at H3 resolution {resolution}: "
        f"{sum(r['jamming'] != 'low' for r in rows):,} with jamming (> 2 % degraded), "
        f"{sum(r['spoofed'] > 0 for r in rows):,} where aircraft were spoofed, "
        f"{sum(r['claimed'] > 0 for r in rows):,} claimed by spoofed positions.",
        highlight=False,
    )
    for r in flagged[:20]:
        console.print(
            f"  {r['hour'][:13]}h  {r['cell']}  {r['lat']:.2f}, {r['lon']:.2f}: "
            f"{r['aircraft']} aircraft, {r['degraded']} degraded, {r['spoofed']} spoofed, "
            f"{r['claimed']} claimed",
            highlight=False,
        )
    try:
        if out is not None and out.suffix.lower() == ".parquet":
            write_parquet(counts, out)
        elif out is not None:
            out.write_text(json.dumps(feature_collection(rows)) + "\n", encoding="utf-8")
        if png is not None:
            from skyfence.reporting.figures import interference_map

            merged = picture.counts(merge_hours=True) if only is None else counts
            cells = [{**r, "ring": cell_outline(int(r["cell"], 16))} for r in records(merged)]
            span = f"{hours[0][:13]}h" if len(hours) == 1 else f"{len(hours)} hours"
            title = f"GNSS interference, {span} UTC, " + ", ".join(p.name for p in inputs)
            features = [zone_display_feature(z) for z in drawn]
            png.write_bytes(interference_map(cells, features, title=title))
    except OSError as exc:
        raise fail(str(exc)) from None
    for written in (out, png):
        if written is not None:
            console.print(f"written to [bold]{escape(str(written))}[/]")
