"""Fuzzing profiles: "ci" (the default, bounded and reproducible, part of the suite) and
"long" (`SKYFENCE_FUZZ=long python -m pytest tests/fuzz`, many more examples, random seeds;
`SKYFENCE_FUZZ_EXAMPLES` sets how many, to fit the run in the time a machine has)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=60,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "long",
    max_examples=int(os.environ.get("SKYFENCE_FUZZ_EXAMPLES", "5000")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("SKYFENCE_FUZZ", "ci"))
