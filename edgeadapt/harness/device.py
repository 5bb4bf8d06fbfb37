"""The host side of the HIL protocol (firmware/protocol/, docs/hil-protocol.md), one method per verb.

Commands are ASCII text ending with '%'; the device answers with `m-...` / `e-[...]` lines and
then exactly one `m-ready`. Every reply is parsed strictly: a line that is not printable ASCII or
does not have its verb's exact form raises LinkError, as does a reply that does not arrive in
time. LinkError means "the link garbled something": the caller resynchronizes (resync) and
retries. `LinkError.executed` says whether the command may have run on the device (None: unknown),
which matters for commands that change state (ea-step advances the policy).

A problem the device reports about itself (a model run failing, a policy it refuses) is a
DeviceError, which no retry fixes.
"""

import random
import re
import time
import zlib
from dataclasses import dataclass

from edgeadapt.errors import EdgeadaptError
from edgeadapt.harness.transport import LinkClosed
from edgeadapt.policy.config import KINDS
from edgeadapt.policy.intconfig import IntPolicyConfig

READY = "m-ready"
CMD_SIZE = 80  # EA_CMD_SIZE
RUN_BOTH = 2


class LinkError(Exception):
    """A garbled, missing or unexpected reply; recoverable by resync and retry."""

    def __init__(self, message, executed=None):
        super().__init__(message)
        self.executed = executed  # did the command run on the device? (None: cannot tell)


class DeviceError(EdgeadaptError):
    """The device itself reported a failure that retrying cannot fix."""


@dataclass(frozen=True)
class Step:
    """One `ea-step` reply: frame index since the last reset, model(s) run, the next model, cycles."""

    frame: int
    model: int  # 0 small, 1 big, 2 small then big (policy rerun)
    next_model: int
    cycles: int  # ea_hal_cycles spent in the model run(s)
    policy_cycles: int  # ea_hal_cycles spent deciding
    outputs: tuple  # raw int32 outputs of out_model
    core_cycles: tuple

    @property
    def out_model(self) -> int:
        return 1 if self.model == RUN_BOTH else self.model


@dataclass(frozen=True)
class DeviceInfo:
    target: str
    cores: int
    hz: int
    height: int
    width: int
    arena: int
    cmd: int
    models: tuple  # per model id: {"id", "name", "layers", "outputs", "fl", "macs", "weights"}

    @property
    def frame_bytes(self) -> int:
        return self.height * self.width


_STEP = re.compile(r"m-step-\[frame=(\d+),model=([012]),next=([01]),cycles=(\d+),policy_cycles=(\d+)\]")
_INTS = re.compile(r"-?\d+(?:,-?\d+)*")
_UINTS = re.compile(r"\d+(?:,\d+)*")
_POLICY = re.compile(
    r"m-policy-\[kind=([a-z-]+),n=(\d+),w=(-?\d+(?::-?\d+)*)?,t=(-?\d+),k=(\d+),rerun=(\d+),"
    r"aux=(\d+),at=(-?\d+),seed=(\d+),p=(\d+)\]"
)
_KV = re.compile(r"([a-z_]+)=([^,\]]*)")


