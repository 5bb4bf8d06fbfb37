"""The policy on 32-bit targets under QEMU (Cortex-M4 and RV32IMC, where the int64 distance goes
through the compiler's helpers) decides exactly as the Python one, over the emulated UART."""

import shutil
import subprocess

import pytest

from edgeadapt.policy import simulate
from test_policy_c_python import BIG_FL, SMALL_FL, extreme_outputs, recorded_outputs, replay
from test_protocol_host import FIRMWARE, FIXTURE, FirmwareHost

pytestmark = [pytest.mark.qemu, pytest.mark.timeout(300)]

TOOLS = {"stm32": ("arm-none-eabi-gcc", "qemu-system-arm"), "gap8": ("riscv64-unknown-elf-gcc", "qemu-system-riscv32")}
CONFIGS = [
    {"policy": "temporal", "weights": [1, 0.5, 2, 0.3], "threshold": 0.2, "k": 1, "rerun": True},
    {"policy": "temporal", "weights": [200000, 200000, 100000, 200000], "threshold": 2.0**35, "k": 2,
     "rerun": False},
    {"policy": "aux", "threshold": -0.2, "k": 3, "rerun": True},
    {"policy": "random", "p": 0.3, "seed": 4000000000},
    # signed and |value| cuts in both models' output formats, compared in int32 on the device
    {"policy": "partition", "channels": [0, 1, 3], "absolute": [False, True, True],
     "cuts": [[0.9, 1.1, 1.3], [1.0], [0.8, 1.2]], "big_cells": [1, 2, 6, 21, 22, 33, 37]},
]


@pytest.fixture(scope="module", params=sorted(TOOLS))
def device(request, tmp_path_factory):
    target = request.param
    missing = [tool for tool in ("make", *TOOLS[target]) if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed")
    args = ["make", "-s", "-C", str(FIRMWARE), f"TARGET={target}", f"EXPORT={FIXTURE}",
            f"BUILD={tmp_path_factory.mktemp(target)}", "KERNEL_SRCS=", "CFLAGS+=-Werror"]
    built = subprocess.run([*args, "-j2", "all"], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    run_cmd = subprocess.run([*args, "-n", "run"], capture_output=True, text=True, check=True).stdout.strip()
    assert run_cmd.startswith("qemu-system-"), run_cmd
    fw = FirmwareHost("sh", ["-c", "exec " + run_cmd.splitlines()[-1]], banner_timeout=60)
    try:
        yield fw
        assert fw.command("ea-exit 0") == ["m-exit-[code=0]"]
        assert fw.proc.wait(timeout=20) == 0
    finally:
        if fw.proc.poll() is None:
            fw.proc.kill()
        fw.close()


@pytest.mark.parametrize("cfg", CONFIGS, ids=["temporal-rerun", "temporal-int64", "aux", "random", "partition"])
def test_emulated_boards_decide_like_python(device, cfg):
    small, big = extreme_outputs(80, 3) if cfg["policy"] == "temporal" and cfg["k"] == 2 else recorded_outputs(80, 4)
    used = replay(device, cfg, small, big)
    assert used == simulate(cfg, small, big, SMALL_FL, BIG_FL)
    assert len(set(used)) > 1
