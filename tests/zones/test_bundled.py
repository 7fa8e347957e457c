"""The bundled zone sets, as `zones list` reads them (ids only) and as the engine loads them."""

from __future__ import annotations

import pytest

from skyfence.zones.bundled import bundled_ids, bundled_names
from skyfence.zones.geojson import load_zones


@pytest.mark.parametrize("name", bundled_names())
def test_ids_read_without_geometry_match_the_validated_zones(name: str) -> None:
    ids = bundled_ids(name)
    assert ids == [z.id for z in load_zones(name)]
    assert len(ids) >= 1


def test_an_unknown_name_is_refused() -> None:
    with pytest.raises(KeyError, match="not a bundled zone set"):
        bundled_ids("atlantis")
