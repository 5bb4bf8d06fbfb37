"""The STM32, MPS2 and GAP8 firmware ports under QEMU (docs/targets.md).

Each test builds through the port.mk contract, starts QEMU with the port's own RUN_CMD
(`make -n run SERIAL=tcp:...`), talks over pyserial's socket:// and always kills QEMU by its
process id. Two firmwares are used: the HAL self-test (ports/stm32/selftest/, HAL only) and the
real application built with the fixture export.
"""

import random
import re
import shlex
import shutil
import socket
import subprocess
import time
import zlib
from pathlib import Path

import pytest

serial = pytest.importorskip("serial")

FIRMWARE = Path(__file__).resolve().parents[1] / "firmware"
FIXTURE_EXPORT = "tests/fixture_export"  # firmware-relative
SELFTEST_MK = "ports/stm32/selftest/selftest.mk"
FRAME_BYTES = 160 * 96

TOOLS = {
    "stm32": ("make", "arm-none-eabi-gcc", "qemu-system-arm"),
    "mps2": ("make", "arm-none-eabi-gcc", "qemu-system-arm"),
    "gap8": ("make", "riscv64-unknown-elf-gcc", "qemu-system-riscv32"),
}
CORES = {"stm32": 1, "mps2": 1, "gap8": 8}
# Exit status of a fault: 128 + Cortex-M HardFault (3) / RISC-V load access fault (5).
FAULT_STATUS = {"stm32": 131, "mps2": 131, "gap8": 133}

pytestmark = [pytest.mark.qemu, pytest.mark.timeout(180)]


def require_tools(target):
    missing = [tool for tool in TOOLS[target] if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{target} port needs {', '.join(missing)}")


def make(*args, check=True):
    return subprocess.run(["make", "-s", "-C", str(FIRMWARE), *args], capture_output=True, text=True, check=check)


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class QemuLink:
    """QEMU started from a port's RUN_CMD with its UART on a TCP server socket."""

    def __init__(self, make_args, log_path):
        port = free_tcp_port()
        dry_run = make(*make_args, f"SERIAL=tcp:127.0.0.1:{port}", "-n", "run").stdout
        self.command = dry_run.strip().splitlines()[-1]
        assert f"tcp:127.0.0.1:{port},server=on,wait=on" in self.command
        assert "-icount shift=0" in self.command
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            shlex.split(self.command), stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT
        )
        self.ser = None
        try:
            deadline = time.monotonic() + 15
            while self.ser is None:
                try:
                    self.ser = serial.serial_for_url(f"socket://127.0.0.1:{port}", timeout=20)
                except serial.SerialException:
                    if self.proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"QEMU did not listen: {self.output()}") from None
                    time.sleep(0.05)
        except BaseException:
            self.close()
            raise

    def output(self):
        self.log.flush()
        return Path(self.log_path).read_text(errors="replace")[-2000:]

    def write(self, data):
        self.ser.write(data)

    def readline(self):
        line = self.ser.readline()
        assert line.endswith(b"\n"), f"no reply (got {line!r}); QEMU said: {self.output()}"
        return line.decode(errors="replace").strip()

    def read_exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.ser.read(n - len(data))
            assert chunk, f"link stalled after {len(data)} of {n} bytes"
            data += chunk
        return data

    def until_ready(self):
        """Protocol replies up to and including m-ready."""
        lines = []
        while not lines or lines[-1] != "m-ready":
            lines.append(self.readline())
        return lines

    def wait_exit(self, timeout=20):
        return self.proc.wait(timeout)

    def close(self):
        if self.ser is not None:
            self.ser.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@pytest.fixture(scope="module")
def build_root(tmp_path_factory):
    return tmp_path_factory.mktemp("fw")


def selftest_args(target, build_root, cflags=""):
    build = build_root / ("selftest-" + target + re.sub(r"\W+", "_", cflags))
    return [f"-f{SELFTEST_MK}", f"TARGET={target}", f"BUILD={build}", f"CFLAGS={cflags}"]


def app_args(target, build_root):
    return [f"TARGET={target}", f"EXPORT={FIXTURE_EXPORT}", f"BUILD={build_root / ('app-' + target)}", "CFLAGS=-Werror"]


_built = set()


def build(args):
    key = tuple(args)
    if key not in _built:
        make("-j2", *args, "all")
        _built.add(key)
    return list(args)


def frame_bytes(seed):
    return random.Random(seed).randbytes(FRAME_BYTES)


# ---- the HAL self-test firmware -------------------------------------------------------------


