"""Enumerated states of the store's rows. Transitions are conditional updates in `store/`."""

from __future__ import annotations

from enum import StrEnum


class InboxState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    REJECTED = "rejected"  # refused at the door (unusable): kept for inspection, an exception raised
    FAILED = "failed"  # accepted, but the fold could not use it: set aside with its error, retryable


class TargetState(StrEnum):
    OK = "ok"
    BLOCKED = "blocked"  # the far end cannot take it yet (unknown or inactive SKU): an exception is open


class BatchState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"  # refused for good, or retry window and attempts spent: visible, replayable


class ExceptionState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
