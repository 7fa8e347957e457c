"""Rebuild skyfence/zones/data/ukraine.geojson from EUROCONTROL FIR data shipped by `traffic`.

Run once by a maintainer (needs the test extra); the output is committed so users need nothing.
Source: traffic/data/eurocontrol/eurofirs.json (EUROCONTROL FIRs, redistributed by the traffic
library under the MIT licence, (c) Xavier Olive).
"""

import json
from pathlib import Path

import shapely
import traffic
from shapely.geometry import mapping, shape

FIRS = {
    "UKBV": "Kyiv FIR",
    "UKDV": "Dnipro FIR",
    "UKFV": "Simferopol FIR",
    "UKLV": "Lviv FIR",
    "UKOV": "Odesa FIR",
}
OUT = Path(__file__).parent.parent / "skyfence" / "zones" / "data" / "ukraine.geojson"


def main() -> None:
    src = Path(traffic.__file__).parent / "data" / "eurocontrol" / "eurofirs.json"
    firs = {f["properties"]["IDENT"]: f for f in json.loads(src.read_text())["features"]}
    features = []
    for ident in FIRS:
        fir = firs[ident]
        geom = shapely.make_valid(shape(fir["geometry"]))
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "id": ident,
                    "name": FIRS[ident],
                    "floor": "SFC",
                    "ceiling": "UNL",
                    "active": [["2022-02-24T00:00:00Z", None]],
                    "severity": "critical",
                    "source": "EUROCONTROL FIR boundaries via the traffic library (MIT)",
                },
                "geometry": mapping(shapely.set_precision(geom, 1e-7)),
            }
        )
    features.append(
        {
            "type": "Feature",
            "properties": {
                "id": "ZNPP-30KM",
                "name": "Zaporizhzhia nuclear power plant, 30 km",
                "floor": "SFC",
                "ceiling": "UNL",
                "active": [["2022-02-24T00:00:00Z", None]],
                "severity": "critical",
                "radius_m": 30000,
            },
            "geometry": {"type": "Point", "coordinates": [34.5858, 47.5122]},
        }
    )
    doc = {
        "type": "FeatureCollection",
        "name": "ukraine",
        "description": "Ukraine's five FIRs (airspace closed since 2022-02-24) and a 30 km circle "
        "around the Zaporizhzhia nuclear power plant.",
        "features": features,
    }
    OUT.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
