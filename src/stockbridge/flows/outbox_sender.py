"""One sender for every command outbox: claim what is due, send it, then acknowledge it, retry it
with back-off, or dead-letter it with an exception that has an owner.

A subclass says how one command is sent (`send`), what its answer changes (`answered`) and how its
failure is named (`exception_of`, `work_of`, `dead_letter_detail`); the loop is here, once:

- **Claim** in slots (`engine/bounded.Slots`): each cycle waits for a free slot, leases as many due
  commands as there are free slots (`engine.lease_s`) and starts each on its own task, never waiting
  for them. A command that hangs until its deadline holds one slot while the others carry on, and
  one that fails is rescheduled on its own: one bad command never holds the others. Several *lanes*
  (slots with their own claim) keep one kind of command from taking the slots another kind needs.
- **Acknowledge** and fold the answer in one transaction, only while this worker still holds the
  lease (a worker that lost it to another leaves the answer to that one): commands are idempotent
  at the far end, so a command sent twice after a lost lease does one thing. An exception left by
  an earlier dead letter of the command is resolved.
- **Retry** a `RetriableError` at `engine/retry.next_attempt_at` (back-off with jitter, the far
  end's `Retry-After`, within the retry window); anything else, or the window spent, dead-letters
  the command with an exception for its owner (`config.owners`) and the replay action that queues it
  again (`store/dead_letters`).
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import ClassVar, Generic, NotRequired, Protocol, TypedDict, TypeVar, Unpack

from sqlalchemy import Connection, Engine

from stockbridge.config import Config
from stockbridge.domain.errors import ConnectorError, RetriableError
from stockbridge.engine.bounded import Slots, wait_for_any_free_slot
from stockbridge.engine.clock import Clock
from stockbridge.engine.db import in_transaction
from stockbridge.engine.retry import next_attempt_at
from stockbridge.logs import attempt_failed, get_logger
from stockbridge.store.bookkeeping import raise_exception, resolve_exceptions
from stockbridge.store.dead_letters import Outbox, replay_action


class OutboxCommand(Protocol):
    """A leased outbox row as its repository gives it."""

    @property
    def id(self) -> int: ...

    @property
    def attempts(self) -> int: ...

    @property
    def failing_since(self) -> datetime | None: ...  # first failure of the current run of attempts


C = TypeVar("C", bound=OutboxCommand)
A = TypeVar("A")

# (connection, owner, now, lease until, how many) → the commands leased
Claim = Callable[[Connection, str, datetime, datetime, int], list[C]]
# (connection, command, owner, now) → False when the lease was lost meanwhile
Finish = Callable[[Connection, C, str, datetime], bool]
# (connection, command, owner, error, retry at or None to dead-letter, failing since)
RecordFailure = Callable[[Connection, C, str, str, datetime | None, datetime], None]


class Sending(TypedDict):
    """What every sender is given by the worker (keyword arguments of each sender)."""

    engine: Engine
    config: Callable[[], Config]  # mapping tables reload: each decision reads the config of now
    clock: Clock
    worker_id: str  # the lease owner
    rng: NotRequired[random.Random | None]  # back-off jitter


class OutboxSender(ABC, Generic[C, A]):
    """Sends one outbox's commands; `A` is what a sent command answers."""

    outbox: ClassVar[Outbox]

    def __init__(
        self,
        *,
        lanes: Sequence[tuple[Slots, Claim[C]]],
        finish: Finish[C],
        record_failure: RecordFailure[C],
        **sending: Unpack[Sending],
    ) -> None:
        self._engine = sending["engine"]
        self._config = sending["config"]
        self._clock = sending["clock"]
        self._owner = sending["worker_id"]
        self._rng = sending.get("rng") or random.Random()
        self._lanes = tuple(lanes)
        self._finish = finish
        self._record_failure = record_failure
        self._log = get_logger(type(self).__module__)

    # --- what a subclass says ----------------------------------------------------------------------
    @abstractmethod
    async def send(self, command: C) -> A:
        """Send the command; raises a `ConnectorError` when it failed."""

    @abstractmethod
    def answered(self, connection: Connection, command: C, answer: A, now: datetime) -> None:
        """What the answer changes, in the transaction that acknowledges the command."""

    @abstractmethod
    def exception_of(self, command: C) -> tuple[str, str]:
        """(type, entity) of the exception a dead letter of this command raises."""

    @abstractmethod
    def work_of(self, command: C) -> tuple[str, str]:
        """(what, which) for the log line of a failed attempt."""

    def dead_letter_detail(self, command: C, attempts: int, since: datetime, failure: ConnectorError) -> str:
        what, _ = self.work_of(command)
        return (
            f"{what} dead-lettered after {attempts} attempts since {since:%Y-%m-%d %H:%M:%S} UTC: {failure}"
        )

    def after_answer(self, command: C, answer: A) -> None:
        """Called once the answer is stored (e.g. to wake a loop that has work now)."""

    # --- the loop --------------------------------------------------------------------------------
    async def run_cycle(self) -> int:
        """Claim as many due commands as there are free slots and start sending them; returns how
        many started. Waits for a free slot, never for the commands themselves."""
        await wait_for_any_free_slot([slots for slots, _ in self._lanes])
        now = self._clock.now()
        lease = now + timedelta(seconds=self._config().engine.lease_s)
        free = [(slots, claim, slots.free) for slots, claim in self._lanes if slots.free > 0]

        def claim_each(connection: Connection) -> list[tuple[Slots, list[C]]]:
            return [(slots, claim(connection, self._owner, now, lease, n)) for slots, claim, n in free]

        started = 0
        for slots, commands in await in_transaction(self._engine, claim_each):
            for command in commands:
                slots.start(self._send(command))
            started += len(commands)
        return started

    async def drain(self) -> None:
        """Wait until every command started has been answered or has failed."""
        for slots, _ in self._lanes:
            await slots.join()

    async def aclose(self) -> None:
        """Stop sending (on shutdown): commands cut off keep their lease, which brings them back."""
        for slots, _ in self._lanes:
            await slots.cancel()

    async def _send(self, command: C) -> None:
        try:
            answer = await self.send(command)
        except ConnectorError as exc:
            failure = exc
            await in_transaction(self._engine, lambda c: self._failed(c, command, failure))
            return
        await in_transaction(self._engine, lambda c: self._acknowledged(c, command, answer))
        self.after_answer(command, answer)

    def _acknowledged(self, connection: Connection, command: C, answer: A) -> None:
        now = self._clock.now()
        if not self._finish(connection, command, self._owner, now):
            return  # another worker took the command over; its answer counts
        self.answered(connection, command, answer, now)
        # A replayed dead letter went through: its exception is over.
        kind, entity = self.exception_of(command)
        resolve_exceptions(connection, kind, [entity])

    def _failed(self, connection: Connection, command: C, failure: ConnectorError) -> None:
        config = self._config()
        now = self._clock.now()
        attempt = command.attempts + 1
        since = command.failing_since or now
        retry_at = (
            next_attempt_at(
                config.engine,
                attempt,
                now,
                failing_since=since,
                retry_after=failure.retry_after,
                rng=self._rng,
            )
            if isinstance(failure, RetriableError)
            else None
        )
        self._record_failure(connection, command, self._owner, str(failure), retry_at, since)
        what, which = self.work_of(command)
        attempt_failed(
            self._log, work=what, entity=which, attempt=attempt, error=str(failure), retry_at=retry_at
        )
        if retry_at is None:
            kind, entity = self.exception_of(command)
            raise_exception(
                connection,
                type=kind,
                entity=entity,
                owner=config.owners.owner_of(kind),
                detail=self.dead_letter_detail(command, attempt, since, failure),
                now=now,
                retry_action=replay_action(self.outbox, command.id),
            )