class Device:
    """A device behind a transport. `log` (a writable text file or None) gets the whole transcript."""

    def __init__(self, transport, timeout=5.0, step_timeout=120.0, log=None):
        self.link = transport
        self.timeout = timeout
        self.step_timeout = step_timeout
        self.log = log
        self.info = None
        self._buf = b""
        self._nonce = random.Random(0x5EED)

    # ------------------------------------------------------------------ raw lines

    def _note(self, prefix, text):
        if self.log is not None:
            self.log.write(f"{prefix} {text}\n")

    def send(self, data: bytes, note=None) -> None:
        self._note(">", note if note is not None else data.decode("latin-1"))
        self.link.write(data)

    def read_line(self, deadline: float) -> str:
        """The next line (without its \\r\\n); LinkError when none completes before the deadline."""
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise LinkError("no reply in time")
            self._buf += self.link.read(4096, min(left, 0.5))
        raw, self._buf = self._buf.split(b"\n", 1)
        line = raw.rstrip(b"\r").decode("latin-1")
        self._note("<", line)
        return line

    def exchange(self, command: str, timeout=None, executed_on_error=None) -> list:
        """Send `command%` and return the reply lines before m-ready.

        A garbled line is remembered and LinkError raised once m-ready arrives (so the stream
        stays aligned on the next command). executed_on_error: what LinkError.executed says when
        the device answered with an error line (it normally did not run the command).
        """
        if len(command) > CMD_SIZE:
            raise EdgeadaptError(f"command longer than {CMD_SIZE} characters: {command[:40]}...")
        self.send(command.encode() + b"%", command)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        lines, garbled = [], None
        while True:
            try:
                line = self.read_line(deadline)
            except LinkError:
                raise LinkError(f"{command.split()[0]}: no complete reply in time") from None
            if line == READY:
                break
            if not _printable(line):
                garbled = garbled or line
            lines.append(line)
        if garbled is not None:
            raise LinkError(f"{command.split()[0]}: garbled reply line {garbled[:60]!r}")
        return lines

    def drain(self, quiet=0.2) -> None:
        """Discard input until nothing arrives for `quiet` seconds."""
        self._buf = b""
        while self.link.read(4096, quiet):
            pass

    # ------------------------------------------------------------------ synchronization

    def wait_banner(self, timeout=30.0) -> list:
        """The boot lines, up to the first m-ready (m-timestamp-mode-..., m-init-done, m-ready)."""
        deadline = time.monotonic() + timeout
        lines = []
        while True:
            try:
                line = self.read_line(deadline)
            except LinkError:
                raise LinkError(f"no boot banner within {timeout:.0f} s (got {lines[-3:]})") from None
            if line == READY:
                return lines
            lines.append(line)

    def resync(self, flush_bytes: int, attempts=5) -> None:
        """Bring device and host back to a command boundary after a fault.

        The flush is newlines (skipped between commands; they also complete a pending binary load,
        which then fails its CRC, and make any half-received command longer than EA_CMD_SIZE, so
        it is refused instead of run) and a '%'. Then `db load <nonce>` must come back with its
        nonce: everything before that echo is discarded. `db load` only arms the hex loader,
        which the harness never feeds; the frame must be reloaded after a resync anyway.
        """
        flush = b"\n" * (max(flush_bytes, CMD_SIZE) + CMD_SIZE + 64) + b"%"
        limit = self.info.frame_bytes if self.info else 64  # db load N needs N <= frame bytes
        for _ in range(attempts):
            nonce = self._nonce.randrange(1, limit + 1)
            try:
                self.send(flush, f"<{len(flush) - 1} newlines>%")
                self._buf = b""
                self.send(f"db load {nonce}%".encode(), f"db load {nonce}")
                deadline = time.monotonic() + self.timeout + flush_bytes / 2000.0
                while self.read_line(deadline) != f"m-[Expecting {nonce} bytes]":
                    pass
                if self.read_line(deadline) == READY:
                    return
            except LinkError:
                continue
        raise LinkError(f"link does not resynchronize after {attempts} attempts")

    # ------------------------------------------------------------------ verbs

    def query_info(self) -> DeviceInfo:
        lines = self.exchange("ea-info")
        head = [line for line in lines if line.startswith("m-info-[")]
        models = [line for line in lines if line.startswith("m-info-model-[")]
        if len(head) != 1 or len(head) + len(models) != len(lines):
            raise LinkError(f"ea-info: unexpected reply {lines[:3]}", executed=True)
        fields = dict(_KV.findall(head[0][len("m-info-["):]))
        try:
            ints = {k: int(fields[k]) for k in ("cores", "hz", "height", "width", "arena", "cmd", "models")}
            parsed = []
            for line in models:
                m = dict(_KV.findall(line[len("m-info-model-["):]))
                parsed.append({
                    "id": int(m["id"]), "name": m["name"], "layers": int(m["layers"]),
                    "outputs": int(m["outputs"]), "fl": [int(f) for f in m["fl"].split(":")],
                    "macs": int(m["macs"]), "weights": int(m["weights"]),
                })
        except (KeyError, ValueError) as exc:
            raise LinkError(f"ea-info: malformed reply ({exc})", executed=True) from None
        if [m["id"] for m in parsed] != list(range(ints["models"])):
            raise LinkError("ea-info: model lines missing", executed=True)
        self.info = DeviceInfo(target=fields.get("target", "?"), models=tuple(parsed), **{
            k: v for k, v in ints.items() if k != "models"})
        return self.info

    def select(self, which: str) -> None:
        lines = self.exchange(f"ea-select {which}")
        if lines != [f"m-select-[{which}]"]:
            raise LinkError(f"ea-select {which}: unexpected reply {lines}", executed=None)

    def reset(self) -> int:
        lines = self.exchange("ea-reset")
        m = re.fullmatch(r"m-reset-\[next=([01])\]", lines[0]) if len(lines) == 1 else None
        if not m:
            raise LinkError(f"ea-reset: unexpected reply {lines}", executed=None)
        return int(m.group(1))

    def timestamp_us(self) -> int:
        lines = self.exchange("timestamp")
        m = re.fullmatch(r"m-lap-us-(\d+)", lines[0]) if len(lines) == 1 else None
        if not m:
            raise LinkError(f"timestamp: unexpected reply {lines}", executed=False)
        return int(m.group(1))

    def policy(self) -> IntPolicyConfig:
        """The policy the device runs now (as the firmware prints it)."""
        lines = self.exchange("ea-policy")
        if len(lines) != 1:
            raise LinkError(f"ea-policy: unexpected reply {lines}", executed=False)
        return parse_policy_line(lines[0])

    def baked_policy(self) -> IntPolicyConfig:
        """Reinstate the policy baked in at export (`ea-policy default`) and return it."""
        lines = self.exchange("ea-policy default")
        if len(lines) != 1:
            raise LinkError(f"ea-policy default: unexpected reply {lines}", executed=None)
        return parse_policy_line(lines[0])

    def install_policy(self, config: IntPolicyConfig, command_lines: list) -> None:
        """Send `ea-policy` lines and check the device's read-back equals config (resets the sequence)."""
        last = None
        for text in command_lines:
            lines = self.exchange(text)
            errors = [line for line in lines if line.startswith("e-[")]
            if errors:
                if "refused" in errors[0]:
                    raise DeviceError(f"device refused the policy: {errors[0]}")
                raise LinkError(f"{text.split()[0]}: {errors[0]}", executed=None)
            if len(lines) != 1:
                raise LinkError(f"ea-policy: unexpected reply {lines}", executed=None)
            last = lines[0]
        got = parse_policy_line(last)
        if not same_policy(got, config):
            raise LinkError(f"policy read back differs: {last}", executed=None)

    def decide(self, model: int, outputs) -> tuple:
        """Feed recorded outputs to the device's policy: (next model, rerun flag)."""
        text = f"ea-decide {model} " + ",".join(str(int(v)) for v in outputs)
        lines = self.exchange(text)
        m = re.fullmatch(r"m-decide-\[next=([01]),rerun=([01])\]", lines[0]) if len(lines) == 1 else None
        if not m:
            # the harness only sends well-formed decisions: a refusal means the command was garbled
            executed = False if lines and lines[0].startswith("e-[") else None
            raise LinkError(f"ea-decide: unexpected reply {lines}", executed=executed)
        return int(m.group(1)), int(m.group(2))

    def load_frame(self, frame: bytes) -> None:
        """Binary load of one frame (`ld <n> <crc32>`); the device checks the CRC."""
        n, crc = len(frame), zlib.crc32(frame)
        self.send(f"ld {n} {crc:08x}%".encode(), f"ld {n} {crc:08x}")
        deadline = time.monotonic() + self.timeout
        first = self.read_line(deadline)
        if first != f"m-ld-ready-[bytes={n}]":
            # a refused (garbled) ld ends with m-ready; anything else may leave the device in binary mode
            raise LinkError(f"ld: unexpected reply {first[:60]!r}", executed=None)
        self.send(frame, f"<{n} bytes, crc {crc:08x}>")
        deadline = time.monotonic() + self.timeout + n / 2000.0  # emulated UARTs move ~20 KiB/s
        lines = []
        while (line := self.read_line(deadline)) != READY:
            lines.append(line)
        if lines != ["m-load-done"]:
            raise LinkError(f"ld: frame not loaded: {lines[:2]}", executed=False)

    def step(self) -> Step:
        """Run one frame of the sequence (`ea-step`) and parse its reply."""
        lines = self.exchange("ea-step", timeout=self.step_timeout)
        if lines and lines[0].startswith("e-["):
            if lines[0].startswith("e-[Model run failed"):
                raise DeviceError(f"device: {lines[0]}")
            raise LinkError(f"ea-step: {lines[0]}", executed=False)
        return parse_step(lines)


