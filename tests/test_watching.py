"""`watch` replaying a recording gives exactly the events `audit` gives on it."""

from __future__ import annotations

import dataclasses
import itertools
import math
from pathlib import Path

import numpy as np

from skyfence.auditing import run_audit
from skyfence.engine.engine import Engine
from skyfence.engine.events import Event
from skyfence.schema import StateVectors
from skyfence.sources.beast import encode_beast
from skyfence.sources.receiver import Receiver
from skyfence.sources.recordings import read_recording
from skyfence.store.events import EventStore
from skyfence.tracking.integrity import BEYOND_HORIZON
from skyfence.watching import REPLAY_BATCH_ROWS, ReplaySource, run_watch
from skyfence.zones.geojson import load_zones


class ListSink:
    """A sink that keeps what it is given: the test fake users may use too."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def write(self, events: list[Event]) -> None:
        self.events.extend(events)

    def close(self) -> None:
        pass


def test_replay_through_watch_equals_audit(
    samples: Path, paris_zones_path: Path, tmp_path: Path
) -> None:
    zones = load_zones(paris_zones_path) + load_zones("ukraine")
    recording = samples / "collections/quickstart.json.gz"
    audited = ListSink()
    audit = run_audit([recording], Engine(zones), [audited])

    watched = ListSink()
    store = EventStore(tmp_path / "events.sqlite")
    result = run_watch([ReplaySource(recording)], Engine(zones), [watched, store])
    store.close()
    assert result.counts == audit.counts and result.events == audit.events  # one tally

    assert result.ticks > 10_000  # one-second micro-batches, as a live feed delivers them
    assert len(audited.events) > 1_000
    in_order = sorted(watched.events, key=Event.sort_key)
    assert [e.to_dict() for e in in_order] == [
        e.to_dict() for e in sorted(audited.events, key=Event.sort_key)
    ]
    reopened = EventStore(tmp_path / "events.sqlite")
    try:
        assert reopened.count() == len(audited.events)
        first = in_order[0]
        stored = reopened.get(first.id)
        assert stored is not None and stored.to_json() == first.to_dict()
    finally:
        reopened.close()


def test_replay_as_fast_as_possible_in_large_batches_equals_audit(
    samples: Path, paris_zones_path: Path
) -> None:
    """`watch --speed 0` replays whole seconds up to REPLAY_BATCH_ROWS rows a batch: the same
    events as the audit (and as one-second batches, above), in a few dozen ticks."""
    zones = load_zones(paris_zones_path) + load_zones("ukraine")
    recording = samples / "collections/quickstart.json.gz"
    audited = ListSink()
    run_audit([recording], Engine(zones), [audited])
    want = [e.to_dict() for e in sorted(audited.events, key=Event.sort_key)]
    for batch_rows in (REPLAY_BATCH_ROWS, 7_001):
        watched = ListSink()
        source = ReplaySource(recording, batch_rows=batch_rows)
        result = run_watch([source], Engine(zones), [watched])
        assert result.rows == 284_505 and result.ticks <= 284_505 // batch_rows + 2
        assert [e.to_dict() for e in sorted(watched.events, key=Event.sort_key)] == want


def test_replay_batches_are_whole_seconds(samples: Path) -> None:
    """No second of recording is split between two batches (a live feed delivers a second
    whole), and no batch exceeds its rows unless one second does."""
    source = ReplaySource(samples / "collections/quickstart.json.gz", batch_rows=7_001)
    seconds = []
    while not source.exhausted:
        batch = source.next_batch(0.1)
        assert 0 < len(batch) <= 7_001
        seconds.append((np.floor(batch.t_s.min()), np.floor(batch.t_s.max())))
    assert source.position == 284_505 and len(seconds) > 40
    assert all(last < next_first for (_, last), (next_first, _) in itertools.pairwise(seconds))


def test_replay_at_speed_follows_the_recording_clock(samples: Path) -> None:
    """At 600x, the spoofed flight's 8,734 s take 14.6 s of wall clock: here a fake clock
    advances 10 ms per poll (6 s of recording), so the replay takes about 1,460 polls."""
    now = [0.0]

    def clock() -> float:
        now[0] += 0.01
        return now[0]

    source = ReplaySource(samples / "noisy/noisy_spoofing.json.gz", speed=600.0, clock=clock)
    polls, rows = 0, 0
    while not source.exhausted:
        rows += len(source.next_batch(0.0))
        polls += 1
    assert rows == 8_681
    assert 1_400 < polls < 1_520


def test_memory_stays_bounded_as_aircraft_come_and_go(
    samples: Path, paris_zones_path: Path
) -> None:
    """A soak: quickstart's 213 real tracks replayed 8 times in a row, each time under new
    addresses, so 1,704 aircraft pass. What the engine and the picture remember must follow the
    traffic in view, not everything ever heard."""
    from skyfence.schema import StateVectors
    from skyfence.settings import EngineSettings
    from skyfence.sources.recordings import read_recording
    from skyfence.watching import LivePicture

    sv = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    span = float(sv.t_s.max() - sv.t_s.min()) + 60.0
    settings = EngineSettings(forget_after_s=900.0)
    engine = Engine(load_zones(paris_zones_path), settings, keep_judged=True)
    picture = LivePicture(engine, [], clock=iter(range(10**9)).__next__)
    remembered = []
    for loop in range(8):
        shifted = dataclasses.replace(
            sv,
            t_s=sv.t_s + loop * span,
            t_pos_s=sv.t_pos_s + loop * span,
            icao24=sv.icao24 ^ np.uint32(loop << 20),  # new aircraft, same real tracks
        )
        for start in np.arange(shifted.t_s.min(), shifted.t_s.max() + 60, 60.0):
            batch = shifted.take(
                np.flatnonzero((shifted.t_s >= start) & (shifted.t_s < start + 60))
            )
            events = engine.process(batch) + engine.advance_clock(start + 60)
            picture.tick(events)
        remembered.append(
            (
                len(engine.integrity),
                len(engine.last_trusted),
                len(engine.tracks),
                len(picture.picture.aircraft),
                len(set(picture.interference.counts().hour_s.tolist())),
            )
        )
    in_view = len(np.unique(sv.icao24))
    assert in_view == 213
    # the engine keeps at most the last loop's aircraft and those heard within forget_after_s
    assert max(r[0] for r in remembered) <= 2 * in_view
    assert remembered[-1][0] == remembered[3][0]  # flat: loop 8 remembers what loop 4 did
    assert max(r[2] for r in remembered) <= 2 * in_view
    assert max(r[3] for r in remembered) <= in_view  # the picture: aircraft heard in 5 minutes
    assert max(r[4] for r in remembered) <= 3  # interference: the hours not yet complete


def test_a_receiver_clock_in_the_future_cannot_blind_the_watch(
    samples: Path, paris_zones_path: Path
) -> None:
    """Real quickstart tracks served as SBS lines stamped as if heard now; one aircraft's lines
    come from a receiver whose clock is a day ahead. Those are refused and counted, and every
    other aircraft gives exactly the events it gives alone."""
    import math
    import time

    from fakes import sbs_line

    from skyfence.schema import StateVectors
    from skyfence.sources.recordings import read_recording

    sv = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    sv = sv.take(np.argsort(sv.t_s, kind="stable"))
    sv = sv.take(np.flatnonzero(np.isfinite(sv.lat_deg) & (sv.t_s < sv.t_s.min() + 300)))
    shift = time.time() - 600 - float(sv.t_s.min())  # heard over the last ten minutes
    wrong = int(sv.icao24[0])  # this one's receiver is a day ahead
    lines, expected_future = [], 0
    for r in range(len(sv)):
        t = float(sv.t_s[r]) + shift
        if int(sv.icao24[r]) == wrong:
            t += 86_400
            expected_future += 1
        fields = {14: f"{sv.lat_deg[r]:.5f}", 15: f"{sv.lon_deg[r]:.5f}", 21: "0"}
        if math.isfinite(sv.alt_baro_ft[r]):
            fields[11] = f"{sv.alt_baro_ft[r]:.0f}"
        lines.append(sbs_line(3, int(sv.icao24[r]), t, fields) + "\r\n")
    events, result, engine = watch_sbs(lines, paris_zones_path)
    assert result.future == {next(iter(result.future)): expected_future} and expected_future > 0
    assert engine.stats.rows == len(lines) - expected_future
    assert all(e.icao24 != f"{wrong:06x}" for e in events)
    clean = [line for line in lines if f",{wrong:06X}," not in line]
    assert len(clean) == len(lines) - expected_future
    alone, _, _ = watch_sbs(clean, paris_zones_path)
    assert [e.id for e in events] == [e.id for e in alone] and len(alone) > 0


def watch_sbs(lines: list[str], zones: Path) -> tuple[list[Event], object, Engine]:
    """Serve SBS lines from a fake receiver and watch them until all are read."""
    import time

    from fakes import HOLD, Receiver

    from skyfence.watching import FeedAdapter

    receiver = Receiver([["".join(lines).encode(), HOLD]])
    source = FeedAdapter(f"sbs://127.0.0.1:{receiver.port}")
    engine = Engine(load_zones(zones))
    sink = ListSink()
    deadline = time.monotonic() + 30
    try:
        result = run_watch(
            [source],
            engine,
            [sink],
            tick_s=0.1,
            should_stop=lambda: (
                source.feed.status.frames >= len(lines) or time.monotonic() > deadline
            ),
        )
    finally:
        receiver.close()
    return sink.events, result, engine


def test_each_source_is_judged_by_its_own_receiver(samples: Path, paris_zones_path: Path) -> None:
    """Ten minutes of quickstart as two feeds: half the aircraft from a receiver in Paris, half
    from one in Lyon (390 km away). Only the Lyon feed's low positions near Paris, which it
    cannot have heard, are quarantined as beyond its radio horizon."""
    sv = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    sv = sv.take(sv.t_s < sv.t_s.min() + 600)
    odd = sv.icao24 % 2 == 1
    paris, lyon = Receiver(48.8566, 2.3522, 100.0), Receiver(45.7640, 4.8357, 100.0)
    sources = [
        ReplaySource(sv.take(~odd), receiver=paris),
        ReplaySource(sv.take(odd), receiver=lyon),
    ]
    engine = Engine(load_zones(paris_zones_path), keep_judged=True)
    run_watch(sources, engine, [])
    unheard: set[int] = set()
    for j in engine.take_judged():
        unheard.update(j.sv.icao24[j.verdicts.reason == BEYOND_HORIZON].tolist())
    assert unheard and all(a % 2 == 1 for a in unheard)


def test_watch_stores_the_interference_picture_audit_draws(tmp_path: Path) -> None:
    """THY9BP replayed through watch in one-second ticks: the store holds, hour by hour, the
    same cells and counts as the whole recording judged at once."""
    from importlib.resources import files

    from skyfence.gnss.aggregate import InterferencePicture
    from skyfence.watching import LivePicture

    recording = Path(str(files("skyfence") / "samples" / "thy9bp_spoofing_2024-09-17.json.gz"))
    engine = Engine(load_zones("ukraine"), keep_judged=True)
    audited = InterferencePicture()
    run_audit([recording], engine, [], on_batch=lambda *_: audited.add(engine.take_judged()))

    watcher = Engine(load_zones("ukraine"), keep_judged=True)
    with EventStore(tmp_path / "events.sqlite") as store:
        picture = LivePicture(watcher, [], store)
        run_watch([ReplaySource(recording)], watcher, [store], on_tick=picture.tick)
        picture.tick([], force=True)
        store.flush()
        stored = store.interference(0, 4e9)
    assert stored == audited.counts().rows()
    assert sum(r.claimed for r in stored) >= 1 and sum(r.spoofed for r in stored) == 1


def beast_bytes(frames: list[str]) -> bytes:
    """Mode S frames as Beast messages (no MLAT clock, full signal), 0x1a escaped."""
    data, _ = encode_beast(
        np.array(frames), np.zeros(len(frames), np.uint64), np.full(len(frames), 0xFF, np.uint8)
    )
    return data


def watch_two_parts(zones: Path, far: Receiver | None) -> tuple[list[int], float]:
    """Twenty minutes of the real CDG-Toulouse climb served by a Beast receiver at CDG in two
    parts; with `far`, a second receiver there delivers copies of the first part after the CDG
    feed decoded them, before the second part arrives. Returns the rows quarantined as beyond
    the radio horizon (their times) and when the first part had been decoded."""
    import gzip
    import json
    import threading
    import time

    from fakes import HOLD
    from fakes import Receiver as Server

    from skyfence.decoding.dedup import FrameDeduplicator
    from skyfence.watching import FeedAdapter

    path = Path(__file__).parents[1] / "skyfence/samples/af_cdg_tls_2024-07-06.jsonl.gz"
    with gzip.open(path) as lines:
        rows = [json.loads(line) for line in lines]
    t0 = rows[0]["timestamp"]
    part1 = [r["frame"] for r in rows if 1100 <= r["timestamp"] - t0 < 1700]
    part2 = [r["frame"] for r in rows if 1700 <= r["timestamp"] - t0 < 2400]
    first_heard, copies_heard = threading.Event(), threading.Event()
    near_server = Server([[beast_bytes(part1), copies_heard, beast_bytes(part2), HOLD]])
    servers = [near_server]
    dedup = FrameDeduplicator()
    sources = [
        FeedAdapter(f"beast://127.0.0.1:{near_server.port}?receiver=49.0,2.55,100", dedup=dedup)
    ]
    if far is None:
        copies_heard.set()
    else:
        far_server = Server([[first_heard, beast_bytes(part1), HOLD]])
        servers.append(far_server)
        uri = f"beast://127.0.0.1:{far_server.port}?receiver={far.lat_deg},{far.lon_deg},{far.height_m}"
        sources.append(FeedAdapter(uri, dedup=dedup))
    engine = Engine(load_zones(zones), keep_judged=True)
    decoded_at = [math.inf]
    deadline = time.monotonic() + 60

    def done() -> bool:
        near = sources[0].feed.status.frames
        if near >= len(part1) and not first_heard.is_set():
            first_heard.set()
            decoded_at[0] = time.time()
        if len(sources) > 1 and sources[1].feed.status.frames >= len(part1):
            copies_heard.set()
        return near >= len(part1) + len(part2) or time.monotonic() > deadline

    try:
        run_watch(sources, engine, [], tick_s=0.1, should_stop=done)
    finally:
        for server in servers:
            server.close()
    beyond: list[int] = []
    for j in engine.take_judged():
        beyond += j.sv.t_s[j.verdicts.reason == BEYOND_HORIZON].tolist()
    return beyond, decoded_at[0]


def test_a_copy_from_a_receiver_that_cannot_have_heard_it_counts_against_the_aircraft(
    paris_zones_path: Path,
) -> None:
    """Real AFR frames heard at CDG: alone, no position is beyond its horizon. When a receiver
    at Belgrade (1,450 km away) delivers copies of the same frames (dropped as duplicates, so
    never decoded by it), the aircraft's next fix is quarantined as beyond its radio horizon."""
    alone, _ = watch_two_parts(paris_zones_path, None)
    assert alone == []
    belgrade = Receiver(44.82, 20.46, 100.0)
    beyond, decoded_at = watch_two_parts(paris_zones_path, belgrade)
    assert len(beyond) == 1 and beyond[0] > decoded_at


