"""The detection settings, on the ground floor: the engine and the trust checks below it both
read them, so they belong to neither."""

from __future__ import annotations

from dataclasses import dataclass


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
