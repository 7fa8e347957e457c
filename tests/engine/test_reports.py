"""Event records built column-wise give what the per-event Python gave."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from skyfence.engine.reports import rounded
from skyfence.sources.recordings import read_recording


def _same(got: list[float], values: np.ndarray, digits: int) -> None:
    want = [round(float(v), digits) for v in values]
    for g, w, v in zip(got, want, values.tolist(), strict=True):
        assert (g == w and math.copysign(1, g) == math.copysign(1, w)) or (g != g and w != w), v


def test_rounded_is_pythons_round_bit_for_bit(samples: Path) -> None:
    """Real coordinates and times (the numbers events carry), every value within a few units
    in the last place of a half at 1 and 6 decimals (where a product rounded to double could
    fall on the other side), signs, zeros and what is not finite."""
    sv = next(iter(read_recording(samples / "collections/quickstart.json.gz", None, 50_000)))
    real = np.concatenate([sv.lat_deg, sv.lon_deg, sv.t_s - sv.t_s[0], sv.altitude_ft()])
    rng = np.random.default_rng(17)
    halves = (rng.integers(-180_000_000, 180_000_000, 20_000) + 0.5) / 1e6
    near = np.concatenate([np.nextafter(halves, -np.inf), halves, np.nextafter(halves, np.inf)])
    tenths = (rng.integers(-100_000, 100_000, 5_000) + 0.5) / 10
    odd = np.array([0.0, -0.0, 5e-7, -5e-7, 0.05, -0.05, 2.5, 1e300, -1e300, np.inf, np.nan])
    for digits in (1, 6):
        for values in (real, near, tenths, odd, rng.uniform(-180, 180, 20_000)):
            _same(rounded(values, digits), values, digits)
    # the halves are where numpy's own round differs from Python's: the test has teeth
    assert np.round(near, 6).tolist() != [round(float(v), 6) for v in near]