def test_open_source_finds_live_sources_by_scheme_and_recordings_by_path(samples: Path) -> None:
    from skyfence.sources.aircraft_json import AircraftJsonSource
    from skyfence.watching import LIVE_SOURCES, FeedAdapter, open_source

    opened = [open_source(f"{scheme}://127.0.0.1:9", None) for scheme in LIVE_SOURCES]
    try:
        kinds = {scheme: type(source) for scheme, source in zip(LIVE_SOURCES, opened, strict=True)}
    finally:
        for source in opened:
            source.close()
    assert kinds == {
        "beast": FeedAdapter,
        "avr": FeedAdapter,
        "sbs": FeedAdapter,
        "http": AircraftJsonSource,
        "https": AircraftJsonSource,
    }
    recording = open_source(str(samples / "rs1090" / "full_flight_short.jsonl"), None)
    assert isinstance(recording, ReplaySource)


def test_rules_beyond_areas_give_the_same_events_in_a_replay_as_in_an_audit(
    samples: Path, paris_zones_path: Path, tmp_path: Path
) -> None:
    """A real flight squawking 7700 for a stretch, on a watch list, with CDG-10NM reporting
    watched aircraft only: the audit's events, one-second batch by one-second batch."""
    from fakes import squawking

    from skyfence.rules import RuleSet
    from skyfence.rules.squawk import EmergencySquawks
    from skyfence.rules.watchlist import WatchedAircraft, WatchList

    recording = tmp_path / "flight.jsonl"
    squawking(samples, recording, [range(300, 400)])
    listed = tmp_path / "list.csv"
    listed.write_text("$ICAO,$Registration,$Operator\n393322,,Air France\n")
    zones = load_zones(paris_zones_path)

    def engine() -> Engine:
        rules = [
            EmergencySquawks(),
            WatchedAircraft(WatchList.load([listed]), frozenset({"CDG-10NM"})),
        ]
        return Engine(zones, rules=RuleSet(rules))

    audited = ListSink()
    run_audit([recording], engine(), [audited])
    watched = ListSink()
    result = run_watch([ReplaySource(recording)], engine(), [watched])
    assert result.ticks > 1_000
    want = [e.to_dict() for e in sorted(audited.events, key=Event.sort_key)]
    assert [e.to_dict() for e in sorted(watched.events, key=Event.sort_key)] == want
    kinds = [e["kind"] for e in want]
    assert kinds.count("emergency_squawk") == 1 and kinds.count("watched_aircraft") == 1
    assert any(e["kind"] == "entry" and e["zone_id"] == "CDG-10NM" for e in want)
    assert all("watchlist" in e["details"] for e in want if e["kind"] != "emergency_squawk")


