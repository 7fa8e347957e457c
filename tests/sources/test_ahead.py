"""Reading a batch ahead in a thread changes neither the batches nor where errors surface."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from skyfence.schema import StateVectors
from skyfence.sources.ahead import read_ahead
from skyfence.sources.base import RecordingError
from skyfence.sources.recordings import read_recording


def test_the_same_batches_in_the_same_order(samples: Path) -> None:
    path = samples / "collections/quickstart.json.gz"
    direct = list(read_recording(path, batch_rows=50_000))
    ahead = list(read_ahead(iter(read_recording(path, batch_rows=50_000))))
    assert len(ahead) == len(direct) > 1
    for a, b in zip(ahead, direct, strict=True):
        assert np.array_equal(a.icao24, b.icao24) and np.array_equal(a.t_s, b.t_s)


def test_a_readers_error_is_raised_to_the_caller_after_the_good_batches(samples: Path) -> None:
    path = samples / "collections/quickstart.json.gz"

    def failing() -> Iterator[StateVectors]:
        yield from read_recording(path, batch_rows=100_000)
        raise RecordingError(path, "truncated")

    seen = 0
    with pytest.raises(RecordingError, match="truncated"):
        for batch in read_ahead(failing()):
            seen += len(batch)
    assert seen == 284_505
