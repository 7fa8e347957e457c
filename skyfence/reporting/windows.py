"""How much of an aircraft's track explains an event, the same in the report and on the map."""

WINDOW_S = 900.0  # 15 minutes either side of the event
SUSPECT_WINDOW_S = 3600.0  # for a suspect position, the hour: where the aircraft really flew


def window_s(kind: str) -> float:
    """A suspect position is judged against the trusted path it departs from, often more than
    15 minutes away from the spoofed fix."""
    return SUSPECT_WINDOW_S if kind == "suspect_position" else WINDOW_S
