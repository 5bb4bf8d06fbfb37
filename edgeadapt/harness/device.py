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
from dataclasses import dataclass, field

from edgeadapt.errors import EdgeadaptError
from edgeadapt.harness.transport import LinkClosed
from edgeadapt.policy.config import KINDS
from edgeadapt.policy.intconfig import IntPolicyConfig

READY = "m-ready"
CMD_SIZE = 80  # EA_CMD_SIZE
RUN_BOTH = 2
LDC_MARK, LDC_ESC = 0x01, 0x7D  # EA_LDC_MARK, EA_LDC_ESC (firmware/protocol/ea_proto.h)
LDC_CHUNK_MIN, LDC_CHUNK_MAX = 16, 256
LDC_RECORD_MAX = LDC_CHUNK_MAX + 6  # EA_LDC_RECORD_MAX: unstuffed body bytes of one record
DEFAULT_CHUNK = 128  # docs/decisions.md D15
LDC_ADAPT_MIN = 32  # the smallest chunk the adaptation goes to


class LinkError(Exception):
    """A garbled, missing or unexpected reply; recoverable by resync and retry."""

    def __init__(self, message, executed=None):
        super().__init__(message)
        self.executed = executed  # did the command run on the device? (None: cannot tell)


class OutOfStep(LinkError):
    """`ea-step <frame>` refused: the device's sequence is at another frame (restore it)."""

    def __init__(self, message):
        super().__init__(message, executed=False)


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
    checked: bool = field(default=False, compare=False)  # the reply carried a matching m-step-crc

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
    channels: int = 1  # firmware before single-model exports (D18) reads greyscale only

    @property
    def frame_bytes(self) -> int:
        return self.height * self.width * self.channels


_STEP = re.compile(r"m-step-\[frame=(\d+),model=([012]),next=([01]),cycles=(\d+),policy_cycles=(\d+)\]")
_INTS = re.compile(r"-?\d+(?:,-?\d+)*")
_UINTS = re.compile(r"\d+(?:,\d+)*")
_POLICY = re.compile(
    r"m-policy-\[kind=([a-z-]+),n=(\d+),w=(-?\d+(?::-?\d+)*)?,t=(-?\d+),k=(\d+),rerun=(\d+),"
    r"aux=(\d+),at=(-?\d+),seed=(\d+),p=(\d+)"
    r"(?:,pn=(\d+),pc=(\d+(?::\d+)*),pa=(\d+),pk=(\d+(?::\d+)*),ps=(-?\d+(?::-?\d+)*),pb=(-?\d+(?::-?\d+)*),"
    r"ml=(\d+),mh=(\d+))?\]"
)
_KV = re.compile(r"([a-z_]+)=([^,\]]*)")
_LDC_STATE = re.compile(r"m-ldc-\[crc=([0-9a-f]{8}),left=(\d+),loaded=([01])\]")


