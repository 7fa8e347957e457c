"""The figures as Markdown, and where they were measured."""

from __future__ import annotations

import contextlib
import math
import os
import platform
import subprocess
from collections.abc import Iterable, Sequence
from importlib.metadata import version
from pathlib import Path

import numpy as np

from bench.live.latency import Latency
from bench.live.throughput import E2E, BatchCost, Throughput
from bench.live.workload import ROOT
from skyfence.arrays import F64

# -- report -------------------------------------------------------------------------------------


def pct(values: F64, q: float) -> float:
    finite = values[np.isfinite(values)]
    return float(np.percentile(finite, q)) if finite.shape[0] else math.nan


def machine() -> str:
    cpu = platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"numpy {np.__version__}, rs1090 {version('rs1090')}, pyModeS {version('pyModeS')}"
    )


def load_average() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "unknown"


def commit() -> str:
    """The commit measured, and whether the package had uncommitted changes (others edit it)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "skyfence"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" + uncommitted changes in skyfence/" if dirty else "")


def table(header: Sequence[str], rows: Iterable[Sequence[str]], left: int = 1) -> list[str]:
    """A Markdown table: the first `left` columns (names) aligned left, the figures right."""
    align = ["---" if i < left else "---:" for i in range(len(header))]
    return [f"| {' | '.join(cells)} |" for cells in (header, align, *rows)]


def throughput_table(tp: Throughput, zones: int) -> list[str]:
    ref = tp.rates[E2E]
    lines = [
        f"{tp.frames:,} frames: {tp.loops} loops of the flight, each with the Beast sample at "
        f"its start; {zones} zones; decode batches of {tp.batch:,} frames.",
        "",
    ]
    lines += table(
        ["where the frames go (`classify`, before rs1090)", "frames", "share"],
        ([name, f"{count:,}", f"{count / tp.frames:.1%}"] for name, count in tp.mix.items()),
    )
    lines.append("")
    lines += table(
        ["method", "frames/s", "skyfence end to end (live) is"],
        ([name, f"{rate:,.0f}", f"{ref / rate:.2f}x"] for name, rate in tp.rates.items()),
    )
    lines.append("")
    for name, p in tp.passes.items():
        stages = ", ".join(f"{k} {v:.2f} s" for k, v in p.stage_s.items())
        events = ", ".join(f"{k} {v}" for k, v in sorted(p.events.items()))
        lines.append(
            f"- {name}: {p.frames:,} frames in {p.seconds:.2f} s ({stages}); "
            f"{p.vectors:,} positions; events: {events or 'none'}"
        )
    lines.append(
        "- positions decoded per loop: " + ", ".join(f"{k} {v:,}" for k, v in tp.positions.items())
    )
    return lines


def batch_table(costs: list[BatchCost]) -> list[str]:
    header = [
        "aircraft in flight",
        "frames a batch",
        "batches timed",
        "decode ms/batch",
        "engine ms/batch",
        "frames/s at most",
    ]
    rows = (
        [
            f"{c.aircraft:,}",
            f"{c.batch:,}",
            f"{c.batches}",
            f"{c.decode_ms:.2f}",
            f"{c.engine_ms:.2f}",
            f"{c.frames_per_s:,.0f}",
        ]
        for c in costs
    )
    return table(header, rows, left=0)


def latency_table(runs: list[Latency]) -> list[str]:
    header = [
        "load",
        "aircraft",
        "offered frames/s",
        "read frames/s",
        "events (measured)",
        "p50 ms",
        "p99 ms",
        "max ms",
        "p99 to disk ms",
    ]
    rows = (
        [
            r.label,
            f"{r.aircraft:,}",
            f"{r.offered_fps:,.0f}",
            f"{r.read_fps:,.0f}",
            f"{sum(r.events.values())} ({r.measured})",
            f"{pct(r.to_row_ms, 50):.1f}",
            f"{pct(r.to_row_ms, 99):.1f}",
            f"{float(r.to_row_ms.max()) if r.measured else math.nan:.1f}",
            f"{pct(r.to_disk_ms, 99):.1f}",
        ]
        for r in runs
    )
    lines = table(header, rows)
    lines.append("")
    for r in runs:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(r.events.items()))
        lines.append(
            f"- {r.label}: {r.frames:,} frames in {r.batches:,} batches "
            f"({r.frames / max(r.batches, 1):,.0f} frames a batch); events: {kinds}. "
            f"Where the delay goes, p50 / p99 ms: waiting in the socket "
            f"{pct(r.pickup_ms, 50):.1f} / {pct(r.pickup_ms, 99):.1f}, decode + engine "
            f"{pct(r.process_ms, 50):.1f} / {pct(r.process_ms, 99):.1f}, store queue "
            f"{pct(r.queue_ms, 50):.1f} / {pct(r.queue_ms, 99):.1f}, insert + fsync "
            f"{pct(r.commit_ms, 50):.1f} / {pct(r.commit_ms, 99):.1f}; the watch process used "
            f"{r.cpu_share:.0%} of a core; the server fell behind its schedule by "
            f"{r.server_lag_s * 1000:.0f} ms at most."
        )
    return lines
