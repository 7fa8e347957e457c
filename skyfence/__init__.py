"""skyfence: no-fly-zone monitoring of ADS-B traffic, as a library.

```python
import skyfence

zones = skyfence.load_zones("ukraine")
events = skyfence.audit("recording.json.gz", zones)  # a pyarrow.Table, like the Parquet output
```

Every name is loaded on first use: `import skyfence` runs on every start of the `skyfence`
command, which must not pay for numpy, shapely or pyarrow before it needs them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what mypy and the API reference see; at run time, `__getattr__` below
    from skyfence.api import Watch, audit, interference, load_zones, report, watch
    from skyfence.audit_summary import Audit
    from skyfence.engine.events import Event
    from skyfence.errors import InputError, ServerError, SkyfenceError, ToolError
    from skyfence.sources.base import RecordingError
    from skyfence.store.errors import EventNotFoundError, StoreError
    from skyfence.zones.model import Zone, ZoneError

__all__ = [
    "Audit",
    "Event",
    "EventNotFoundError",
    "InputError",
    "RecordingError",
    "ServerError",
    "SkyfenceError",
    "StoreError",
    "ToolError",
    "Watch",
    "Zone",
    "ZoneError",
    "__version__",
    "audit",
    "interference",
    "load_zones",
    "report",
    "watch",
]

_HOMES = {
    "Audit": "skyfence.audit_summary",
    "Watch": "skyfence.api",
    "audit": "skyfence.api",
    "interference": "skyfence.api",
    "load_zones": "skyfence.api",
    "report": "skyfence.api",
    "watch": "skyfence.api",
    "Event": "skyfence.engine.events",
    "InputError": "skyfence.errors",
    "SkyfenceError": "skyfence.errors",
    "ServerError": "skyfence.errors",
    "ToolError": "skyfence.errors",
    "RecordingError": "skyfence.sources.base",
    "EventNotFoundError": "skyfence.store.errors",
    "StoreError": "skyfence.store.errors",
    "Zone": "skyfence.zones.model",
    "ZoneError": "skyfence.zones.model",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("skyfence")
        except PackageNotFoundError:  # run from a source tree that was never installed
            return "0+unknown"
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'skyfence' has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value  # found once; later lookups do not come back here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
