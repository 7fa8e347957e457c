"""What trust remembers of one aircraft between batches: the position's and the altitude's."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from skyfence.tracking.kinematics import Fix


@dataclass(slots=True)
class TrackIntegrity:
    """What integrity remembers of one aircraft between batches."""

    last_seen_s: float = -math.inf  # time of the last row, fix or not
    last_fix: Fix | None = None  # last fresh fix, trusted or not
    anchor: Fix | None = None  # last trusted fix
    strength: int = 0  # consecutive consistent trusted fixes behind the anchor (capped)
    suspect: bool = False  # inside a suspect episode
    quarantined: int = 0  # quarantined fixes since CONFIRM_FIXES trusted ones in a row
    calm: int = 0  # trusted fixes in a row
    same_since_s: float = math.inf  # fix time at which the last fix's coordinates first came
    last_ground_s: float = -math.inf  # time of the last on-ground report
    episode: list[Fix] = field(default_factory=list)  # quarantined fixes of the present episode
    run: int = 0  # consecutive mutually consistent fixes (to re-anchor a weak track)
    altitude: tuple[float, float] | None = None  # (time, ft) of the last plausible altitude
    # reports rejected since, that agree with each other (three replace the reference)
    pending_altitudes: list[tuple[float, float]] = field(default_factory=list)
    good_nic: bool = False  # has reported an adequate NIC: a drop below is jamming's mark
    good_nacp: bool = False
