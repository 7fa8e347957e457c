"""What an audit is asked, checked once, whichever of its paths runs it.

An audit runs one of four ways: recording files through one engine (`auditing.run_audit`), a
folder of hourly OpenSky Parquet files by worker processes (`scale.dataset`), OpenSky Parquet on
Spark (`scale.spark`), or a table handed to `skyfence.api.audit`. Not every option means
something on every path (a folder's workers read whole files, Spark partitions by aircraft), and
an option a path would not apply is refused, with one message for the CLI and the API, never
dropped: a `--since` that is not applied reports events from before it. Each path's own
function (`run_audit`, `audit_table`, `audit_dataset`, `run_spark_audit`) checks the options it
is given, so no caller can skip the check; what they found is one `audit_result.AuditResult`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from skyfence.errors import InputError
from skyfence.settings import EngineSettings
from skyfence.sources.receiver import Receiver

AuditPath = Literal["files", "folder", "spark", "table"]
# The options each path applies; the engine settings apply on every path.
APPLIED: dict[AuditPath, frozenset[str]] = {
    "files": frozenset(
        {"since", "until", "format", "receiver", "start", "watchlist", "watched-only-zone"}
        | {"squawks"}
    ),
    "folder": frozenset({"squawks"}),  # the rule is per aircraft, as the workers' buckets are
    "spark": frozenset({"squawks"}),  # so are Spark's partitions, cut where the engine forgets
    "table": frozenset({"since", "until", "receiver", "squawks"}),  # no format nor clock
}
_WHERE: dict[AuditPath, str] = {
    "files": "to files",
    "folder": "on a folder",
    "spark": "with --engine spark",
    "table": "to a table",
}


@dataclass(frozen=True, slots=True)
class AuditOptions:
    """The options of one audit; `check` refuses what its path would not apply."""

    settings: EngineSettings = field(default_factory=EngineSettings)
    since_s: float | None = None  # only fixes from this time on (UNIX seconds)
    until_s: float | None = None  # only fixes before this time
    format: str | None = None  # of the recording files; None: found from their content
    receiver: Receiver | None = None  # the antenna: decoding reference and radio horizon
    start_s: float | None = None  # UTC time of the first frame of Beast or AVR files
    watchlist: tuple[str, ...] = ()  # Plane-Alert CSV files (skyfence.rules.watchlist)
    watched_only_zones: tuple[str, ...] = ()  # zones whose events are for watched aircraft only
    squawks: bool = False  # emergency_squawk events (skyfence.rules.squawk), `--squawks`

    def given(self) -> list[str]:
        """The names of the options set, as the API spells them (the CLI adds `--`)."""
        values = {
            "since": self.since_s,
            "until": self.until_s,
            "format": self.format,
            "receiver": self.receiver,
            "start": self.start_s,
            "watchlist": self.watchlist or None,
            "watched-only-zone": self.watched_only_zones or None,
            "squawks": self.squawks or None,
        }
        return [name for name, value in values.items() if value is not None]

    def check(self, path: AuditPath, flag: str = "") -> None:
        """Refuse an empty time window and every option `path` would not apply. `flag` is how
        the caller spells an option's name (`--` for the CLI)."""
        if self.since_s is not None and self.until_s is not None and self.since_s >= self.until_s:
            raise InputError(f"{flag}since must be before {flag}until")
        ignored = [name for name in self.given() if name not in APPLIED[path]]
        if ignored:
            names = ", ".join(flag + name for name in ignored)
            raise InputError(f"{names}: not applied {_WHERE[path]}; audit the files themselves")
