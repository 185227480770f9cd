"""Per-model admission on the client's event loop: calls in flight, requests per minute, back-off.

Each model has its own gate, so a model that answers 429 or times out waits alone while the
other models go on. A rate-limited or timed-out call closes its model's gate until
`max(Retry-After, base * 2**n)` (with jitter) has passed; the next answer that arrives opens it
again and resets n.
"""
from __future__ import annotations

import asyncio
import random
import time

BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 60.0


class ModelGate:
    def __init__(self, max_in_flight: int | None, requests_per_minute: float | None, rng: random.Random) -> None:
        self.max_in_flight = max_in_flight
        self.interval = 60.0 / requests_per_minute if requests_per_minute else 0.0
        self.rng = rng
        self.in_flight = 0
        self.next_start = 0.0  # monotonic time the next request may start (rate limit and back-off)
        self.failures = 0  # consecutive rate limits / timeouts
        self._slots: asyncio.Semaphore | None = None

    async def __aenter__(self) -> "ModelGate":
        if self.max_in_flight:
            if self._slots is None:  # made on the loop that uses it
                self._slots = asyncio.Semaphore(self.max_in_flight)
            await self._slots.acquire()
        try:
            while True:
                now = time.monotonic()
                if now >= self.next_start:
                    break
                await asyncio.sleep(self.next_start - now)
            self.next_start = max(self.next_start, time.monotonic()) + self.interval
        except BaseException:
            if self._slots is not None:
                self._slots.release()
            raise
        self.in_flight += 1
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.in_flight -= 1
        if self._slots is not None:
            self._slots.release()

    def back_off(self, retry_after: float | None) -> float:
        """Close the gate after a 429 or a timeout; returns the seconds until it opens."""
        self.failures += 1
        delay = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (self.failures - 1)) * (0.5 + self.rng.random())
        delay = max(delay, retry_after or 0.0)
        self.next_start = max(self.next_start, time.monotonic() + delay)
        return delay

    def answered(self) -> None:
        self.failures = 0
