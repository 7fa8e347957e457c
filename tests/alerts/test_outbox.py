"""The checks every transport of the outbox shares, made once by `OutboxWorker`: a destination
the store queues nothing for, and a timeout that could never be met, are refused up front by
the webhook and the Apprise notifier alike."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from skyfence.alerts.notify import AppriseDelivery, parse_destination
from skyfence.alerts.outbox import OutboxWorker
from skyfence.alerts.webhook import WebhookDelivery
from skyfence.errors import InputError
from skyfence.store.events import EventStore

HOOK = "http://127.0.0.1:9/hook"
NOTIFY = "tgram://123456789:AAE-secret-bot-token/-100123456"


def test_a_destination_the_store_does_not_queue_for_is_refused(tmp_path: Path) -> None:
    d = parse_destination(NOTIFY)
    with EventStore(tmp_path / "events.db") as store:  # no webhook, no notifier
        with pytest.raises(InputError, match=re.escape(f"webhook {HOOK}: not one of")):
            WebhookDelivery(store, HOOK)
        with pytest.raises(InputError, match="never queued for it") as caught:
            AppriseDelivery(store, d)
        assert str(caught.value).startswith("notify tgram://")
        assert "secret" not in str(caught.value)  # the name logs show, not the URL


@pytest.mark.parametrize("timeout_s", [0.0, -1.0])
def test_a_timeout_that_cannot_be_met_is_refused(tmp_path: Path, timeout_s: float) -> None:
    d = parse_destination(NOTIFY)
    with EventStore(tmp_path / "events.db", [HOOK], notifiers=[d.key]) as store:
        with pytest.raises(InputError, match="timeout_s must be > 0"):
            WebhookDelivery(store, HOOK, timeout_s=timeout_s)
        with pytest.raises(InputError, match="timeout_s must be > 0"):
            AppriseDelivery(store, d, timeout_s=timeout_s)


def test_a_transport_takes_its_timeout_from_the_worker(tmp_path: Path) -> None:
    d = parse_destination(NOTIFY)
    with (
        EventStore(tmp_path / "events.db", [HOOK], notifiers=[d.key]) as store,
        WebhookDelivery(store, HOOK, timeout_s=2.5) as hook,
        AppriseDelivery(store, d) as note,
    ):
        assert isinstance(hook, OutboxWorker) and hook.timeout_s == 2.5
        assert note.timeout_s == 10.0  # Apprise's own default