@pytest.mark.parametrize("target", ["stm32", "mps2", "gap8"])
def test_selftest_link_frame_and_exit(target, build_root, tmp_path):
    """Boot banner, a byte-exact echo and a CRC-checked 15,360-byte frame, exit status via QEMU."""
    require_tools(target)
    args = build(selftest_args(target, build_root))
    frame = frame_bytes(1)
    with QemuLink(args, tmp_path / "qemu.log") as link:
        assert link.readline() == f"EA-SELFTEST cores={CORES[target]}"
        link.write(b"p")
        assert link.readline() == "pong"

        link.write(b"e" + len(frame).to_bytes(4, "little") + frame)
        assert link.read_exact(len(frame)) == frame

        start = time.monotonic()
        link.write(b"f" + len(frame).to_bytes(4, "little") + frame)
        reply = link.readline()
        seconds = time.monotonic() - start
        assert reply.startswith(f"frame n={len(frame)} crc={zlib.crc32(frame):08x} "), reply
        assert seconds < 10, f"{target}: a frame took {seconds:.2f} s"

        link.write(b"q\x07")
        assert link.wait_exit() == 7


@pytest.mark.parametrize("target", ["stm32", "gap8"])
def test_selftest_cycles_are_deterministic_and_split_over_cores(target, build_root, tmp_path):
    """The same work reports the same count twice in a run and across two QEMU runs; on GAP8 the
    8 emulated cores share the rows and the FC clock counts the longest core only."""
    require_tools(target)
    args = build(selftest_args(target, build_root))
    replies = []
    for run in range(2):
        with QemuLink(args, tmp_path / f"qemu{run}.log") as link:
            link.readline()
            for _ in range(2):
                link.write(b"b\x02")
                replies.append(link.readline())
    assert len(set(replies)) == 1, replies
    fields = dict(kv.split("=") for kv in replies[0].split()[1:])
    assert fields["sum"] == "67922b37"  # the same integer result on every port
    cycles = int(fields["cycles"])
    cores = [int(fields[f"core{c}"]) for c in range(CORES[target])]
    assert all(c > 0 for c in cores)
    assert cycles >= max(cores)
    if target == "gap8":
        # 96 rows over 8 cores: equal slices, so the emulated speed-up is close to 8
        assert max(cores) == min(cores)
        assert 7.5 < sum(cores) / cycles <= 8
    else:
        assert cycles - cores[0] < 1000  # a single core: the fork is the whole run


def _barrier_sum(slots=8, unit=2000):
    """hal_selftest.c's barrier test computed in Python: the sum every port must print."""
    def lcg(v, steps):
        for _ in range(steps):
            v = (v * 1664525 + 1013904223) & 0xFFFFFFFF
        return v

    first = [lcg(j + 1, (j + 1) * unit) for j in range(slots)]
    total = 0
    for v in first:
        total = (total * 31 + v) & 0xFFFFFFFF
    out = [lcg((total + j) & 0xFFFFFFFF, (slots - j) * unit) for j in range(slots)]
    result = 0
    for v in out:
        result = (result * 31 + v) & 0xFFFFFFFF
    return result


@pytest.mark.parametrize("target", ["stm32", "gap8"])
def test_selftest_barrier_waits_for_every_core(target, build_root, tmp_path):
    """ctx->barrier inside a fork: every slot reads all first results (the same sum as one core,
    which needs no barrier), and on GAP8 the FC clock counts each stretch's longest core: slot j
    works j + 1 units before the barrier and 8 - j after, so the critical path is about 16 units
    while no core works more than 9."""
    require_tools(target)
    args = build(selftest_args(target, build_root))
    with QemuLink(args, tmp_path / "qemu.log") as link:
        link.readline()
        link.write(b"r")
        fields = dict(kv.split("=") for kv in link.readline().split()[1:])
    assert fields["sum"] == f"{_barrier_sum():08x}"  # no slot read a result not yet written
    cycles = int(fields["cycles"])
    cores = [int(fields[f"core{c}"]) for c in range(CORES[target])]
    if target == "gap8":
        assert max(cores) < 1.15 * min(cores)  # 9 units each
        assert 16 / 9 * 0.9 * max(cores) < cycles < 16 / 9 * 1.1 * max(cores)
    else:
        assert cycles >= cores[0]


@pytest.mark.parametrize("target", ["stm32", "mps2", "gap8"])
def test_fault_is_reported_and_ends_qemu(target, build_root, tmp_path):
    require_tools(target)
    args = build(selftest_args(target, build_root))
    with QemuLink(args, tmp_path / "qemu.log") as link:
        link.readline()
        link.write(b"x")
        assert link.readline() == "faulting"
        fault = ""
        while not fault.startswith("EA FAULT"):
            fault = link.readline()
        assert ("mtval=00080000" if target == "gap8" else "bfar=60000000") in fault
        assert link.wait_exit() == FAULT_STATUS[target]


@pytest.mark.parametrize(
    "target, cflags, region",
    [
        ("stm32", "-DEA_SELFTEST_FLASH_BALLAST=1100000", "FLASH"),
        ("stm32", "-DEA_SELFTEST_RAM_BALLAST=140000", "RAM"),
        ("gap8", "-DEA_SELFTEST_FLASH_BALLAST=600000", "L2"),
        ("gap8", "-DEA_SELFTEST_RAM_BALLAST=520000", "L2"),
    ],
)
def test_linker_scripts_refuse_what_the_chip_cannot_hold(target, cflags, region, build_root):
    require_tools(target)
    result = make(*selftest_args(target, build_root, cflags), "all", check=False)
    assert result.returncode != 0
    assert re.search(rf"region `{region}' overflowed by \d+ bytes", result.stderr), result.stderr[-800:]


