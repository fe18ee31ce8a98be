"""The simulator's running state: settings, the model, the webhook delivery worker and API fault draws."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from .delivery import DeliveryWorker
from .settings import ClarusSettings
from .state import AnyEvent, ClarusState


class ClarusServer:
    """Holds the simulator's state and delivery worker; everything runs on the server's event loop."""

    def __init__(self, settings: ClarusSettings) -> None:
        self.settings = settings
        self.clock_offset_s = 0.0  # `PUT /_control/clock`: a warehouse whose clock is off; kept on reset
        self.state = self._new_state(settings)
        self.delivery = DeliveryWorker(settings, lambda sub_id: sub_id in self.state.subscriptions)
        self._api_rng = random.Random(f"{settings.seed}:api")

    def now(self) -> datetime:
        return self.settings.clock() + timedelta(seconds=self.clock_offset_s)

    def set_clock_offset(self, offset_s: float) -> None:
        self.clock_offset_s = offset_s
        self.delivery.clock_offset_s = offset_s

    def _new_state(self, settings: ClarusSettings) -> ClarusState:
        state = ClarusState(settings.warehouses, self.now, settings.event_retention)
        if settings.webhook_url is not None:
            state.add_subscription(settings.webhook_url, settings.webhook_secret)
        return state

    async def reset(self, changes: dict[str, Any]) -> None:
        settings = self.settings.updated(changes)
        state = self._new_state(settings)
        await self.delivery.stop()
        self.settings, self.state = settings, state
        self._api_rng = random.Random(f"{settings.seed}:api")
        self.delivery.configure(settings)
        await self.delivery.start()

    def record(self, events: Sequence[AnyEvent]) -> None:
        self.delivery.enqueue(events, self.state.subscriptions.values())

    def create_times_out(self) -> bool:
        """Draw for one applied order create: answer it late (`create_timeout_rate`)? One draw per create."""
        return self._api_rng.random() < self.settings.faults.create_timeout_rate
