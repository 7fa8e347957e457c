"""The colours a reader learns once: the same in the report's figures and in KML exports."""

TRUSTED_COLOUR = "#1f6fd1"  # the flown path
QUARANTINED_COLOUR = "#9b30d9"  # positions that were not believed
ZONE_COLOUR = "#d62728"
EVENT_COLOUR = "#ff7f0e"
