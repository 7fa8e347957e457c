"""Live pipeline benchmark: `python -m bench.live` (see `bench.live.run` for what it measures).

Modules: `workload` (the real frames, looped or flown as a fleet, as a Beast stream; zones),
`baselines` (pyModeS), `throughput` (frames/s of each stage, cost of one batch, profiles),
`latency` (a Beast server process into the real watch pipeline and store), `report` (Markdown)
and `run` (the command line).
"""

from bench.live.run import main

__all__ = ["main"]
