"""`skyfence demo`: two real recordings through `watch`, then the map."""

from __future__ import annotations

from collections import Counter
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from skyfence.cli.common import (
    NotifyOption,
    PortOption,
    PublicUrlOption,
    console,
    demo_store,
    store_to_write,
)
from skyfence.cli.render import print_next_steps
from skyfence.cli.watch import deliveries_or_fail, watch_session
from skyfence.web.defaults import DEFAULT_HOST, DEFAULT_PORT

if TYPE_CHECKING:
    from skyfence.store.events import EventStore


def demo(
    web: Annotated[
        bool, typer.Option("--web/--no-web", metavar="", help="Then serve the map until Ctrl-C.")
    ] = True,
    store: Annotated[
        Path | None, typer.Option(help="Event store (SQLite), in a folder that exists.")
    ] = None,
    port: PortOption = DEFAULT_PORT,
    notify: NotifyOption = None,
    public_url: PublicUrlOption = None,
) -> None:
    """Replay two real recordings, then open the map.

    An airliner's Mode S frames against illustrative zones, and a GNSS-spoofed flight against
    the Ukraine zones, both through `watch`.
    """
    import shapely

    from skyfence.schema import StateVectors
    from skyfence.settings import EngineSettings
    from skyfence.sources.recordings import read_recording
    from skyfence.zones.geojson import load_zones

    samples = files("skyfence") / "samples"
    frames = str(samples / "af_cdg_tls_2024-07-06.jsonl.gz")
    spoofed = Path(str(samples / "thy9bp_spoofing_2024-09-17.json.gz"))
    store_path = store_to_write(store, demo_store())
    webhooks, notifiers = deliveries_or_fail([], notify or [], public_url)
    console.print(
        "[bold]skyfence demo[/]: two real recordings from the traffic library's samples (MIT).\n"
        " 1. AFR34ZG, Paris-CDG to Toulouse, 6 July 2024: 15,573 ADS-B frames as a receiver "
        "heard them, decoded by skyfence, against the illustrative 'demo' zones.\n"
        " 2. THY9BP, Istanbul to Stockholm, 17 September 2024 (OpenSky): near the Ukrainian "
        "border its GNSS was jammed, then spoofed to a point inside Lviv FIR.\n",
        highlight=False,
    )
    zones = load_zones("demo") + load_zones("ukraine")

    def epilogue(event_store: EventStore) -> None:
        recorded = StateVectors.concat(list(read_recording(spoofed)))
        uklv = next(z for z in load_zones("ukraine") if z.id == "UKLV")
        inside = shapely.contains_xy(uklv.geometry, recorded.lon_deg, recorded.lat_deg)
        claimed = len(set(recorded.t_pos_s[inside].tolist()))  # OpenSky repeats a fix each second
        quarantined = Counter(
            p["reason"] for p in event_store.positions("4baac6", 0.0, 4e9) if not p["trusted"]
        )
        console.print(
            f"\n{claimed:,} position reports of THY9BP (repeated in {int(inside.sum()):,} of the "
            "recording's state vectors, one a second) put it inside Lviv FIR. A monitor that "
            "believed them would have reported an incursion into closed Ukrainian airspace; "
            f"skyfence quarantined {quarantined.total():,} fixes ("
            + ", ".join(f"{n:,} {reason}" for reason, n in quarantined.most_common())
            + "), reports a suspect position and no entry.",
            highlight=False,
        )
        print_next_steps(event_store, store_path)

    for number, recording in enumerate((frames, str(spoofed)), start=1):
        # one after the other: an engine's clock is one, and these are two months apart
        last = number == 2
        console.print(f"[bold]{number}.[/]", end=" ")
        watch_session(
            zones,
            [recording],
            EngineSettings(),
            store_path=store_path,
            webhooks=webhooks,
            notify=notifiers,
            public_url=public_url,
            out=None,
            speed=None,
            receiver=None,
            web=(DEFAULT_HOST, port) if web and last else None,
            keep_serving=last,
            epilogue=epilogue if last else None,
        )