class Device:
    """A device behind a transport. `log` (a writable text file or None) gets the whole transcript."""

    def __init__(self, transport, timeout=5.0, step_timeout=120.0, log=None, chunk=DEFAULT_CHUNK, window=None,
                 ldc_passes=24, ldc_opens=12, ldc_loads=3, adapt=True):
        """chunk: bytes per `ldc` chunk (16..256). window: chunk records sent before reading their
        replies (None: a whole pass at once, for links that buffer, as QEMU's and the host
        build's do; 1 for a board whose UART receive has no buffer). ldc_passes, ldc_opens and
        ldc_loads bound the retries of one frame load, and adapt lets its chunk size follow the
        link's damage rate (load_frame)."""
        if not LDC_CHUNK_MIN <= chunk <= LDC_CHUNK_MAX:
            raise EdgeadaptError(f"ldc chunk size must be {LDC_CHUNK_MIN}..{LDC_CHUNK_MAX}, got {chunk}")
        self.link = transport
        self.timeout = timeout
        self.step_timeout = step_timeout
        self.log = log
        self.info = None
        self.chunk = chunk
        self.chunk_max = chunk
        self.adapt = adapt
        self.window = window
        self.ldc_passes = ldc_passes
        self.ldc_opens = ldc_opens
        self.ldc_loads = ldc_loads
        self.ldc_stats = {"records": 0, "passes": 0, "loads_failed": 0}  # chunk records sent, ...
        self.resyncs = 0
        self.quiet = min(timeout, 0.15)  # silence that ends a reply already under way
        self.pending_binary = 0  # the largest `ld` payload sent on this link (resync must be able to end it)
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
            # the first line may take a model run; the rest of a reply follows at once, so a
            # silence after it means a damaged m-ready, not a slow device
            line = self.read_line(deadline) if not lines else self._line_or_none(deadline, self.quiet)
            if line is None:
                raise LinkError(f"{command.split()[0]}: no complete reply in time")
            if is_ready(line):
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
            if is_ready(line):
                return lines
            lines.append(line)

    def resync(self, flush_bytes=None, attempts=8) -> None:
        """Bring device and host back to a command boundary after a fault.

        The flush is newlines (skipped between commands; they also complete a pending binary load,
        which then fails its CRC, and make any half-received command longer than EA_CMD_SIZE and
        any half-received chunk record longer than EA_LDC_RECORD_MAX, so it is refused instead of
        run) and a '%'. flush_bytes: the largest `ld` payload that may be pending (None: the
        largest this Device sent; pass the frame size when attaching to a device in an unknown
        state). Then `ea-sync <nonce>` must come back with its nonce: everything before that
        echo is discarded. `ea-sync` changes nothing on the device, so a frame loaded with `ldc`
        stays loaded and an open `ldc` load stays open (a pending `ld` fails, as described).
        """
        self.resyncs += 1
        if flush_bytes is None:
            flush_bytes = self.pending_binary
        flush = b"\n" * (max(flush_bytes, CMD_SIZE, LDC_RECORD_MAX) + CMD_SIZE + 64) + b"%"
        for _ in range(attempts):
            nonce = self._nonce.randrange(1, 1 << 16)
            try:
                self.send(flush, f"<{len(flush) - 1} newlines>%")
                self._buf = b""
                self.send(f"ea-sync {nonce}%".encode(), f"ea-sync {nonce}")
                deadline = time.monotonic() + self.timeout + flush_bytes / 2000.0
                line = self.read_line(deadline)
                while line is not None and line != f"m-sync-[n={nonce}]":
                    line = self._line_or_none(deadline, self.quiet)
                if line is not None and is_ready(self._line_or_none(deadline, self.quiet)):
                    return
            except LinkError:
                continue
        raise LinkError(f"link does not resynchronize after {attempts} attempts")

    # ------------------------------------------------------------------ verbs

    def query_info(self) -> DeviceInfo:
        return self._parse_info(self.exchange("ea-info"))

    def _parse_info(self, lines) -> DeviceInfo:
        head = [line for line in lines if line.startswith("m-info-[")]
        models = [line for line in lines if line.startswith("m-info-model-[")]
        if len(head) != 1 or len(head) + len(models) != len(lines):
            raise LinkError(f"ea-info: unexpected reply {lines[:3]}", executed=True)
        fields = dict(_KV.findall(head[0][len("m-info-["):]))
        try:
            ints = {k: int(fields[k]) for k in ("cores", "hz", "height", "width", "arena", "cmd", "models")}
            if "channels" in fields:
                ints["channels"] = int(fields["channels"])
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

    def install_policy(self, config: IntPolicyConfig, command_lines: list, check=True) -> None:
        """Send `ea-policy` lines and check the device's read-back after the last equals config
        (check=False: only that it parses, for a line that is not the last). Resets the sequence."""
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
        if check and not same_policy(got, config):
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
        """Chunked binary load of one frame (`ldc`, docs/hil-protocol.md): only damaged chunks are
        sent again. LinkError (one line) when the frame is still not in after the bounded retries:
        `ldc_opens` tries of the `ldc` command, `ldc_loads` loads of at most `ldc_passes` passes
        over the missing chunks each.

        With `adapt`, the chunk size follows the link (D15): a load whose first pass got fewer
        than 30% of its records through starts again with chunks half as big (down to
        LDC_ADAPT_MIN); after a load, the chunk is halved if it took more than 1.5 records per
        chunk, doubled back (up to the size the Device was made with) if fewer than 1.1."""
        n, crc = len(frame), zlib.crc32(frame)
        reason, opens, loads = "?", 0, 0
        sent_before = self.ldc_stats["records"]
        while opens < self.ldc_opens and loads < self.ldc_loads:
            chunk = self.chunk
            records = ldc_records(frame, chunk)
            try:
                lines = self.exchange(f"ldc {n} {crc:08x} {chunk}")
                if lines != [f"m-ldc-ready-[{crc:08x}]"]:
                    raise LinkError(f"unexpected reply {[line[:40] for line in lines[:2]]}", executed=None)
            except LinkError as exc:
                reason = str(exc)
                opens += 1
                self.resync()
                continue
            try:
                result = self._ldc_send(records, crc, chunk)
            except LinkError as exc:
                result, reason = False, str(exc)
            if result is True:
                if self.adapt:
                    per_chunk = (self.ldc_stats["records"] - sent_before) / len(records)
                    if per_chunk > 1.5 and chunk > LDC_ADAPT_MIN:
                        self.chunk = max(LDC_ADAPT_MIN, chunk // 2)
                    elif per_chunk < 1.1 and chunk < self.chunk_max:
                        self.chunk = min(self.chunk_max, chunk * 2)
                return
            if result == "smaller":
                self.chunk = max(LDC_ADAPT_MIN, chunk // 2)
                continue
            if result is False and reason == "?":
                reason = f"chunks still missing after {self.ldc_passes} passes"
            loads += 1
            self.ldc_stats["loads_failed"] += 1
            self.resync()
        raise LinkError(f"ldc: frame not loaded ({opens} failed opens, {loads} failed loads; {reason})",
                        executed=None)

    def _ldc_send(self, records, crc, chunk):
        """Send the chunk records of an open load until the device has the frame (True); False
        after ldc_passes passes, "smaller" if the chunks should be smaller (load_frame). Each pass
        ends with `ldc%`, whose state line marks the end of the pass's replies and says whether
        the frame is in (when m-load-done itself was damaged)."""
        acks = {ack: i for i, (_, ack) in enumerate(records)}
        missing = set(range(len(records)))
        for p in range(self.ldc_passes):
            order = sorted(missing)
            window = self.window or max(1, len(order))
            groups = [order[g:g + window] for g in range(0, len(order), window)] or [[]]
            for k, group in enumerate(groups):
                last = k == len(groups) - 1
                group = [i for i in group if i in missing]
                data = b"".join(records[i][0] for i in group) + (b"ldc%" if last else b"")
                if not data:
                    continue
                self.ldc_stats["records"] += len(group)
                note = f"<ldc records {group[0]}..{group[-1]} ({len(group)}, {len(data)} bytes)>" if group else ""
                self.send(data, note + (" ldc" if last else ""))
                state = self._ldc_replies(acks, missing, len(group) + last, len(data), crc)
                if state == "done":
                    return True
                if state == "check":  # the state line says more than "still open": make sure of it
                    lines = self.confirmed(lambda: self.exchange("ldc"))
                    m = _LDC_STATE.fullmatch(lines[0]) if len(lines) == 1 else None
                    if m is None:
                        raise LinkError(f"unexpected state reply {[line[:40] for line in lines[:2]]}")
                    if m.group(1) == f"{crc:08x}" and m.group(3) == "1":
                        return True
                    if m.group(1) != f"{crc:08x}" or m.group(2) == "0":
                        raise LinkError("the load was ended on the device", executed=None)
                    if not missing:
                        missing = set(range(len(records)))  # an acknowledgement was false: resend all
            self.ldc_stats["passes"] += 1
            if p == 0 and self.adapt and chunk > LDC_ADAPT_MIN and len(records) - len(missing) < 0.3 * len(order):
                return "smaller"  # most records were damaged: smaller ones get through more often
        return False

    def _ldc_replies(self, acks, missing, replies, nbytes, crc):
        """Read the replies to `replies` records and commands: acknowledged chunks leave `missing`.
        Returns "done" (m-load-done: the frame is in), "check" (the state line of `ldc%` says the
        frame is in, or the load is not open, or chunks the host saw acknowledged are missing: a
        damaged digit can say so too, so the caller reads it again) or None. Ends at the state
        line, after one m-ready per reply, or when the link is quiet."""
        deadline = time.monotonic() + self.timeout + nbytes / 2000.0
        quiet = self.quiet
        readies, done, verdict = 0, False, None
        pending = []
        while readies < replies:  # after m-load-done too: the replies left must not reach the next command
            if not pending:
                line = self._line_or_none(deadline, quiet)
                if line is None:
                    break
                pending = line.split("\r")  # a lone '\r' is the end of a line whose '\n' was lost
            line = pending.pop(0)
            if is_ready(line):
                readies += 1
                if verdict is not None:
                    break  # the m-ready of the state line: nothing of this pass is left
            elif line == "m-load-done":
                missing.clear()
                done = True
            elif line.startswith("m-ldc-ok-"):
                i = acks.get(line[len("m-ldc-ok-"):])
                if i is not None:
                    missing.discard(i)
            elif line.startswith("e-[CRC mismatch") and not done:
                missing.update(acks.values())  # the device starts the frame over
            elif (m := _LDC_STATE.fullmatch(line)) is not None:
                same, left, loaded = m.group(1) == f"{crc:08x}", int(m.group(2)), m.group(3) == "1"
                verdict = "check" if loaded or not same or left == 0 or not missing else "open"
        if done:
            return "done"
        return None if verdict == "open" else verdict

    def _line_or_none(self, deadline, quiet):
        """The next line, or None when nothing arrives for `quiet` seconds or the deadline passes."""
        last = time.monotonic()
        while b"\n" not in self._buf:
            now = time.monotonic()
            left = min(deadline, last + quiet) - now
            if left <= 0:
                return None
            data = self.link.read(4096, min(left, 0.05))
            if data:
                self._buf += data
                last = time.monotonic()
        raw, self._buf = self._buf.split(b"\n", 1)
        line = raw.rstrip(b"\r").decode("latin-1")
        self._note("<", line)
        return line

    def load_frame_ld(self, frame: bytes) -> None:
        """Binary load of one frame in one piece (`ld <n> <crc32>`); the device checks the CRC.
        A single damaged byte fails the whole frame: for clean links and tests of `ld` itself."""
        n, crc = len(frame), zlib.crc32(frame)
        self.pending_binary = max(self.pending_binary, n)
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

    def step(self, frame=None) -> Step:
        """Run one frame of the sequence (`ea-step`, or `ea-step <frame>`) and parse its reply.
        With a frame index the command is repeatable: sent again after frame ran, it reports
        frame again without running anything."""
        text = "ea-step" if frame is None else f"ea-step {frame}"
        lines = self.exchange(text, timeout=self.step_timeout)
        if lines and lines[0].startswith("e-["):
            if lines[0].startswith("e-[Model run failed"):
                raise DeviceError(f"device: {lines[0]}")
            m = re.fullmatch(r"e-\[ea-step: frame (\d+) is not next \(next is (\d+)\), nothing run\]", lines[0])
            if m and frame is not None and int(m.group(1)) == frame:
                raise OutOfStep(f"ea-step {frame}: the device is at frame {m.group(2)}")
            raise LinkError(f"ea-step: {lines[0][:60]}", executed=False)
        step = parse_step(lines)
        if frame is not None and step.frame != frame:
            raise LinkError(f"ea-step {frame}: reply for frame {step.frame}", executed=None)
        return step

    def confirmed_step(self, frame, attempts=24) -> Step:
        """Frame `frame` of the sequence, run once: `ea-step <frame>` until one reading passes its
        m-step-crc (firmware without the checksum line: until two readings agree), so a damaged
        digit that still parses is never taken. OutOfStep if the device is elsewhere in the
        sequence (the caller restores it); LinkError after `attempts` tries."""
        return self.confirmed(lambda: self.step(frame), attempts, what=f"ea-step {frame}: ",
                              trusted=lambda step: step.checked)

    def confirmed(self, fn, attempts=24, what="", trusted=lambda value: False):
        """fn() (a read-only query) until two results agree, or one is trusted (it carried its own
        checksum), resynchronizing after link faults. OutOfStep is not a fault of the link: it goes
        to the caller at once."""
        readings, last = [], None
        for _ in range(attempts):
            try:
                value = fn()
            except OutOfStep:
                raise
            except LinkError as exc:
                last = exc
                self.resync()
                continue
            if trusted(value) or value in readings:
                return value
            readings.append(value)
        raise LinkError(f"{what}no two agreeing readings in {attempts} tries ({last})", executed=None)

    def confirmed_info(self, attempts=60) -> DeviceInfo:
        """ea-info with every reply line read identically twice (over as many tries as it takes):
        the model FLs and sizes are checked against the export, so a damaged digit must not pass."""
        seen, got, last = {}, {}, None
        for _ in range(attempts):
            try:
                lines = self.exchange("ea-info")
            except LinkError as exc:
                last = exc
                self.resync()
                continue
            for line in lines:
                m = re.match(r"m-info-(?:model-\[id=(\d+),|\[)", line)
                if m is None or not _printable(line):
                    continue
                key = -1 if m.group(1) is None else int(m.group(1))
                seen[(key, line)] = seen.get((key, line), 0) + 1
                if seen[(key, line)] == 2:
                    got.setdefault(key, line)
            head = got.get(-1)
            if head is not None:
                n = dict(_KV.findall(head)).get("models", "")
                if n.isdigit() and all(i in got for i in range(int(n))):
                    return self._parse_info([head] + [got[i] for i in range(int(n))])
        raise LinkError(f"ea-info: no two agreeing readings in {attempts} tries ({last})", executed=True)

def parse_step(lines: list) -> Step:
    """A Step from the reply lines of ea-step: m-step, m-outputs, m-core-cycles and, from firmware
    that sends it, m-step-crc (CRC-32 of the three lines, each as text + '\n'). LinkError if they
    are not exactly right or the checksum disagrees."""
    checked = len(lines) == 4
    if checked:
        crc = re.fullmatch(r"m-step-crc-\[([0-9a-f]{8})\]", lines[3])
        text = "".join(line + "\n" for line in lines[:3]).encode("latin-1")
        if crc is None or int(crc.group(1), 16) != zlib.crc32(text):
            raise LinkError(f"ea-step: reply checksum mismatch ({lines[3][:30]!r})", executed=True)
    elif len(lines) != 3:
        raise LinkError(f"ea-step: expected 4 reply lines, got {len(lines)}", executed=True)
    m = _STEP.fullmatch(lines[0])
    outputs = _bracketed(lines[1], "m-outputs-[", _INTS)
    cores = _bracketed(lines[2], "m-core-cycles-[", _UINTS)
    if m is None or outputs is None or cores is None:
        raise LinkError(f"ea-step: malformed reply {lines[0][:60]!r}", executed=True)
    frame, model, nxt, cycles, pcycles = (int(g) for g in m.groups())
    return Step(frame, model, nxt, cycles, pcycles, outputs, cores, checked)


def parse_policy_line(line: str) -> IntPolicyConfig:
    m = _POLICY.fullmatch(line)
    if m is None or m.group(1) not in KINDS:
        raise LinkError(f"ea-policy: malformed reply {line[:60]!r}", executed=None)
    kind, n, w, t, k, rerun, aux, at, seed, p = m.groups()[:10]
    weights = tuple(int(x) for x in w.split(":")) if w else ()
    n = int(n)
    part = {}
    if m.group(11) is not None and kind == "partition":  # other kinds ignore the (stale) partition fields
        pn, pc, pa, pk, ps, pb, ml, mh = m.groups()[10:]
        pn = min(int(pn), 3)
        ncut = tuple(int(x) for x in pk.split(":"))[:pn]
        cuts = []
        for flat in (ps, pb):
            v = [int(x) for x in flat.split(":")]
            if len(v) != 9:
                raise LinkError(f"ea-policy: malformed partition cuts in {line[:60]!r}", executed=None)
            cuts.append(tuple(tuple(v[3 * i: 3 * i + ncut[i]]) for i in range(len(ncut))))
        part = {"part_n": pn, "part_channel": tuple(int(x) for x in pc.split(":"))[:pn], "part_abs": int(pa),
                "part_ncut": ncut, "part_cut": tuple(cuts), "part_mask": int(ml) | int(mh) << 32}
    return IntPolicyConfig(kind=KINDS.index(kind), num_channels=n, weight=weights[:n], threshold=int(t),
                           aux_index=int(aux), aux_threshold=int(at), k=int(k), rerun=int(rerun),
                           seed=int(seed), p_big=int(p), **part)


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
    if name == "partition":
        fields = ("part_n", "part_channel", "part_abs", "part_ncut", "part_cut", "part_mask")
        return all(getattr(a, f) == getattr(b, f) for f in fields)
    return True


def _bracketed(line, prefix, pattern):
    if not (line.startswith(prefix) and line.endswith("]")):
        return None
    body = line[len(prefix):-1]
    if not pattern.fullmatch(body):
        return None
    return tuple(int(v) for v in body.split(","))


def is_ready(line) -> bool:
    """m-ready, or a line that can only be a damaged m-ready (one byte changed, dropped or added):
    every other reply line is longer. Taking it as the end of a reply costs nothing, as the lines
    before it are still checked strictly."""
    if line is None or not 6 <= len(line) <= 8:
        return False
    if len(line) == len(READY):
        return sum(a != b for a, b in zip(line, READY)) <= 1
    short, long_ = sorted((line, READY), key=len)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def _printable(line: str) -> bool:
    return all(" " <= c <= "~" for c in line)


def ldc_records(frame: bytes, chunk: int) -> list:
    """(record bytes, acknowledgement) per chunk of frame for `ldc <n> <crc> <chunk>`.

    A record is EA_LDC_MARK, then the body byte-stuffed ('%' and EA_LDC_ESC become EA_LDC_ESC,
    byte ^ 0x20), then '%%': the second '%' ends a record whose own '%' was lost, and is a silent
    blank command otherwise. Body: payload, its CRC-32 (little-endian; seeded with the frame's
    CRC and covering the index too), the index as two bytes with bit 7 set. The acknowledgement is
    the device's `m-ldc-ok-<crc>` suffix.
    """
    frame = bytes(frame)
    if not LDC_CHUNK_MIN <= chunk <= LDC_CHUNK_MAX or -(-len(frame) // chunk) > 1 << 14:
        raise EdgeadaptError(f"ldc: cannot cut {len(frame)} bytes into chunks of {chunk}")
    seed = zlib.crc32(frame)
    out = []
    for i, start in enumerate(range(0, len(frame), chunk)):
        payload = frame[start:start + chunk]
        index = bytes([0x80 | (i >> 7), 0x80 | (i & 0x7F)])
        crc = zlib.crc32(index, zlib.crc32(payload, seed))
        body = payload + crc.to_bytes(4, "little") + index
        stuffed = body.replace(b"\x7d", b"\x7d\x5d").replace(b"%", b"\x7d\x05")
        out.append((bytes([LDC_MARK]) + stuffed + b"%%", f"{crc:08x}"))
    return out


__all__ = ["Device", "DeviceError", "DeviceInfo", "LinkClosed", "LinkError", "OutOfStep", "Step", "ldc_records",
           "parse_step"]
