"""One table of outputs: files by extension, deliveries by scheme, Apprise for the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from skyfence.alerts.files import CsvSink, JsonlSink, ParquetSink, open_sink
from skyfence.alerts.notify import AppriseDelivery
from skyfence.alerts.registry import NOTIFIER, OUTPUTS, load, output_for
from skyfence.alerts.webhook import WebhookDelivery


@pytest.mark.parametrize(
    ("target", "cls"),
    [
        ("events.jsonl", JsonlSink),
        ("out/EVENTS.CSV", CsvSink),
        ("/tmp/a.b/events.parquet", ParquetSink),
        ("https://hooks.example/skyfence", WebhookDelivery),
        ("HTTP://127.0.0.1:8080/hook", WebhookDelivery),
        ("tgram://bot/chat", AppriseDelivery),
        ("ntfys://ntfy.sh/topic", AppriseDelivery),
        ("mailto://user:pass@example.com", AppriseDelivery),
    ],
)
def test_each_target_finds_its_output(target: str, cls: type) -> None:
    assert load(output_for(target)) is cls


def test_every_entry_names_a_class_that_exists() -> None:
    for entry in [*OUTPUTS.values(), NOTIFIER]:
        assert isinstance(load(entry), type)


def test_an_unknown_file_type_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"events\.txt: unknown event file type '\.txt' \(use"):
        output_for("events.txt")
    with pytest.raises(ValueError, match="unknown event file type ''"):
        open_sink(tmp_path / "events")
    assert not (tmp_path / "events").exists()
