"""Kernel benchmark: instructions per layer and per frame under QEMU -icount, our reference kernels
against our Cortex-M4 SIMD drop-ins, with recorded CMSIS-NN figures beside them, and the GAP8
core split.

Networks (quantized with the exporter's min/max pass, codegen.quickquant: instruction counts do
not depend on the weight values beyond clamp branches): PULP-Frontnet 160x32, the shipped big
(mobilenet-160x16, its zoo weights) and small (frontnet-160x8, its zoo weights), and a
MobileNetV2-style inverted-residual block. Each is exported as the `big` model of a pair for
mps2-an386, the firmware built twice (KERNEL_ARCH=arm, the default of the Cortex-M4 ports, and
KERNEL_ARCH= for the reference kernels), run on QEMU mps2-an386 with -icount shift=0, and read back
with the firmware's own `ea-step` (cycles of the frame) and `ea-layers` (per layer). The shipped
pair also runs on the GAP8 stand-in (QEMU riscv32 virt, rv32imc, 8 cores run one after another,
time = the longest core of every fork, or of every stretch between two barriers): its critical
path, the sum over cores, and per layer the items of the least and the busiest core under the
split rule (ea_split_box and the fully connected K split, mirrored by
edgeadapt.codegen.kernels.split_plan; items are whole output rows, columns or channels, or inputs
of every output's dot product, each the same work: a count from the rule, not a measurement).

Everything counted is an emulated instruction (SysTick x 40 on mps2: resolution 40), not a
cycle of real silicon. The CMSIS-NN column is a recorded anchor, not measured by this script.

    python benchmarks/kernels.py [--work build/bench-kernels] [--skip-gap8 | --skip-m4]

Writes benchmarks/results/kernels.md (and --json FILE with the same figures); with --skip-m4 the
file's Cortex-M4 part is kept as recorded and only the GAP8 part is replaced.
"""

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(ROOT / "build" / "torch_extensions"))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from edgeadapt.codegen import export_pair, load_target  # noqa: E402
from edgeadapt.codegen.fusion import build_schedule  # noqa: E402
from edgeadapt.codegen.kernels import kernel_name, split_plan  # noqa: E402
from edgeadapt.codegen.quickquant import quick_quantize  # noqa: E402
from edgeadapt.harness.device import Device  # noqa: E402
from edgeadapt.harness.qemu import FirmwareProcess  # noqa: E402
from edgeadapt.ir.onnx_import import import_torch  # noqa: E402
from edgeadapt.models import load_checkpoint, registry  # noqa: E402
from edgeadapt.textio import atomic_write_text, write_json  # noqa: E402

HW = (96, 160)
KERNEL_SETS = {"reference": "", "m4": "arm"}  # KERNEL_ARCH of the firmware build

# CMSIS-NN 99f736a6, arm-none-eabi-gcc 12.2 -mcpu=cortex-m4 -mthumb -mfloat-abi=hard
# -mfpu=fpv4-sp-d16 -O2, built outside this repository beside edgeadapt on the same shapes and run on
# QEMU 7.2 mps2-an386 -icount shift=0 (SysTick x 40); every call bit-exact against plain C.
# Per network: the frame, and per layer in schedule order (conv + pool fused as one row:
# CMSIS conv + arm_max_pool_s8; depthwise: arm_depthwise_conv_wrapper_s8; 1x1:
# arm_convolve_1x1_s8_fast; FC: arm_fully_connected_s8).
CMSIS_NN = {
    "frontnet-160x32": [16368880, 4259280, 4259840, 2052200, 3896000, 2001720, 3905640, 14760],
    "big": [5754080, 1169200, 1945960, 2260440, 5292600, 1116440, 2034720, 1096520, 4069200, 545080,
            1762920, 525680, 3525600, 262320, 1785920, 243960, 1785920, 29200],
    "small": [7561800, 481840, 482160, 199120, 322920, 153800, 277560, 5160],
}
CMSIS_FRAME = {"frontnet-160x32": 36758320, "big": 35205760, "small": 9484360}
# The targets (instructions per frame on the emulated Cortex-M4).
TARGETS = {"frontnet-160x32": 27.0e6, "big": 26.5e6, "small": 4.5e6}
GAP8_TARGETS = {"big": 9.0e6, "small": 1.3e6}
GAP8_HEADING = "## GAP8 stand-in (QEMU riscv32 virt, rv32imc, 8 cores; instructions)"


