"""A feed or a destination that fails is one log line, then one reminder every few minutes."""

from __future__ import annotations

import socket
import time

from fakes import HOLD, Receiver

from skyfence.monitoring.failures import FailureLog, plain
from skyfence.monitoring.monitor import feed_state
from skyfence.sources.live import FeedSource, parse_source_uri


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again: connecting is refused


def test_a_refused_feed_is_one_line_a_reminder_with_its_count_then_one_line_when_back() -> None:
    port = refused_port()
    lines: list[str] = []
    clock = Clock()
    log = FailureLog(lines.append, every_s=300.0, clock=clock)
    feed = FeedSource(
        parse_source_uri(f"beast://127.0.0.1:{port}"), backoff_base_s=0.01, backoff_max_s=0.05
    )
    what = f"feed {feed.spec.uri}"

    said_at: list[int] = []  # the failed attempts when each line was written

    def look() -> None:  # as `WatchMonitor.tick` does
        state = feed_state(feed)  # type: ignore[arg-type]  # a FeedSource has what it reads
        assert state is not None
        before = len(lines)
        log.observe(what, state.error, state.failed_attempts, state.retry_s)
        said_at.extend([state.failed_attempts] * (len(lines) - before))

    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:  # refused again and again, for two seconds
        feed.next_batch(0.05)
        look()
    refused = feed.status.attempts
    assert refused >= 10
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"feed beast://127.0.0.1:{port}: connection refused, retrying in ")

    clock.now += 301.0  # five minutes later, still refused
    feed.next_batch(0.05)
    look()
    assert len(lines) == 2
    assert lines[1].startswith(f"feed beast://127.0.0.1:{port}: still connection refused (")
    tried = said_at[1] - said_at[0]
    assert tried > 0
    assert f"({tried} failed attempts in the last 5 min, down for 5 min)" in lines[1]

    server = Receiver([[HOLD]], port=port)  # the receiver comes up
    try:
        deadline = time.monotonic() + 10.0
        while not feed.status.connected and time.monotonic() < deadline:
            feed.next_batch(0.05)
        look()
    finally:
        feed.close()
        server.close()
    assert lines[2:] == [f"feed beast://127.0.0.1:{port}: working again after 5 min"]


def test_a_new_error_is_a_new_line_the_same_error_is_not() -> None:
    lines: list[str] = []
    clock = Clock()
    log = FailureLog(lines.append, every_s=60.0, clock=clock)
    for attempt in range(1, 50):
        clock.now += 1.0
        log.observe("webhook http://h/…abc", "HTTP 500 Internal Server Error", attempt, 4.0)
    log.observe("webhook http://h/…abc", "ConnectionRefusedError: refused", 50, 8.0)
    assert lines == [
        "webhook http://h/…abc: HTTP 500 Internal Server Error, retrying in 4 s",
        "webhook http://h/…abc: ConnectionRefusedError: refused, retrying in 8 s",
    ]


def test_plain_leaves_the_name_and_the_errno_out() -> None:
    what = "feed beast://h:1"
    assert plain("beast://h:1: [Errno 111] Connection refused", what) == "connection refused"
    assert plain("beast://h:1: connection closed by the receiver", what) == (
        "connection closed by the receiver"
    )
    assert plain("HTTP 500 Internal Server Error", "webhook x") == "HTTP 500 Internal Server Error"
