"""Counts as a reader says them: "1 event", "2 events", "1,204 fixes"."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`n` and `noun`, in the plural unless n is one (`plural` for the irregular ones)."""
    word = noun if n == 1 else (plural or noun + "s")
    return f"{n:,} {word}"