class InvertedResidual(nn.Module):
    """A MobileNetV2-style network: stem, two inverted-residual blocks (1x1 expand x6, 3x3
    depthwise, 1x1 project, residual add on the second), global average pool, FC."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, 2, 1), nn.ReLU6())
        self.b1 = self._block(16, 24, 2)
        self.b2 = self._block(24, 24, 1)
        self.head = nn.Linear(24, 4)

    @staticmethod
    def _block(cin, cout, stride):
        hidden = cin * 6
        return nn.Sequential(nn.Conv2d(cin, hidden, 1), nn.ReLU6(),
                             nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden), nn.ReLU6(),
                             nn.Conv2d(hidden, cout, 1))

    def forward(self, x):
        x = self.b1(self.stem(x))
        x = x + self.b2(x)
        return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def networks():
    """name -> quantized graph."""
    torch.manual_seed(0)
    nets = {
        "frontnet-160x32": registry.build("frontnet-160x32").eval(),
        "big": load_checkpoint("zoo:big")[0],
        "small": load_checkpoint("zoo:small")[0],
        "mbv2-block": InvertedResidual().eval(),
    }
    return {name: quick_quantize(import_torch(m, HW, name), None, 8) for name, m in nets.items()}


def md_table(headers, rows) -> str:
    """A GitHub markdown table."""
    out = ["| " + " | ".join(map(str, headers)) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(out)


def frame(seed=7):
    return np.random.default_rng(seed).integers(0, 256, HW[0] * HW[1], dtype=np.uint8).tobytes()


def measure(target, export_dir, build_dir, arch, roles):
    """role -> {"frame": ea-step cycles, "layers": [cycles per layer], "cores": per-core cycles}."""
    os.environ["KERNEL_ARCH"] = arch  # read by the firmware Makefile (the ports' default is ?=)
    out = {}
    with FirmwareProcess.qemu(target, export_dir, build_dir, log_path=Path(build_dir) / "qemu.log") as fw:
        dev = Device(fw.transport, timeout=20.0, step_timeout=600.0)
        dev.wait_banner()
        dev.load_frame(frame())
        for role in roles:
            dev.select(role)
            step = dev.step()
            lines = dev.exchange("ea-layers")
            layers = [int(line.split("cycles=")[1].split(",")[0]) for line in lines if line.startswith("m-layer-[")]
            out[role] = {"frame": step.cycles, "layers": layers, "cores": list(step.core_cycles)}
    return out


def export(work, name, big, small, target):
    d = work / f"export-{target}-{name}"
    export_pair(big, small, load_target(target), d)
    return d


def macs_of(graph):
    from edgeadapt.codegen.emit_c import conv_macs

    return [conv_macs(graph, layer) for layer in build_schedule(graph)]


DENSE_TARGET = 1.6  # instr/MAC for every dense 3x3 and 1x1 layer with >= 32 input channels


def dense_target_applies(graph, layer) -> bool:
    """The issue's per-layer target: a dense (one group) 3x3 or 1x1 convolution with at least 32
    input channels (fused conv + pool layers count by their convolution)."""
    node = layer.main
    if node.op != "conv" or node.attrs.get("groups", 1) != 1:
        return False
    return tuple(node.attrs["kernel"]) in ((3, 3), (1, 1)) and graph.tensors[layer.inputs[0]].shape[2] >= 32


def m4_section(graphs, work, lines, record):
    target = load_target("mps2-an386")
    results = {}
    for name in ("frontnet-160x32", "big", "mbv2-block"):
        d = export(work, name, graphs[name], graphs["small"], "mps2-an386")
        roles = ["big", "small"] if name == "big" else ["big"]
        for kset, arch in KERNEL_SETS.items():
            got = measure(target, d, work / f"fw-mps2-{name}-{kset}", arch, roles)
            results.setdefault(name, {})[kset] = got["big"]
            if "small" in got:
                results.setdefault("small", {})[kset] = got["small"]
    record["m4"] = results
    summary = []
    for name in ("frontnet-160x32", "big", "small", "mbv2-block"):
        g = graphs[name]
        macs = macs_of(g)
        ref, m4 = results[name]["reference"], results[name]["m4"]
        cm = CMSIS_FRAME.get(name)
        summary.append([name, f"{sum(macs):,}", f"{ref['frame']:,}", f"{m4['frame']:,}",
                        f"{m4['frame'] / sum(macs):.2f}", f"{cm:,}" if cm else "-",
                        f"{m4['frame'] / cm:.2f}" if cm else "-", f"{ref['frame'] / m4['frame']:.2f}",
                        f"{TARGETS[name] / 1e6:.1f} M ({'met' if m4['frame'] <= TARGETS[name] else 'NOT met'})"
                        if name in TARGETS else "-"])
    lines += ["## Cortex-M4 (QEMU mps2-an386, `ea-step`, instructions per frame)", ""]
    lines += [md_table(["network", "MACs", "reference", "M4 SIMD", "M4 i/MAC", "CMSIS-NN (anchor)",
                            "M4 / CMSIS", "speed-up", "target"], summary), ""]
    dense_at, dense_rows = len(lines), []  # the per-layer target's summary goes here
    for name in ("frontnet-160x32", "big", "small", "mbv2-block"):
        g = graphs[name]
        layers = build_schedule(g)
        macs = macs_of(g)
        ref, m4 = results[name]["reference"]["layers"], results[name]["m4"]["layers"]
        cm = CMSIS_NN.get(name)
        rows = []
        for i, layer in enumerate(layers):
            c = cm[i] if cm and len(cm) == len(layers) else None
            per = lambda v: f"{v / macs[i]:.2f}" if macs[i] else "-"  # noqa: E731
            dense = "-"
            if dense_target_applies(g, layer):
                met = m4[i] / macs[i] <= DENSE_TARGET
                dense = f"yes: {'met' if met else 'NOT met'}"
                dense_rows.append((name, layer.name, m4[i] / macs[i], met))
            rows.append([i, layer.name, kernel_name(g, layer), f"{macs[i]:,}", f"{ref[i]:,}", per(ref[i]),
                         f"{m4[i]:,}", per(m4[i]), dense, f"{c:,}" if c else "-", per(c) if c else "-"])
        lines += [f"### {name}: per layer (`ea-layers`)", ""]
        lines += [md_table(["#", "layer", "kernel", "MACs", "reference", "i/MAC", "M4 SIMD", "i/MAC",
                                f">= 32-ch dense 3x3/1x1 (M4 <= {DENSE_TARGET})", "CMSIS-NN", "i/MAC"], rows), ""]
    worst = max(dense_rows, key=lambda r: r[2])
    lines.insert(dense_at, f"Dense 3x3 and 1x1 layers with >= 32 input channels (target <= {DENSE_TARGET} "
                 f"instr/MAC on the M4): {sum(r[3] for r in dense_rows)} of {len(dense_rows)} met, "
                 f"{min(r[2] for r in dense_rows):.2f}-{worst[2]:.2f} instr/MAC (highest: {worst[0]} "
                 f"{worst[1]}); the column `>= 32-ch` marks them per layer.")
    lines.insert(dense_at + 1, "")


def gap8_section(graphs, work, lines, record):
    target = load_target("gap8")
    cores = target["num_cores"]
    d = export(work, "pair", graphs["big"], graphs["small"], "gap8")
    got = measure(target, d, work / "fw-gap8", "", ["big", "small"])
    record["gap8"] = got
    rows = []
    for role in ("big", "small"):
        r = got[role]
        total = sum(r["cores"])
        rows.append([role, f"{r['frame']:,}", f"{total:,}", f"{total / r['frame']:.2f}x",
                     f"{GAP8_TARGETS[role] / 1e6:.1f} M ({'met' if r['frame'] <= GAP8_TARGETS[role] else 'NOT met'})"])
    lines += [GAP8_HEADING, ""]
    lines += [md_table(["model", "critical path / frame", "sum of 8 cores", "speed-up", "target"], rows), ""]
    balance_rows = []
    for name, g in graphs.items():  # the split rule on every network (only big and small run here)
        plans = [(split_plan(g, layer, cores), layer) for layer in build_schedule(g)]
        worst, layer = min(plans, key=lambda pl: pl[0]["balance"])
        balance_rows.append([name, "yes" if name in ("big", "small") else "no", len(plans), layer.name, worst["dim"],
                             f"{worst['min_share']}/{worst['max_share']}", f"{worst['balance']:.2f}",
                             "met" if worst["balance"] >= 0.5 else "NOT met"])
    lines += ["No core under half the busiest's work, layer by layer (items of the split rule, "
              "`edgeadapt.codegen.kernels.split_plan`, the mirror of the C rule: a count, not a measurement):", ""]
    lines += [md_table(["network", "run on GAP8 here", "layers", "least balanced layer", "split",
                        "least/busiest core (items)", "least / busiest", ">= 0.5"], balance_rows), ""]
    for role in ("big", "small"):
        g = graphs[role]
        layers = build_schedule(g)
        rows = []
        for i, layer in enumerate(layers):
            plan = split_plan(g, layer, cores)
            rows.append([i, layer.name, kernel_name(g, layer), plan["dim"], plan["extent"],
                         f"{plan['min_share']}/{plan['max_share']}", f"{plan['balance']:.2f}",
                         f"{got[role]['layers'][i]:,}"])
        lines += [f"### GAP8 {role}: split per layer", ""]
        lines += [md_table(["#", "layer", "kernel", "split", "extent", "least/busiest core (items)",
                                "least / busiest", "critical path"], rows), ""]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", default=str(ROOT / "build" / "bench-kernels"))
    ap.add_argument("--skip-gap8", action="store_true")
    ap.add_argument("--skip-m4", action="store_true")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    graphs = networks()
    lines = ["# Kernels: instructions per layer and per frame (emulated)", "",
             "Produced by `python benchmarks/kernels.py`. Counts are QEMU `-icount shift=0` instructions "
             "read by the firmware itself (`ea-step`, `ea-layers`; SysTick x 40 on mps2-an386, so a "
             "resolution of 40), not cycles of real silicon. `reference` = firmware/kernels/ "
             "(`make KERNEL_ARCH=`), `M4 SIMD` = the drop-ins of firmware/kernels/arm/ (the Cortex-M4 "
             "ports' default). CMSIS-NN figures are a recorded anchor: CMSIS-NN 99f736a6, "
             "arm-none-eabi-gcc 12.2 `-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -O2`, "
             "built outside this repository on the same shapes, run on QEMU 7.2 mps2-an386 "
             "`-icount shift=0`, every call bit-exact against plain C; this script does not build it.", ""]
    header = list(lines)
    record = {}
    if not args.skip_m4:
        m4_section(graphs, work, lines, record)
        print("\n".join(lines), flush=True)
    if not args.skip_gap8:
        start = len(lines)
        gap8_section(graphs, work, lines, record)
        print("\n".join(lines[start:]), flush=True)
    out = ROOT / "benchmarks" / "results" / "kernels.md"
    if args.skip_m4 and out.exists():  # keep the recorded Cortex-M4 part, replace the GAP8 one
        kept = out.read_text().split("\n" + GAP8_HEADING)[0].rstrip("\n").split("\n")
        lines = kept + [""] + lines[len(header):]
    atomic_write_text(out, "\n".join(lines) + "\n")
    if args.json:
        write_json(args.json, record)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
