"""Reading a batch ahead of the engine, in a thread: Parquet decoding, Arrow and numpy release
the interpreter lock, so reading and converting (about 40 % of an audit) overlap the engine's
work on a second core."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")


def read_ahead(batches: Iterator[T]) -> Iterator[T]:
    """The same batches, in the same order, read by a thread one batch ahead; an error of the
    reader is raised here, where the caller handles it."""
    ahead: queue.Queue[tuple[T] | BaseException | None] = queue.Queue(1)

    def pump() -> None:
        try:
            for batch in batches:
                ahead.put((batch,))
            ahead.put(None)
        except BaseException as exc:
            ahead.put(exc)

    threading.Thread(target=pump, daemon=True).start()
    while (item := ahead.get()) is not None:
        if isinstance(item, BaseException):
            raise item
        yield item[0]