# ---- the application with the fixture export ------------------------------------------------


def load_frame(link, frame):
    link.write(b"ld %d %08x%%" % (len(frame), zlib.crc32(frame)))
    link.write(frame)
    lines = link.until_ready()
    assert "m-load-done" in lines, lines


def step(link):
    lines = link.until_ready()
    fields = {}
    for line in lines:
        m = re.match(r"m-step-\[(.*)\]", line)
        if m:
            fields.update(kv.split("=") for kv in m.group(1).split(","))
        m = re.match(r"m-outputs-\[(.*)\]", line)
        if m:
            fields["outputs"] = m.group(1)
        m = re.match(r"m-core-cycles-\[(.*)\]", line)
        if m:
            fields["core_cycles"] = [int(v) for v in m.group(1).split(",")]
    return fields


def boot(link):
    lines = link.until_ready()
    assert lines[-2] == "m-init-done", lines


def run_steps(link, frame):
    """small twice, big once on the same frame: (cycles, outputs, core cycles) of each step."""
    load_frame(link, frame)
    results = []
    for model in ("small", "small", "big"):
        link.write(f"ea-select {model}%".encode())
        link.until_ready()
        link.write(b"ea-step%")
        fields = step(link)
        results.append((int(fields["cycles"]), fields["outputs"], fields["core_cycles"]))
    return results


@pytest.mark.parametrize("target", ["stm32", "gap8"])
def test_app_answers_and_inference_cycles_repeat_across_runs(target, build_root, tmp_path):
    require_tools(target)
    args = build(app_args(target, build_root))
    frame = frame_bytes(2)
    sessions = []
    for run in range(2):
        with QemuLink(args, tmp_path / f"qemu{run}.log") as link:
            boot(link)
            if run == 0:
                link.write(b"name%")
                assert link.until_ready() == [f"m-name-dut-[edgeadapt-{target}]", "m-ready"]
                link.write(b"ea-info%")
                assert f"cores={CORES[target]}" in link.until_ready()[0]
            sessions.append(run_steps(link, frame))
    first, second = sessions
    assert first == second  # cycles, outputs and per-core cycles identical over two runs
    (small, outputs_small, cores_small), (small_again, _, _), (big, outputs_big, cores_big) = first
    assert small == small_again and big > small
    assert outputs_small != outputs_big
    assert len(cores_small) == CORES[target] == len(cores_big)
    if target == "gap8":
        assert small < sum(cores_small) / 4  # the FC clock counts each fork's longest core


def test_app_outputs_are_the_same_on_every_port(build_root, tmp_path):
    """One frame through the fixture models on the three boards gives bit-identical outputs."""
    outputs = {}
    for target in ("stm32", "mps2", "gap8"):
        require_tools(target)
        args = build(app_args(target, build_root))
        with QemuLink(args, tmp_path / f"{target}.log") as link:
            boot(link)
            outputs[target] = [result[1] for result in run_steps(link, frame_bytes(3))]
    assert outputs["stm32"] == outputs["mps2"] == outputs["gap8"], outputs


@pytest.mark.slow
def test_realistic_pair_fits_the_chips_and_matches_the_reference(build_root, tmp_path):
    """A pair of realistic size (the shipped big model's architecture, mobilenet-160x16 at 8 bits, and
    frontnet-160x16 at 4 bits as the small one), exported for the STM32F405 and the GAP8, link within the chips' memories and give the
    numpy reference's outputs bit for bit under QEMU."""
    import numpy as np

    from edgeadapt.codegen import export_pair
    from edgeadapt.codegen.quickquant import quick_quantize
    from edgeadapt.ir.onnx_import import import_torch
    from edgeadapt.models import registry
    from edgeadapt.quant import reference
    from test_codegen_support import frames

    for target in ("stm32", "gap8"):
        require_tools(target)
    hw = (96, 160)
    big = quick_quantize(import_torch(registry.build("mobilenet-160x16").eval(), hw, "mobilenet-160x16"), frames(8, hw))
    small = quick_quantize(import_torch(registry.build("frontnet-160x16").eval(), hw, "frontnet-160x16"), frames(8, hw), 4)
    frame = frames(1, hw, seed=7)
    expected = [",".join(str(v) for v in reference.run_int(graph, frame)[0]) for graph in (small, small, big)]
    for target in ("stm32", "gap8"):
        export_pair(big, small, target, tmp_path / target)
        args = [f"TARGET={target}", f"EXPORT={tmp_path / target}", f"BUILD={build_root / ('real-' + target)}", "CFLAGS=-Werror"]
        make("-j2", *args, "all")
        with QemuLink(args, tmp_path / f"{target}.log") as link:
            boot(link)
            results = run_steps(link, frame.tobytes())
        assert [outputs for _, outputs, _ in results] == expected, target
