"""The detection settings, on the ground floor: the engine and the trust checks below it both
read them, so they belong to neither."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from skyfence.errors import InputError

# beyond an hour a path extrapolated at constant speed predicts nothing, and the search for
# zones ahead covers the world: `--lookahead 36000` took 100 s on a 15,000-frame recording
MAX_LOOKAHEAD_S = 3600.0


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """Detection parameters shared by live and batch runs (identical settings, identical events)."""

    lookahead_s: float | None = None  # overrides every zone's lookahead_s when set
    lost_contact_s: float = 60.0
    prediction_interval_s: float = (
        4.0  # look ahead once per aircraft per interval, like a radar scan
    )
    forget_after_s: float = 3600.0  # an aircraft unheard this long starts afresh
    exit_hysteresis_m: float = 500.0  # an exit needs the aircraft this far outside laterally...
    exit_hysteresis_ft: float = 200.0  # ...or this far outside the vertical band
    max_speed_kt: float = 1200.0  # no civil or military aircraft monitored here is faster
    speed_factor: float = 1.5  # tolerance on the reported ground speed for jumps
    min_nic: int = 5  # containment radius < 1 NM; below, the position is not trusted
    min_nacp: int = 6  # accuracy < 0.3 NM
    envelope_min_alt_ft: float = 20_000.0  # above this (and below FL450) ...
    envelope_min_gs_kt: float = 100.0  # ...a ground speed below this is not flight

    def __post_init__(self) -> None:
        """Refused here, once, for every caller: a NaN look-ahead made `audit` and `watch` hang,
        a NaN or negative lost-contact time is a monitor that never reports a loss, and a zero
        one reported the AFR flight lost between every two fixes (80 lost contacts)."""
        for field in fields(self):
            value = getattr(self, field.name)
            if value is not None:
                at_most = MAX_LOOKAHEAD_S if field.name == "lookahead_s" else math.inf
                check_non_negative(field.name, value, at_most, positive=field.name in POSITIVE)


# the settings that 0 makes meaningless, besides negative values
POSITIVE = frozenset({"lost_contact_s"})


def check_non_negative(
    name: str, value: float, at_most: float = math.inf, *, positive: bool = False
) -> None:
    """An InputError naming `name` unless `value` is a finite number >= 0 (NaN, inf and
    negative durations, speeds and thresholds have no meaning here), and at most `at_most`.
    `positive`: 0 is refused too."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or not (math.isfinite(value) and (value > 0 if positive else value >= 0)):
        bound = "> 0" if positive else ">= 0"
        raise InputError(f"{name} must be a finite number {bound}, got {value!r}")
    if value > at_most:
        raise InputError(f"{name} must be at most {at_most:g}, got {value!r}")


# --- trust thresholds (skyfence/tracking): physics and receiver behaviour, not user choices ---

STALE_POSITION_S = 60.0  # a state vector whose position is older than this carries no new fix
NOISE_M = 300.0  # position noise tolerated between two fixes, whatever their spacing
CONFIRM_FIXES = 10  # consistent fixes that make a track's anchor strong
# assumed when no ground speed is known at either end: a cruising airliner that sends no
# velocity (1.5 x 400 + 100 = 700 kt allowed, so sampled fixes of it are never a jump)
FALLBACK_SPEED_KT = 400.0
SPEED_MARGIN_KT = 100.0  # added to the reported speed (times speed_factor) for a jump
# a position with its own time (OpenSky's lastposupdate, traffic's last_position, readsb's
# seen_pos) is timed to well under this; one stamped with its row's time may be as old as the
# interval since the aircraft's previous row (a sampled source repeats the newest position)
OWN_TIME_ERR_S = 0.5
# quarantined fixes, with fewer than CONFIRM_FIXES trusted ones between any two, that make a
# suspect episode: one alone is a decoding glitch, two are an anomaly that lasts (a spoofer,
# or a second transmitter whose fixes alternate with the real ones)
CONFIRM_SUSPECT = 2
GROUND_RECENT_S = 600.0  # an on-ground report this recent makes a flight-level altitude a bit error
ENVELOPE_MAX_ALT_FT = 45_000.0  # the flight envelope test applies up to FL450
# inside a suspect episode, claimed positions that have not moved half the way the reported
# ground speed says over this long are a spoofer's fixed point: they never end the episode
STALL_WINDOW_S = 60.0
STALL_MIN_KT = 80.0
STALL_FRACTION = 0.5

MAX_CLIMB_FPM = 20_000.0  # beyond any aircraft's sustained climb or descent
ALTITUDE_NOISE_FT = 300.0
GROUND_MAX_FT = 2_000.0  # an on-ground report needs the last altitude near an airfield
AGREEING_ALTITUDES = 3  # reports agreeing with each other that replace a rejected reference
