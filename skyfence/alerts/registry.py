"""Every output kind, looked up by a file's extension or a URL's scheme, in one table.

Adding an output is one module and one line here. Entries name their class as "module:Class",
imported only when used: `watch --help` does not pay for Arrow, Apprise or an MQTT client.
Deliveries from the store's outbox (webhooks, notifiers) are keyed by `SCHEME://`; any scheme
not listed is Apprise's (it knows 100+ services, from `tgram://` to `mailto://`).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from skyfence.errors import InputError

OUTPUTS: dict[str, str] = {
    ".jsonl": "skyfence.alerts.files:JsonlSink",
    ".csv": "skyfence.alerts.files:CsvSink",
    ".parquet": "skyfence.alerts.files:ParquetSink",
    "http://": "skyfence.alerts.webhook:WebhookDelivery",
    "https://": "skyfence.alerts.webhook:WebhookDelivery",
}
NOTIFIER = "skyfence.alerts.notify:AppriseDelivery"  # every other SCHEME://

FILE_FORMATS = tuple(key for key in OUTPUTS if key.startswith("."))


def output_for(target: str) -> str:
    """The "module:Class" writing to `target`: a URL by its scheme, else a file by its
    extension; a ValueError for a file type nobody writes."""
    scheme, sep, _ = target.partition("://")
    if sep and scheme:
        return OUTPUTS.get(scheme.lower() + "://", NOTIFIER)
    suffix = Path(target).suffix.lower()
    if suffix not in FILE_FORMATS:
        raise InputError(
            f"{target}: unknown event file type {suffix!r} (use {', '.join(FILE_FORMATS)})"
        )
    return OUTPUTS[suffix]


def load(entry: str) -> Any:
    """The class an entry names, imported now."""
    module, _, name = entry.partition(":")
    return getattr(importlib.import_module(module), name)
