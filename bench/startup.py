"""Start-up of the `skyfence` command, whole process: `python -m bench.startup [--runs 15]`.

Each command is run as a user runs it (a fresh interpreter, output to a pipe), interleaved with
the others so that the load of a shared machine falls on all of them alike; the figure is the
best of the runs, wall time and CPU time (user + system) of the process. The baseline is an
interpreter that does nothing (`python -c pass`) in the same run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

COMMANDS: dict[str, list[str]] = {
    "python -c pass (baseline)": ["-c", "pass"],
    "import skyfence.cli": ["-c", "import skyfence.cli"],
    "skyfence --help": ["-m", "skyfence", "--help"],
    "skyfence zones list": ["-m", "skyfence", "zones", "list"],
    "skyfence audit --help": ["-m", "skyfence", "audit", "--help"],
}


def run_once(args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one whole process."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, *args], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{' '.join(args)} failed ({status})")
    return wall, usage.ru_utime + usage.ru_stime


def measure(runs: int) -> dict[str, tuple[float, float]]:
    best = {name: (float("inf"), float("inf")) for name in COMMANDS}
    for _ in range(runs):
        for name, args in COMMANDS.items():
            wall, cpu = run_once(args)
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    run_once(COMMANDS["skyfence --help"])  # warm the page cache and the bytecode
    best = measure(args.runs)
    base_wall = best["python -c pass (baseline)"][0]
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"| command (best of {args.runs}) | wall s | CPU s | wall minus baseline s |")
    print("| --- | ---: | ---: | ---: |")
    for name, (wall, cpu) in best.items():
        print(f"| {name} | {wall:.3f} | {cpu:.3f} | {wall - base_wall:.3f} |")
    for name in ("skyfence --help", "skyfence zones list"):
        verdict = "met" if best[name][0] < 0.3 else "NOT met"
        print(f"- {name}: {best[name][0]:.3f} s wall: target < 0.3 s {verdict}")


if __name__ == "__main__":
    main()