def test_a_live_fix_whose_own_time_is_ahead_is_refused_like_a_row_stamped_ahead(
    samples: Path,
) -> None:
    """aircraft.json's `seen_pos: -100` stamps a fix 100 s ahead while its row's time is now:
    the fix moved the engine's clock and declared other aircraft, still heard, lost."""
    import time

    from skyfence.sources.aircraft_json import AircraftJsonSource
    from skyfence.watching import MAX_FUTURE_S, WatchResult, drop_future

    sv = StateVectors.concat(list(read_recording(samples / "collections/quickstart.json.gz")))
    sv = sv.take(np.arange(200))
    now = time.time()
    t_pos = now - 10 + np.arange(200) * 0.01
    t_pos[[7, 8]] = now + 100  # the fix's own time ahead, its row's time not
    sv = dataclasses.replace(sv, t_s=np.full(200, now - 5.0), t_pos_s=t_pos)
    source = AircraftJsonSource("http://127.0.0.1:9/data/aircraft.json")
    result = WatchResult()
    try:
        kept = drop_future(sv, source, result, now)
    finally:
        source.close()
    assert result.future == {source.name: 2}
    assert len(kept) == 198 and (kept.t_pos_s <= now + MAX_FUTURE_S).all()
    assert np.array_equal(kept.icao24, np.delete(sv.icao24, [7, 8]))