def parse_step(lines: list) -> Step:
    """A Step from the three reply lines of ea-step; LinkError if they are not exactly right."""
    if len(lines) != 3:
        raise LinkError(f"ea-step: expected 3 reply lines, got {len(lines)}", executed=True)
    m = _STEP.fullmatch(lines[0])
    outputs = _bracketed(lines[1], "m-outputs-[", _INTS)
    cores = _bracketed(lines[2], "m-core-cycles-[", _UINTS)
    if m is None or outputs is None or cores is None:
        raise LinkError(f"ea-step: malformed reply {lines[0][:60]!r}", executed=True)
    frame, model, nxt, cycles, pcycles = (int(g) for g in m.groups())
    return Step(frame, model, nxt, cycles, pcycles, outputs, cores)


def parse_policy_line(line: str) -> IntPolicyConfig:
    m = _POLICY.fullmatch(line)
    if m is None or m.group(1) not in KINDS:
        raise LinkError(f"ea-policy: malformed reply {line[:60]!r}", executed=None)
    kind, n, w, t, k, rerun, aux, at, seed, p = m.groups()
    weights = tuple(int(x) for x in w.split(":")) if w else ()
    n = int(n)
    return IntPolicyConfig(kind=KINDS.index(kind), num_channels=n, weight=weights[:n], threshold=int(t),
                           aux_index=int(aux), aux_threshold=int(at), k=int(k), rerun=int(rerun),
                           seed=int(seed), p_big=int(p))


def same_policy(a: IntPolicyConfig, b: IntPolicyConfig) -> bool:
    """Equal in every field the kind uses (the firmware keeps unused fields from earlier policies)."""
    if a.kind != b.kind:
        return False
    name = KINDS[a.kind]
    if name == "random":
        return (a.seed, a.p_big) == (b.seed, b.p_big)
    if name == "temporal":
        return (a.num_channels, tuple(a.weight), a.threshold, a.k, a.rerun) == (
            b.num_channels, tuple(b.weight), b.threshold, b.k, b.rerun)
    if name == "aux":
        return (a.aux_index, a.aux_threshold, a.k, a.rerun) == (b.aux_index, b.aux_threshold, b.k, b.rerun)
    return True


def _bracketed(line, prefix, pattern):
    if not (line.startswith(prefix) and line.endswith("]")):
        return None
    body = line[len(prefix):-1]
    if not pattern.fullmatch(body):
        return None
    return tuple(int(v) for v in body.split(","))


def _printable(line: str) -> bool:
    return all(" " <= c <= "~" for c in line)


__all__ = ["Device", "DeviceError", "DeviceInfo", "LinkClosed", "LinkError", "Step", "parse_step"]
