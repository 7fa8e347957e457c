"""Build skyfence/samples/af_cdg_tls_2024-07-06.jsonl.gz: the demo's real Mode S frames.

The source is `rs1090/full_flight_short.jsonl` from the `traffic` library's samples (MIT,
Xavier Olive and contributors): every frame a receiver heard from one airliner between Paris-CDG
and Toulouse on 6 July 2024. Only the ADS-B frames (DF17/18) are kept, with their timestamps, so
the file stays small; skyfence decodes them itself, as it would a live feed.

    python scripts/build_demo_frames.py
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import traffic

SOURCE = Path(traffic.__file__).parent / "data" / "samples" / "rs1090" / "full_flight_short.jsonl"
TARGET = Path(__file__).parents[1] / "skyfence" / "samples" / "af_cdg_tls_2024-07-06.jsonl.gz"


def main() -> None:
    kept = 0
    with SOURCE.open() as lines, gzip.open(TARGET, "wt", compresslevel=9) as out:
        for line in lines:
            record = json.loads(line)
            if record["df"] in ("17", "18"):
                out.write(json.dumps({"timestamp": record["timestamp"], "frame": record["frame"]}))
                out.write("\n")
                kept += 1
    print(f"{kept} ADS-B frames written to {TARGET} ({TARGET.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
