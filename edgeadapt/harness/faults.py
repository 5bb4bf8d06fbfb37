"""A fault-injecting transport: corrupts or drops bytes on the link, reproducibly (seeded).

Faults are drawn per *transfer*, the unit a real link loses: each write (a command, or a frame's
binary payload) and each reply line read back. A faulty transfer has exactly one byte corrupted
(replaced by another value) or dropped. Drawing per byte instead would make a 15 KiB frame upload
fail almost surely at any useful rate (0.99^15360 ~ 1e-67), which tests nothing but the retry
limit; per transfer, a rate of 1% faults about one command, payload or reply line in a hundred.

The wrapper records every fault it injected (`events`), so a test can check that each kind of
damage was exercised and then recovered from.
"""

import random
from dataclasses import dataclass

from edgeadapt.harness.transport import Transport

KINDS = ("corrupt", "drop")


@dataclass(frozen=True)
class FaultEvent:
    direction: str  # "tx" (host to device) or "rx"
    kind: str  # "corrupt" or "drop"
    transfer: int  # index of the transfer in its direction
    offset: int  # byte offset inside the transfer
    size: int  # bytes in the transfer


class FaultyTransport(Transport):
    def __init__(self, inner: Transport, rate=0.01, seed=0, kinds=KINDS, directions=("tx", "rx"), schedule=None):
        """schedule: {(direction, transfer index): kind} faults injected on top of the random ones,
        so a test can be sure every kind of damage happens whatever the timing."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate must be in [0, 1], got {rate}")
        self.inner = inner
        self.name = f"faulty({inner.name})"
        self.rate = rate
        self.kinds = tuple(kinds)
        self.directions = tuple(directions)
        self.rng = random.Random(seed)
        self.schedule = dict(schedule or {})
        self.events = []
        self._counts = {"tx": 0, "rx": 0}
        self._partial = b""  # rx bytes of a line not finished yet
        self._ready = b""  # rx bytes already processed, not yet handed out

    def _damage(self, direction: str, data: bytes) -> bytes:
        index = self._counts[direction]
        self._counts[direction] += 1
        # draw every value even when unused, so one direction's traffic does not shift the other's faults
        hit = self.rng.random() < self.rate
        kind = self.kinds[self.rng.randrange(len(self.kinds))]
        where = self.rng.randrange(1 << 30)
        value = self.rng.randrange(1, 256)
        if (direction, index) in self.schedule:
            hit, kind = True, self.schedule[(direction, index)]
        elif direction not in self.directions:
            hit = False
        if not hit or not data:
            return data
        offset = where % len(data)
        self.events.append(FaultEvent(direction, kind, index, offset, len(data)))
        if kind == "drop":
            return data[:offset] + data[offset + 1:]
        return data[:offset] + bytes([data[offset] ^ value]) + data[offset + 1:]

    def write(self, data: bytes) -> None:
        self.inner.write(self._damage("tx", bytes(data)))

    def read(self, max_bytes: int, timeout: float) -> bytes:
        if not self._ready:
            chunk = self.inner.read(max_bytes, timeout)
            if chunk:
                self._partial += chunk
                while b"\n" in self._partial:
                    line, self._partial = self._partial.split(b"\n", 1)
                    self._ready += self._damage("rx", line + b"\n")
            elif self._partial:
                # a line that never ended (its newline was lost upstream): hand it out as it is
                self._ready, self._partial = self._partial, b""
        out, self._ready = self._ready[:max_bytes], self._ready[max_bytes:]
        return out

    def close(self) -> None:
        self.inner.close()

    def summary(self) -> dict:
        """Counts of injected faults by direction and kind."""
        counts = {}
        for e in self.events:
            key = f"{e.direction}_{e.kind}"
            counts[key] = counts.get(key, 0) + 1
        return {"transfers": dict(self._counts), "faults": counts, "rate": self.rate}
