"""The device side of the HIL protocol (docs/hil-protocol.md), driven over pipes on the host build.

This module also holds the helpers the other firmware tests import (build_host_firmware,
FirmwareHost, parse_fields): the host build of firmware/ with the hand-written fixture export
(firmware/tests/fixture_export/), compiled warning-free with -Werror.
"""

import fcntl
import os
import queue
import re
import shutil
import socket
import subprocess
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"
FIXTURE = FIRMWARE / "tests" / "fixture_export"
FRAME_H, FRAME_W = 96, 160
FRAME_BYTES = FRAME_H * FRAME_W
SANITIZE = "-fsanitize=address,undefined -fno-sanitize-recover=all"

pytestmark = pytest.mark.timeout(120)


# ------------------------------------------------------------------ helpers shared by the firmware tests


def build_host_firmware(dest_dir, name="test-fw-host", cflags="", export=FIXTURE, kernels=False):
    """Build the host firmware into build/<name> (serialized across concurrent test sessions) and
    copy the executable into dest_dir, so a later rebuild never swaps it under a running test.
    The fixture export calls no kernel, so firmware/kernels/ is left out unless kernels=True."""
    if shutil.which("gcc") is None or shutil.which("make") is None:
        pytest.skip("host gcc/make not installed")
    build = ROOT / "build" / name
    build.mkdir(parents=True, exist_ok=True)
    cmd = ["make", "-s", "-C", str(FIRMWARE), "TARGET=host", f"EXPORT={export}", f"BUILD={build}",
           f"CFLAGS+=-Werror {cflags}".strip()] + ([] if kernels else ["KERNEL_SRCS="])
    with open(build / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = subprocess.run(cmd, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        dest = Path(dest_dir) / f"{name}.elf"
        shutil.copy2(build / "edgeadapt-host.elf", dest)
    return dest


def sanitizers_available(tmp_dir) -> bool:
    src = Path(tmp_dir) / "probe.c"
    src.write_text("int main(void) { return 0; }\n")
    probe = subprocess.run(["gcc", *SANITIZE.split(), str(src), "-o", str(src.with_suffix(""))],
                           capture_output=True)
    return probe.returncode == 0


class FirmwareHost:
    """The host firmware as a subprocess: commands in on stdin, reply lines collected from stdout."""

    def __init__(self, exe, args=(), banner_timeout=10.0):
        self.proc = subprocess.Popen([str(exe), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, bufsize=0)
        self.lines = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.banner = self.read_until_ready(banner_timeout)

    def _read(self):
        for raw in self.proc.stdout:
            self.lines.put(raw.decode("latin-1").rstrip("\r\n"))
        self.lines.put(None)

    def send(self, data: bytes):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def read_line(self, timeout=10.0):
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"firmware silent for {timeout} s (hang?)") from None
        if line is None:
            raise AssertionError(f"firmware exited (code {self.proc.wait()}): {self.proc.stderr.read()[-2000:]!r}")
        return line

    def read_until_ready(self, timeout=10.0):
        """Lines up to (not including) the next m-ready."""
        out = []
        while (line := self.read_line(timeout)) != "m-ready":
            out.append(line)
        return out

    def command(self, text, timeout=10.0):
        self.send(text.encode() + b"%")
        return self.read_until_ready(timeout)

    def quiet(self, wait=0.3):
        """True when nothing arrives within wait seconds."""
        try:
            line = self.lines.get(timeout=wait)
        except queue.Empty:
            return True
        self.lines.put(line)
        return False

    def load_frame(self, frame: bytes):
        self.send(f"ld {len(frame)} {zlib.crc32(frame):08x}%".encode())
        assert self.read_line() == f"m-ld-ready-[bytes={len(frame)}]"
        self.send(frame)
        reply = self.read_until_ready()
        assert reply == ["m-load-done"], reply
        return reply

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            code = self.proc.wait(timeout=10)
        else:
            code = self.proc.returncode
        self.reader.join(timeout=5)
        return code


def parse_fields(line, prefix):
    """`m-step-[frame=3,model=0]` -> {'frame': '3', 'model': '0'} (prefix 'm-step')."""
    m = re.fullmatch(re.escape(prefix) + r"-\[(.*)\]", line)
    assert m, f"expected {prefix}-[...], got {line!r}"
    return dict(item.split("=", 1) for item in m.group(1).split(","))


def parse_list(line, prefix):
    m = re.fullmatch(re.escape(prefix) + r"-\[(.*)\]", line)
    assert m, f"expected {prefix}-[...], got {line!r}"
    return [int(v) for v in m.group(1).split(",")] if m.group(1) else []


def model_info(fw):
    """{id: {'name', 'layers', 'outputs', 'fl': [...]}} from ea-info."""
    lines = fw.command("ea-info")
    models = {}
    for line in lines[1:]:
        f = parse_fields(line, "m-info-model")
        models[int(f["id"])] = {"name": f["name"], "layers": int(f["layers"]), "outputs": int(f["outputs"]),
                                "fl": [int(v) for v in f["fl"].split(":")]}
    return parse_fields(lines[0], "m-info"), models


def random_frames(n, seed=0):
    """A synthetic sequence: a bright blob drifting on noise; now and then it jumps, changing place,
    size and brightness (the frames where a small model's output moves)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:FRAME_H, 0:FRAME_W]
    cx, cy, radius, amp = 80.0, 48.0, 14.0, 160.0
    frames = []
    for t in range(n):
        if t % 7 == 6:
            cx, cy = rng.uniform(20, 140), rng.uniform(15, 80)
            radius, amp = rng.uniform(6, 30), rng.uniform(60, 220)
        cx += rng.normal(0, 1.5)
        cy += rng.normal(0, 1.0)
        blob = amp * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * radius**2))
        img = 40 + blob + rng.normal(0, 6, size=(FRAME_H, FRAME_W))
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    return np.stack(frames)


def dequant3(q, fl):
    """The device's m-results formatting: q * 2^-fl rounded half up to 3 decimals."""
    mag = abs(q) * 1000
    milli = (mag + (1 << (fl - 1))) >> fl if fl > 0 else mag << min(-fl, 20)
    sign = "-" if q < 0 and milli else ""
    return f"{sign}{milli // 1000}.{milli % 1000:03d}"


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def host_exe(tmp_path_factory):
    return build_host_firmware(tmp_path_factory.mktemp("fw"))


@pytest.fixture
def fw(host_exe):
    device = FirmwareHost(host_exe)
    yield device
    assert device.close() == 0


# ------------------------------------------------------------------ the numpy twin of the fixture models


def _fixture_tables():
    text = (FIXTURE / "ea_model_fixture.c").read_text()
    tables = {}
    for name, body in re.findall(r"static const int8_t (\w+)\[\d+\] = \{([^}]*)\}", text):
        tables[name] = np.array([int(v) for v in body.replace("\n", " ").split(",") if v.strip()], np.int64)
    return tables


def _rshift_round(v, s):
    return (v + (1 << (s - 1))) >> s


def _conv3x3(x, w, cout, stride, shift):
    h, wd, cin = x.shape
    w = w.reshape(cout, 3, 3, cin)
    pad = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    ho, wo = (h - 1) // stride + 1, (wd - 1) // stride + 1
    acc = np.zeros((ho, wo, cout), np.int64)
    for ky in range(3):
        for kx in range(3):
            patch = pad[ky : ky + stride * ho : stride, kx : kx + stride * wo : stride, :]
            acc += np.einsum("hwi,oi->hwo", patch, w[:, ky, kx, :])
    return np.clip(_rshift_round(acc, shift), 0, 127)


def _head(x, fc, cout):
    n = x.shape[0] * x.shape[1]
    mult = (65536 + n // 2) // n
    pooled = np.clip(_rshift_round(x.reshape(n, -1).sum(0) * mult, 16), 0, 127)
    return pooled, fc.reshape(cout, -1) @ pooled


def fixture_reference(frame, model):
    """(outputs, [layer outputs as bytes]) of a fixture model in numpy (docs/fixed-point.md)."""
    t = _fixture_tables()
    x = frame.astype(np.int64)[:, :, None] - 128
    if model == 0:
        layers = [_conv3x3(x, t["small_w0"], 4, 2, 8)]
        layers.append(_conv3x3(layers[-1], t["small_w1"], 8, 2, 6))
        pooled, out = _head(layers[-1], t["small_fc"], 5)
    else:
        layers = [_conv3x3(x, t["big_w0"], 8, 2, 8)]
        layers.append(_conv3x3(layers[-1], t["big_w1"], 8, 1, 6))
        layers.append(_conv3x3(layers[-1], t["big_w2"], 8, 2, 6))
        pooled, out = _head(layers[-1], t["big_fc"], 4)
    dumps = [a.astype(np.int8).tobytes() for a in layers] + [pooled.astype(np.int8).tobytes(),
                                                              out.astype("<i4").tobytes()]
    return out.astype(np.int64), dumps


# ------------------------------------------------------------------ tests: framing and the EEMBC verbs


def test_banner_and_identity(fw):
    assert fw.banner == ["m-timestamp-mode-performance", "m-init-done"]
    assert fw.command("name") == ["m-name-dut-[edgeadapt-host]"]
    assert fw.command("profile") == ["m-profile-[ULPMark for tinyML Firmware V0.0.1]",
                                     "m-model-[fixture-small+fixture-big]"]
    helps = fw.command("help")
    assert len(helps) == 19 and all(h.startswith("m-help-[") for h in helps)
    info, models = model_info(fw)
    assert info["target"] == "host" and int(info["height"]) == 96 and int(info["width"]) == 160
    assert int(info["cmd"]) == 80 and int(info["arena"]) == 61440
    assert models[0] == {"name": "fixture-small", "layers": 4, "outputs": 5, "fl": [15, 15, 16, 15, 14]}
    assert models[1]["fl"] == [16, 16, 17, 16]


def test_whitespace_blank_commands_and_errors(fw):
    # leading whitespace and newlines are skipped; a blank command gets no reply at all
    fw.send(b"\r\n  \n%%  %")
    assert fw.quiet()
    assert fw.command("\n\r  name  ") == ["m-name-dut-[edgeadapt-host]"]
    assert fw.command("nope 1 2") == ["e-[Unknown command: nope]"]
    assert fw.command("na\x00me") == ["e-[Bad byte 0x00 in command]"]
    fw.send(b"name\xff%")
    assert fw.read_until_ready() == ["e-[Bad byte 0xff in command]"]
    assert fw.command("x" * 81) == ["e-[Command too long]"]
    assert fw.command("help " + "a " * 12) == ["e-[Too many arguments]"]
    assert fw.command("name") == ["m-name-dut-[edgeadapt-host]"]


def test_command_of_exactly_80_characters_is_accepted(fw):
    line = "name" + " " * 76
    assert len(line) == 80 and fw.command(line) == ["m-name-dut-[edgeadapt-host]"]
    assert fw.command("name" + " " * 77) == ["e-[Command too long]"]


def test_db_load_hex_and_print(fw):
    assert fw.command("db load 5") == ["m-[Expecting 5 bytes]"]
    assert fw.command("db 00ff") == []
    assert fw.command("db 0g") == ["e-[Bad hex digit: g]"]
    assert fw.command("db 123") == ["e-[Odd number of hex digits]"]
    assert fw.command("db 10203040") == ["e-[Too many bytes: 3 left]"]
    assert fw.command("db 7F8081") == ["m-load-done"]
    dump = fw.command("db print")
    assert len(dump) == FRAME_BYTES // 16
    assert dump[0].startswith("m-buffer-00-ff-7f-80-81-")
    assert fw.command("db 00") == ["e-[No load in progress (send db load N first)]"]
    assert fw.command("db load 0") == [f"e-[db load: byte count must be 1..{FRAME_BYTES}]"]
    assert fw.command(f"db load {FRAME_BYTES + 1}") == [f"e-[db load: byte count must be 1..{FRAME_BYTES}]"]
    assert fw.command("db load 99999999999999999999") == [f"e-[db load: byte count must be 1..{FRAME_BYTES}]"]
    assert fw.command("db") == ["e-[Usage: db load N | db <hex> | db print]"]


def test_binary_load_then_db_print_shows_the_bytes(fw):
    frame = bytes(range(256)) * (FRAME_BYTES // 256)
    fw.load_frame(frame)
    dump = fw.command("db print")
    got = bytes(int(b, 16) for line in dump for b in line.split("-")[2:])
    assert got == frame


def test_binary_load_with_a_bad_crc_is_refused_and_the_frame_is_unusable(fw):
    frame = bytes(FRAME_BYTES)
    fw.send(f"ld {FRAME_BYTES} {zlib.crc32(frame) ^ 1:08x}%".encode())
    assert fw.read_line() == f"m-ld-ready-[bytes={FRAME_BYTES}]"
    fw.send(frame)
    assert fw.read_until_ready() == [f"e-[CRC mismatch: got {zlib.crc32(frame):08x}, expected "
                                     f"{zlib.crc32(frame) ^ 1:08x}]"]
    assert fw.command("ea-step") == ["e-[No frame loaded]"]
    assert fw.command("infer 1 0") == ["e-[No frame loaded]"]
    for bad in ("ld", "ld 10", "ld 0 0", f"ld {FRAME_BYTES + 1} 0", "ld 10 xyz", "ld 10 123456789", "ld -1 0"):
        reply = fw.command(bad)
        assert len(reply) == 1 and reply[0].startswith("e-["), (bad, reply)


def test_truncated_binary_load_recovers_with_newlines(fw):
    frame = os.urandom(1000)
    fw.send(f"ld {len(frame)} {zlib.crc32(frame):08x}%".encode())
    assert fw.read_line() == "m-ld-ready-[bytes=1000]"
    fw.send(frame[:600])  # the host gives up mid-frame
    assert fw.quiet()  # the device still waits for 400 bytes: it cannot know
    fw.send(b"\n" * len(frame) + b"%")  # the documented recovery flush
    reply = fw.read_until_ready()
    assert len(reply) == 1 and reply[0].startswith("e-[CRC mismatch")
    assert fw.quiet()  # the surplus newlines and the '%' are blank: no more replies
    assert fw.command("name") == ["m-name-dut-[edgeadapt-host]"]
    fw.load_frame(frame)  # and the resend works


def test_infer_follows_the_mlperf_sequence(fw, host_exe, tmp_path):
    frame = random_frames(1, seed=3)[0]
    fw.load_frame(frame.tobytes())
    assert fw.command("ea-select small") == ["m-select-[small]"]
    lines = fw.command("infer 3 2")
    assert lines[:4] == ["m-warmup-start-2", "m-warmup-done", "m-infer-start-3", lines[3]]
    t0 = int(re.fullmatch(r"m-lap-us-(\d+)", lines[3]).group(1))
    t1 = int(re.fullmatch(r"m-lap-us-(\d+)", lines[4]).group(1))
    assert t1 > t0
    assert lines[5] == "m-infer-done"
    expected, _ = fixture_reference(frame, 0)
    fls = [15, 15, 16, 15, 14]
    assert lines[6] == "m-results-[" + ",".join(dequant3(int(q), f) for q, f in zip(expected, fls)) + "]"
    assert fw.command("results") == [lines[6]]
    assert fw.command("infer 0 1") == ["e-[Inference iterations must be >0]"]
    assert fw.command("infer 1 2 3") == ["e-[Usage: infer N [W]]"]
    # W defaults to 10, as in the EEMBC code
    assert fw.command("infer 1")[0] == "m-warmup-start-10"


def test_results_formatting_matches_fixed_point():
    # spot checks of the integer formatting (mirrors ea_put_fixed3)
    assert dequant3(2048, 11) == "1.000"
    assert dequant3(-3, 11) == "-0.001"
    assert dequant3(-1, 11) == "0.000"
    assert dequant3(5, -2) == "20.000"


def test_step_reports_outputs_cycles_and_layers(fw):
    frames = random_frames(2, seed=5)
    fw.load_frame(frames[0].tobytes())
    assert fw.command("ea-select big") == ["m-select-[big]"]
    step = fw.command("ea-step")
    fields = parse_fields(step[0], "m-step")
    assert fields["frame"] == "0" and fields["model"] == "1" and fields["next"] == "1"
    expected, dumps = fixture_reference(frames[0], 1)
    assert parse_list(step[1], "m-outputs") == expected.tolist()
    cores = parse_list(step[2], "m-core-cycles")
    assert len(cores) == 1 and 0 < cores[0] <= int(fields["cycles"])
    layers = fw.command("ea-layers")
    assert parse_fields(layers[0], "m-layers") == {"model": "1", "layers": "5"}
    rows = [parse_fields(line, "m-layer") for line in layers[1:]]
    assert [int(r["bytes"]) for r in rows] == [len(d) for d in dumps]
    assert sum(int(r["cycles"]) for r in rows) <= int(fields["cycles"])
    assert all(int(r["cycles"]) > 0 for r in rows[:3])  # the convolutions take measurable time
    fw.load_frame(frames[1].tobytes())
    assert parse_fields(fw.command("ea-step")[0], "m-step")["frame"] == "1"
    assert fw.command("ea-reset") == ["m-reset-[next=0]"]
    assert fw.command("ea-select") == ["m-select-[big]"]
    assert fw.command("ea-select medium") == ["e-[ea-select: expected small, big or policy: medium]"]
    assert fw.command("ea-step now") == ["e-[Usage: ea-step [frame]]"]


def test_step_with_a_frame_index_runs_once_and_repeats_its_report(fw):
    frames = random_frames(2, seed=6)
    fw.load_frame(frames[0].tobytes())
    assert fw.command("ea-reset") == ["m-reset-[next=0]"]
    assert fw.command("ea-step 1") == ["e-[ea-step: frame 1 is not next (next is 0), nothing run]"]
    first = fw.command("ea-step 0")
    assert parse_fields(first[0], "m-step")["frame"] == "0"
    assert parse_list(first[1], "m-outputs") == fixture_reference(frames[0], 0)[0].tolist()
    fw.load_frame(frames[1].tobytes())
    assert fw.command("ea-step 0") == first  # reported again, not run on the new frame
    second = fw.command("ea-step 1")
    assert parse_fields(second[0], "m-step")["frame"] == "1"
    assert parse_list(second[1], "m-outputs") == fixture_reference(frames[1], 0)[0].tolist()
    assert fw.command("ea-step 1") == second
    assert fw.command("ea-step 0") == ["e-[ea-step: frame 0 is not next (next is 2), nothing run]"]
    assert fw.command("ea-step 4294967296") == ["e-[Usage: ea-step [frame]]"]
    assert parse_fields(fw.command("ea-step")[0], "m-step")["frame"] == "2"  # the EEMBC-style form still runs


def test_sync_echoes_and_changes_nothing(fw):
    frame = random_frames(1, seed=7)[0]
    fw.load_frame(frame.tobytes())
    assert fw.command("ea-sync 4242") == ["m-sync-[n=4242]"]
    assert fw.command("ea-sync") == ["e-[Usage: ea-sync <number>]"]
    assert fw.command("ea-sync x") == ["e-[Usage: ea-sync <number>]"]
    assert parse_list(fw.command("ea-step")[1], "m-outputs") == fixture_reference(frame, 0)[0].tolist()


def test_chunked_load_acknowledges_good_chunks_and_refuses_damaged_ones(fw):
    from edgeadapt.harness.device import ldc_records

    frame = random_frames(1, seed=8)[0].tobytes()
    crc = zlib.crc32(frame)
    records = ldc_records(frame, 64)
    assert len(records) == FRAME_BYTES // 64
    assert fw.command("ldc") == ["m-ldc-[crc=00000000,left=0,loaded=0]"]
    fw.send(records[0][0])  # a record before any ldc command
    assert fw.read_until_ready() == ["e-[ldc: no load in progress (send ldc <nbytes> <crc32hex> <chunk> first)]"]
    assert fw.command(f"ldc {FRAME_BYTES} {crc:08x} 64") == [f"m-ldc-ready-[{crc:08x}]"]
    assert fw.command("ldc") == [f"m-ldc-[crc={crc:08x},left=240,loaded=0]"]
    assert fw.command("ea-step") == ["e-[No frame loaded]"]
    rec = bytearray(records[5][0])
    damaged = {
        "corrupted payload": rec[:10] + bytes([rec[10] ^ 0x40]) + rec[11:],
        "dropped payload byte": rec[:10] + rec[11:],
        "corrupted index": rec[:-4] + bytes([rec[-4] ^ 0x01]) + rec[-3:],
        "index without bit 7": rec[:-4] + bytes([rec[-4] & 0x7F]) + rec[-3:],
        "too long": rec[:-2] + b"x" * 300 + b"%",
        "too short": bytes([1]) + b"abc%",
        "escape before the end": rec[:-2] + b"\x7d%",
    }
    replies = {}
    for what, data in damaged.items():
        fw.send(bytes(data))
        replies[what] = fw.read_until_ready()
        assert fw.quiet(0.05), what  # the second '%' of a record is a silent blank command
    assert replies == {
        "corrupted payload": ["e-[ldc: chunk CRC mismatch]"],
        "dropped payload byte": ["e-[ldc: wrong chunk length]"],
        "corrupted index": ["e-[ldc: chunk CRC mismatch]"],
        "index without bit 7": ["e-[ldc: bad chunk index]"],
        "too long": ["e-[ldc: record too long]"],
        "too short": ["e-[ldc: record too short]"],
        "escape before the end": ["e-[ldc: bad escape in record]"],
    }
    assert fw.command("ldc") == [f"m-ldc-[crc={crc:08x},left=240,loaded=0]"]  # nothing was stored
    # a record whose first '%' was lost is ended by its second one
    fw.send(records[7][0][:-2] + b"%")
    assert fw.read_until_ready() == [f"m-ldc-ok-{records[7][1]}"]
    # every record, in reverse order and one twice: each is acknowledged with its CRC
    for i in reversed(range(len(records))):
        fw.send(records[i][0])
        reply = fw.read_until_ready()
        assert reply[0] == f"m-ldc-ok-{records[i][1]}", (i, reply)
        assert reply[1:] == (["m-load-done"] if i == 0 else [])
    assert fw.command("ldc") == [f"m-ldc-[crc={crc:08x},left=0,loaded=1]"]
    fw.send(records[3][0])  # sent again after the load: acknowledged again, nothing changes
    assert fw.read_until_ready() == [f"m-ldc-ok-{records[3][1]}", "m-load-done"]
    dump = fw.command("db print")
    assert bytes(int(b, 16) for line in dump for b in line.split("-")[2:]) == frame
    assert parse_list(fw.command("ea-step")[1], "m-outputs") == fixture_reference(
        np.frombuffer(frame, np.uint8).reshape(FRAME_H, FRAME_W), 0)[0].tolist()
    # another writer of the frame buffer ends the load: the old chunks are refused
    fw.load_frame(bytes(FRAME_BYTES))
    fw.send(records[3][0])
    assert fw.read_until_ready()[0].startswith("e-[ldc: no load in progress")
    assert fw.command("ldc") == [f"m-ldc-[crc={crc:08x},left=0,loaded=0]"]
    for bad in ("ldc 10", f"ldc 0 {crc:08x} 64", f"ldc {FRAME_BYTES + 1} 0 64", "ldc 10 0 15", "ldc 10 0 257",
                "ldc 10 xyz 64", "ldc 10 0 64 1"):
        reply = fw.command(bad)
        assert len(reply) == 1 and reply[0].startswith("e-["), (bad, reply)


def test_policy_show_set_and_refuse(fw):
    baked = fw.command("ea-policy")
    part = ""  # the partition fields are shown for a partition policy only
    assert baked == ["m-policy-[kind=temporal,n=4,w=512:512:256:512,t=8388608,k=2,rerun=0,"
                     "aux=4,at=0,seed=1,p=0" + part + "]"]
    assert fw.command("ea-policy aux aux=4 at=-300 k=3 rerun=1") == [
        "m-policy-[kind=aux,n=4,w=512:512:256:512,t=8388608,k=3,rerun=1,aux=4,at=-300,seed=1,p=0" + part + "]"]
    assert fw.command("ea-policy partition pn=2 pc=0:5 pk=1:1") == [
        "e-[ea-policy: refused: partition: a channel is not a pose output (0..3)]"]
    assert fw.command("ea-policy partition pn=1 pc=3 pk=0") == ["e-[ea-policy: refused: partition: cut count out of 1..3]"]
    assert fw.command("ea-policy partition s0=1:2:3:4") == ["e-[ea-policy: s<i>/b<i>: more than 3 cuts in s0]"]
    assert fw.command("ea-policy aux aux=5") == ["e-[ea-policy: refused: aux: aux output index beyond the "
                                                 "small model's outputs]"]
    assert fw.command("ea-policy random seed=0") == ["e-[ea-policy: refused: random: seed must be non-zero]"]
    assert fw.command("ea-policy random p=16777217") == ["e-[ea-policy: refused: random: p out of 0..2^24]"]
    assert fw.command("ea-policy temporal w=1,2,3,4,5,6") == [
        "e-[ea-policy: refused: temporal: more channels than small-model outputs]"]
    assert fw.command("ea-policy temporal w0=134217729") == ["e-[ea-policy: refused: temporal: weight out of 0..2^27]"]
    assert fw.command("ea-policy temporal t=-1") == ["e-[ea-policy: refused: temporal: negative threshold]"]
    assert fw.command("ea-policy temporal zz=1") == ["e-[ea-policy: unknown key in zz]"]
    assert fw.command("ea-policy temporal k") == ["e-[ea-policy: expected key=value in k]"]
    assert fw.command("ea-policy clever") == ["e-[ea-policy: unknown policy: clever]"]
    # refused settings left the aux policy in place
    assert fw.command("ea-policy")[0].startswith("m-policy-[kind=aux,")
    assert fw.command("ea-policy default") == baked


def test_decide_verb_checks_its_arguments(fw):
    assert fw.command("ea-decide 0 1,2,3") == ["e-[ea-decide: fewer outputs than the policy reads]"]
    assert fw.command("ea-decide 2 1,2,3,4") == ["e-[Usage: ea-decide <0|1> <o0,o1,...>]"]
    assert fw.command("ea-decide 0 1,2,x,4") == ["e-[ea-decide: bad output: x]"]
    assert fw.command("ea-decide 0 1,2,3,4,5,6,7,8,9") == ["e-[ea-decide: too many outputs]"]
    assert fw.command("ea-decide 0 2147483648,0,0,0") == ["e-[ea-decide: bad output: 2147483648]"]
    assert fw.command("ea-decide 0 0,0,0,0") == ["m-decide-[next=0,rerun=0]"]


def test_exit_verb_ends_the_program_with_its_code(host_exe):
    fw = FirmwareHost(host_exe)
    assert fw.command("ea-exit 300") == ["e-[Usage: ea-exit [code 0..255]]"]
    assert fw.command("ea-exit 3") == ["m-exit-[code=3]"]
    assert fw.proc.wait(timeout=10) == 3
    fw.close()


# ------------------------------------------------------------------ tests: host batch mode


def test_batch_infer_matches_the_numpy_twin_with_layer_dump(host_exe, tmp_path):
    frames = random_frames(3, seed=11)
    (tmp_path / "f.u8").write_bytes(frames.tobytes())
    for model, n_out in ((0, 5), (1, 4)):
        done = subprocess.run([host_exe, "--infer", str(model), tmp_path / "f.u8", tmp_path / "o.i32",
                               "--layers", tmp_path / "d.bin"], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        outs = np.fromfile(tmp_path / "o.i32", dtype="<i4").reshape(3, n_out)
        dump = (tmp_path / "d.bin").read_bytes()
        expected_dump = b""
        for i, frame in enumerate(frames):
            expected, layers = fixture_reference(frame, model)
            assert outs[i].tolist() == expected.tolist()
            expected_dump += b"".join(layers)
        assert dump == expected_dump


def test_batch_infer_errors_are_one_line_and_keep_old_outputs(host_exe, tmp_path):
    (tmp_path / "bad.u8").write_bytes(b"\0" * (FRAME_BYTES + 1))
    (tmp_path / "o.i32").write_bytes(b"old")
    done = subprocess.run([host_exe, "--infer", "0", tmp_path / "bad.u8", tmp_path / "o.i32"],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "not a whole number of 15360-byte frames" in done.stderr
    assert (tmp_path / "o.i32").read_bytes() == b"old"
    assert not list(tmp_path.glob("*.tmp"))
    done = subprocess.run([host_exe, "--infer", "2", tmp_path / "bad.u8", tmp_path / "o.i32"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "model must be 0 (small) or 1 (big)" in done.stderr
    done = subprocess.run([host_exe, "--infer", "0", tmp_path / "missing.u8", tmp_path / "o.i32"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "cannot read frames file" in done.stderr
    done = subprocess.run([host_exe, "--bogus"], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.startswith("usage:")


# ------------------------------------------------------------------ tests: TCP link, multi-core, Makefile


def test_tcp_serial_link(host_exe):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([host_exe, "--serial", f"tcp:127.0.0.1:{port}"])
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline, "the host firmware never listened"
                time.sleep(0.05)
        with conn:
            stream = conn.makefile("rwb")
            stream.write(b"name%")
            stream.flush()
            lines = [stream.readline() for _ in range(5)]
            assert lines == [b"m-timestamp-mode-performance\r\n", b"m-init-done\r\n", b"m-ready\r\n",
                             b"m-name-dut-[edgeadapt-host]\r\n", b"m-ready\r\n"]
            stream.close()
        assert proc.wait(timeout=10) == 0  # the client hung up: the firmware ends
    finally:
        if proc.poll() is None:
            proc.kill()


def test_emulated_cores_split_the_work_without_changing_results(tmp_path):
    exe = build_host_firmware(tmp_path, name="test-fw-host-4cores", cflags="-DEA_NUM_CORES=4")
    frame = random_frames(1, seed=8)[0]
    fw = FirmwareHost(exe)
    try:
        assert parse_fields(fw.command("ea-info")[0], "m-info")["cores"] == "4"
        fw.load_frame(frame.tobytes())
        for model in ("small", "big"):
            fw.command(f"ea-select {model}")
            step = fw.command("ea-step")
            expected, _ = fixture_reference(frame, 0 if model == "small" else 1)
            assert parse_list(step[1], "m-outputs") == expected.tolist()
            cores = parse_list(step[2], "m-core-cycles")
            assert len(cores) == 4 and all(c > 0 for c in cores)
    finally:
        assert fw.close() == 0


def test_full_build_with_kernels_and_make_size(tmp_path):
    """The complete firmware (kernels included) builds warning-free and `make size` reports it."""
    build_host_firmware(tmp_path, name="test-fw-host-full", kernels=True)
    size = subprocess.run(["make", "-s", "-C", str(FIRMWARE), "TARGET=host", f"EXPORT={FIXTURE}",
                           f"BUILD={ROOT / 'build' / 'test-fw-host-full'}", "CFLAGS+=-Werror", "size"],
                          capture_output=True, text=True)
    assert size.returncode == 0, size.stderr
    assert re.search(r"text \d+  data \d+  bss (\d+)", size.stdout)
    bss = int(re.search(r"bss (\d+)", size.stdout).group(1))
    assert bss >= 61440 + FRAME_BYTES  # the arena and the frame buffer are static


def test_make_reports_a_missing_export_or_port(tmp_path):
    missing = subprocess.run(["make", "-s", "-C", str(FIRMWARE), "TARGET=host", f"EXPORT={tmp_path / 'none'}",
                              f"BUILD={tmp_path / 'b'}"], capture_output=True, text=True)
    assert missing.returncode != 0 and "has no ea_models.h" in missing.stderr
    unknown = subprocess.run(["make", "-s", "-C", str(FIRMWARE), "TARGET=pdp11"], capture_output=True, text=True)
    assert unknown.returncode != 0 and "no ports/pdp11/port.mk" in unknown.stderr
