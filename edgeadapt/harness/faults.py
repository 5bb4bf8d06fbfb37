"""A fault-injecting transport: corrupts or drops bytes on the link, reproducibly (seeded).

Two fault models (`per`):

- ``per="byte"``: every byte crossing the link, in either direction, is independently corrupted
  (replaced by another value) or dropped with probability `rate`. This is a noisy wire; at 1% a
  160x96 frame sent in one piece would essentially never arrive intact (0.99^15360 ~ 1e-67),
  which is why frames move in small CRC-checked chunks (`ldc`, docs/hil-protocol.md). Each
  direction draws from its own generator, so one direction's traffic never shifts the other's
  faults, and the gap to the next fault is drawn directly (geometric), so a 15 KiB write costs
  a few draws, not 15,360.
- ``per="transfer"`` (the default, the older model): faults are drawn per *transfer*, each write
  (a command, a payload) and each reply line read back; a faulty transfer has exactly one byte
  corrupted or dropped.

The wrapper records every fault it injected (`events`), so a test can check that each kind of
damage happened in each direction and was then recovered from.
"""

import math
import random
from dataclasses import dataclass

from edgeadapt.harness.transport import Transport

KINDS = ("corrupt", "drop")
MODES = ("transfer", "byte")


@dataclass(frozen=True)
class FaultEvent:
    direction: str  # "tx" (host to device) or "rx"
    kind: str  # "corrupt" or "drop"
    transfer: int  # index of the transfer (write call, or reply line / read chunk) in its direction
    offset: int  # byte offset inside the transfer
    size: int  # bytes in the transfer
    position: int = -1  # byte offset in the direction's whole stream (per="byte")


class FaultyTransport(Transport):
    def __init__(self, inner: Transport, rate=0.01, seed=0, kinds=KINDS, directions=("tx", "rx"), schedule=None,
                 per="transfer"):
        """schedule: faults injected on top of the random ones, so a test can be sure every kind of
        damage happens whatever the random draws: {(direction, transfer index): kind} with
        per="transfer", {(direction, stream byte offset): kind} with per="byte"."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate must be in [0, 1], got {rate}")
        if per not in MODES:
            raise ValueError(f"fault model must be one of {', '.join(MODES)}, got {per!r}")
        self.inner = inner
        self.name = f"faulty({inner.name})"
        self.rate = rate
        self.per = per
        self.kinds = tuple(kinds)
        self.directions = tuple(directions)
        self.rng = random.Random(seed)
        self.schedule = dict(schedule or {})
        self.events = []
        self._counts = {"tx": 0, "rx": 0}  # transfers per direction
        self._bytes = {"tx": 0, "rx": 0}  # bytes per direction (before damage)
        self._partial = b""  # rx bytes of a line not finished yet (per transfer)
        self._ready = b""  # rx bytes already processed, not yet handed out (per transfer)
        # per byte: one generator per direction, and the stream offset of its next fault
        self._rngs = {d: random.Random(f"{seed}:{d}") for d in ("tx", "rx")}
        self._next = {d: self._gap(d, 0) for d in ("tx", "rx")}

    # ------------------------------------------------------------------ per byte

    def _gap(self, direction, base) -> int:
        """Stream offset of the first random fault at or after base (geometric gaps: p = rate per byte)."""
        if self.rate <= 0.0 or direction not in self.directions:
            return math.inf
        if self.rate >= 1.0:
            return base
        u = 1.0 - self._rngs[direction].random()  # (0, 1]
        return base + int(math.log(u) / math.log1p(-self.rate))

    def _damage_bytes(self, direction: str, data: bytes) -> bytes:
        index = self._counts[direction]
        self._counts[direction] += 1
        start = self._bytes[direction]
        end = start + len(data)
        self._bytes[direction] = end
        hits = {}
        while self._next[direction] < end:
            pos = self._next[direction]
            rng = self._rngs[direction]
            hits[pos] = (self.kinds[rng.randrange(len(self.kinds))], rng.randrange(1, 256))
            self._next[direction] = self._gap(direction, pos + 1)
        for (d, pos), kind in self.schedule.items():
            if d == direction and start <= pos < end:
                hits[pos] = (kind, hits.get(pos, (kind, 0x55))[1])
        if not hits:
            return data
        out = bytearray()
        last = 0
        for pos in sorted(hits):
            kind, value = hits[pos]
            offset = pos - start
            out += data[last:offset]
            if kind == "corrupt":
                out.append(data[offset] ^ value)
            last = offset + 1
            self.events.append(FaultEvent(direction, kind, index, offset, len(data), pos))
        out += data[last:]
        return bytes(out)

    # ------------------------------------------------------------------ per transfer

    def _damage(self, direction: str, data: bytes) -> bytes:
        index = self._counts[direction]
        self._counts[direction] += 1
        self._bytes[direction] += len(data)
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

    # ------------------------------------------------------------------ the transport

    def write(self, data: bytes) -> None:
        data = bytes(data)
        self.inner.write(self._damage_bytes("tx", data) if self.per == "byte" else self._damage("tx", data))

    def read(self, max_bytes: int, timeout: float) -> bytes:
        if self.per == "byte":
            chunk = self.inner.read(max_bytes, timeout)
            return self._damage_bytes("rx", chunk) if chunk else chunk
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
        """Counts of injected faults by direction and kind, and the traffic they were drawn on."""
        counts = {}
        for e in self.events:
            key = f"{e.direction}_{e.kind}"
            counts[key] = counts.get(key, 0) + 1
        return {"per": self.per, "rate": self.rate, "transfers": dict(self._counts), "bytes": dict(self._bytes),
                "faults": counts}
