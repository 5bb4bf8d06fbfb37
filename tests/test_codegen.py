"""The exporter: targets, schedule and fusion, arena sizes, generated C (three compilers), manifest."""

import copy
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from edgeadapt.codegen import targets
from edgeadapt.codegen.bundle import generate
from edgeadapt.codegen.fusion import build_schedule
from edgeadapt.codegen.kernels import kernel_name
from edgeadapt.codegen.memory import plan_memory, scratch_per_core
from edgeadapt.codegen.planner import greedy_by_size, verify_plan
from edgeadapt.codegen.quickquant import quick_quantize
from edgeadapt.codegen.targets import load_target
from edgeadapt.errors import EdgeadaptError
from edgeadapt.ir.onnx_import import import_torch
from edgeadapt.models import registry
from test_codegen_support import TINY_HW, have, tiny_pair

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"
STRICT = ["-std=c99", "-Wall", "-Wextra", "-Werror"]


@pytest.fixture(scope="module")
def pair():
    return tiny_pair(big_bits="mixed", small_bits=4)


@pytest.fixture(scope="module")
def frontnet32():
    graph = import_torch(registry.build("frontnet-160x32").eval(), (96, 160), "frontnet-160x32")
    return quick_quantize(graph, None, 8)


# ------------------------------------------------------------------ targets


def test_targets_load_with_memories_clocks_and_aliases():
    gap8 = load_target("gap8")
    assert gap8["num_cores"] == 8
    assert gap8["memories"]["l2"]["size"] == 512 * 1024 and gap8["memories"]["l1"]["size"] == 64 * 1024
    assert gap8["placement"] == {"weights": "l2", "arena": "l2"}
    points = {p["name"]: p for p in gap8["operating_points"]}
    assert (points["max-performance"]["fc_mhz"], points["max-performance"]["cl_mhz"]) == (250, 170)
    assert points["max-performance"]["power_by_model_mw"] == {"fsoa": 92.2, "m1_0": 88.3, "fsmall": 81.3}
    assert {(p["fc_mhz"], p["cl_mhz"], p["vdd_v"]) for p in points.values()} == {(250, 170, 1.2), (25, 75, 1.0), (25, 25, 1.0)}
    stm32 = load_target("stm32")  # alias
    assert stm32["name"] == "stm32f405"
    assert stm32["memories"]["flash"]["size"] == 1 << 20
    assert stm32["memories"]["sram"]["size"] == 128 * 1024 and stm32["memories"]["ccm"]["size"] == 64 * 1024
    assert stm32["clocks"]["cpu_mhz"] == 168 and stm32["qemu"]["machine"] == "netduinoplus2"
    assert stm32["operating_points"][0]["power_verified"] is False
    assert load_target("mps2-an386")["qemu"]["machine"] == "mps2-an386"
    assert set(targets.known_targets()) >= {"gap8", "stm32f405", "mps2-an386", "host"}


def test_unknown_target_lists_the_known_ones():
    with pytest.raises(EdgeadaptError, match=r"unknown target 'esp32' \(known: gap8, host, mps2-an386, stm32f405"):
        load_target("esp32")


def test_malformed_target_file_is_refused_naming_the_key(tmp_path, monkeypatch):
    text = (targets.targets_dir() / "host.toml").read_text()
    (tmp_path / "host.toml").write_text(text.replace("reserved = 0\ndescription = \"nominal 64 MiB for the arena\"",
                                                     "reserved = -5\ndescription = \"x\""))
    monkeypatch.setattr(targets, "TARGETS_DIR", tmp_path)
    with pytest.raises(EdgeadaptError, match=r"host.toml: memories.ram.reserved must be a byte count"):
        load_target("host")
    (tmp_path / "host.toml").write_text("name = [")
    with pytest.raises(EdgeadaptError, match="host.toml: not valid TOML"):
        load_target("host")


# ------------------------------------------------------------------ schedule and memory


def test_schedule_fuses_conv_maxpool_and_aliases_flatten(pair):
    big, small = pair
    layers = build_schedule(big)
    kinds = [layer.kind for layer in layers]
    assert kinds == ["conv_maxpool", "conv", "conv", "add", "concat", "avgpool", "conv", "fc"]
    assert layers[0].name == "stem_0_conv+stem_2_maxpool" and layers[0].output == "stem_2_maxpool"
    assert layers[-1].inputs == ["conv_0_conv"]  # flatten is a name for its input buffer
    unfused = build_schedule(big, fuse=False)
    assert [layer.kind for layer in unfused][:2] == ["conv", "maxpool"]
    assert [layer.kind for layer in build_schedule(small)] == ["conv", "conv", "gap", "fc"]


def test_unsupported_op_fails_naming_the_node(pair):
    big = copy.deepcopy(pair[0])
    big.node("add").op = "sigmoid"
    with pytest.raises(EdgeadaptError, match=r"node 'add' has op 'sigmoid', which the runtime has no kernel for"):
        build_schedule(big)
    with pytest.raises(EdgeadaptError, match="node 'add'"):
        generate(big, pair[1], "host")


def test_unquantized_graph_is_refused():
    graph = import_torch(TinyConv().eval(), TINY_HW, "float")
    with pytest.raises(EdgeadaptError, match="not quantized|no fixed-point format"):
        build_schedule(graph)


class TinyConv(nn.Module):
    """conv 3x3 (1 -> channels), global average pool, fc -> 4."""

    def __init__(self, channels=4, stride=2):
        super().__init__()
        self.conv = nn.Conv2d(1, channels, 3, stride, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, 4)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(torch.relu(self.conv(x))), 1))


def test_frontnet_160x32_arena_with_and_without_fusion(frontnet32):
    fused = plan_memory(frontnet32)
    unfused = plan_memory(frontnet32, fuse=False)
    # input 15,360 + pooled first layer 30,720 + scratch: one conv row 80 x 32 + two 5x5 patches
    assert fused.arena_bytes == 15360 + 30720 + 2616 == 48696
    # the Cortex-M4 kernels' one-channel path: four int16 patches, the 32 int16 weight rows (26
    # taps), a 16-byte table row per channel pair and 3 bytes of alignment: 4,691, rounded up to 8
    assert 80 * 32 + (8 + 2 * 32) * 26 + 16 * 16 + 3 == 4691
    assert plan_memory(frontnet32, kernels="arm").arena_bytes == 15360 + 30720 + 4696
    assert fused.arena_bytes <= 48 * 1024
    assert unfused.arena_bytes == 122880 + 30720 == 153600  # the conv's full output + the pool's
    for mp in (fused, unfused):
        verify_plan(mp.plan, 8)
        assert mp.arena_bytes <= greedy_by_size(mp.buffers, 8).arena_bytes


def test_scratch_is_one_slice_per_core(frontnet32):
    one = plan_memory(frontnet32, num_cores=1)
    eight = plan_memory(frontnet32, num_cores=8)
    assert one.scratch[0] == eight.scratch[0] == 2616  # 80 * 32 + 2 * 25, rounded up to 8
    assert eight.size("scratch0") == 8 * 2616
    assert eight.arena_bytes == 15360 + 30720 + 8 * 2616


def test_shipped_size_pair_shares_one_arena_under_96k():
    big = quick_quantize(import_torch(registry.build("mobilenet-160x16").eval(), (96, 160), "mobilenet-160x16"))
    small = quick_quantize(import_torch(registry.build("frontnet-160x16").eval(), (96, 160), "frontnet-160x16"))
    files, manifest = generate(big, small, "stm32")
    arenas = {role: m["arena_bytes"] for role, m in manifest["models"].items()}
    assert manifest["arena_bytes"] == max(arenas.values()) <= 96 * 1024
    # the widest pointwise layer, in + out + the Cortex-M4 pointwise scratch (a table of 4 words
    # per channel pair, the pair buffer of 32 widened values: 4 * (4 * 32 + 4 * 8 + 6) + 3 -> 672)
    assert arenas["big"] == 24 * 40 * 32 + 24 * 40 * 64 + 672
    assert f"#define EA_ARENA_BYTES {manifest['arena_bytes']}" in files["ea_models.h"]
    sram = manifest["memories"]["sram"]
    assert sram["used"] == sram["reserved"] + manifest["arena_bytes"] <= 128 * 1024


def test_pair_too_big_for_the_target_names_memory_need_and_overflow(pair):
    # a full-resolution 16-channel map: 96 x 160 x 16 = 245,760 B of activations
    wide = quick_quantize(import_torch(TinyConv(16, 1).eval(), (96, 160), "wide"))
    small = quick_quantize(import_torch(TinyConv(4, 2).eval(), (96, 160), "narrow"))
    assert plan_memory(wide).arena_bytes == 96 * 160 * (1 + 16) + 24  # frame + conv output + two 3x3 patches
    # the STM32 port builds the Cortex-M4 kernels: four int16 3x3 patches, 16 int16 weight rows (10
    # taps), a 16-byte table row per channel pair, 3 bytes of alignment (531, rounded up to 8)
    arena = plan_memory(wide, kernels="arm").arena_bytes
    assert arena == 96 * 160 * (1 + 16) + 536 and (8 + 2 * 16) * 10 + 16 * 8 + 3 == 531
    reserved = load_target("stm32")["memories"]["sram"]["reserved"]
    overflow = arena + reserved - 131072
    with pytest.raises(EdgeadaptError) as info:
        generate(wide, small, "stm32")
    message = str(info.value)
    assert "memory 'sram'" in message and "stm32f405" in message
    assert f"needs {arena + reserved:,} B" in message and f"overflow {overflow:,} B" in message
    files, manifest = generate(wide, small, "mps2-an386")  # 4 MB of RAM: fits
    assert manifest["memories"]["ram"]["placed"] == arena


def test_models_with_different_inputs_are_refused(pair):
    other = quick_quantize(import_torch(TinyConv(4, 2).eval(), (24, 40), "other"))
    with pytest.raises(EdgeadaptError, match=r"input \(48, 80\) and small input \(24, 40\) differ"):
        generate(pair[0], other, "host")


# ------------------------------------------------------------------ manifest


def test_manifest_counts_macs_weights_and_memories(frontnet32):
    files, manifest = generate(frontnet32, _frontnet16(), "gap8")
    big = manifest["models"]["big"]
    assert big["macs"] == 14_138_880 == registry.info("frontnet-160x32")["macs"]
    weights = sum(n.qweight.size + 5 * n.qweight.shape[0] for n in frontnet32.nodes if n.qweight is not None)
    assert big["weight_bytes"] == weights
    assert big["num_layers"] == 8 and big["layers"][0]["kind"] == "conv_maxpool"
    assert big["layers"][0]["output_bytes"] == 30720 and big["layers"][0]["scratch_bytes"] == 8 * 2616
    assert manifest["flash_bytes"] == big["weight_bytes"] + manifest["models"]["small"]["weight_bytes"] + 8
    l2 = manifest["memories"]["l2"]
    assert l2["placed"] == manifest["flash_bytes"] + manifest["arena_bytes"]  # GAP8: both in L2
    assert set(manifest) >= {"target", "models", "arena_bytes", "flash_bytes", "ram_bytes", "memories"}
    assert "__attribute__((section(\".l2_data\")))" in files["ea_models.h"]
    assert "#define EA_NUM_CORES   8" in files["ea_models.h"]


def _frontnet16():
    graph = import_torch(registry.build("frontnet-160x16").eval(), (96, 160), "frontnet-160x16")
    return quick_quantize(graph, None, 8)


# ------------------------------------------------------------------ the generated C compiles


@pytest.mark.parametrize("target", ["host", "stm32f405", "gap8", "mps2-an386"])
def test_generated_c_compiles_warning_free(pair, target, tmp_path):
    """With the compiler and flags of the target description (host cc, arm-none-eabi Cortex-M4,
    riscv64-unknown-elf -march=rv32imc -mabi=ilp32)."""
    desc = load_target(target)
    cc, flags = desc["compiler"]["cc"], desc["compiler"]["cflags"]
    if not have(cc):
        pytest.skip(f"{cc} not installed")
    files, _ = generate(*pair, target)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    includes = [f"-I{FIRMWARE / 'include'}", f"-I{FIRMWARE / 'policy'}", f"-I{tmp_path}"]
    for name in files:
        if name.endswith(".c"):
            r = subprocess.run([cc, *STRICT, *flags, *includes, "-c", str(tmp_path / name), "-o",
                                str(tmp_path / (name + ".o"))], capture_output=True, text=True)
            assert r.returncode == 0, f"{cc} {name}:\n{r.stderr}"
            assert r.stderr == ""


PROBE = r"""
#include <stdio.h>
#include "ea_model_{role}.c"
uint8_t ea_arena[EA_ARENA_BYTES];
void ea_hal_fork(void (*fn)(const ea_ctx_t *ctx, void *arg), void *arg) {{ (void)fn; (void)arg; }}
void ea_layer_done(int m, int layer, const int8_t *out, uint32_t bytes) {{ (void)m; (void)layer; (void)out; (void)bytes; }}
int main(void)
{{
{lines}
    return 0;
}}
"""
@pytest.mark.parametrize("kernel_set", ["reference", "arm"])
def test_scratch_sizes_match_the_kernels_get_buffer_size(pair, kernel_set, tmp_path):
    """The planner's scratch per layer equals the C *_get_buffer_size of the kernel set (the arm
    drop-ins build on the host with the C twins of their instructions)."""
    if not have("gcc"):
        pytest.skip("gcc not installed")
    files, _ = generate(*pair, "host")
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    kernels = sorted((FIRMWARE / "kernels").glob("*.c"))
    if kernel_set != "reference":
        drop_ins = sorted((FIRMWARE / "kernels" / kernel_set).glob("*.c"))
        kernels = [k for k in kernels if k.name not in {d.name for d in drop_ins}] + drop_ins
    seen_cin1 = False
    for role, graph in zip(("big", "small"), pair):
        mp = plan_memory(graph, kernels=kernel_set)
        lines, expected = [], []
        for layer in mp.layers:
            kernel = kernel_name(graph, layer)
            if layer.kind not in ("conv", "conv_maxpool", "fc"):
                continue  # pools, add, concat have no scratch and no size twin
            seen_cin1 |= graph.tensors[layer.inputs[0]].shape[2] == 1
            lines.append(f'    printf("%ld\\n", (long){kernel}_get_buffer_size(&{role}_l{layer.index}_params));')
            expected.append(scratch_per_core(graph, layer, kernel_set))
        src = tmp_path / f"probe_{role}.c"
        src.write_text(PROBE.format(role=role, lines="\n".join(lines)))
        exe = tmp_path / f"probe_{role}"
        r = subprocess.run(["gcc", "-std=c99", "-O0", f"-I{FIRMWARE / 'include'}", f"-I{tmp_path}", str(src),
                            *map(str, kernels), "-o", str(exe)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        got = [int(v) for v in subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()]
        assert got == expected
        assert any(expected)  # the pair has 4/2-bit layers and a fused conv + pool: real scratch
    assert seen_cin1  # the big model's 8-bit first layer reads the one-channel frame: the M4 Cin = 1 path


def test_generated_code_uses_planned_offsets_and_weight_section(pair):
    files, manifest = generate(*pair, "gap8")
    big = files["ea_model_big.c"]
    row = manifest["models"]["big"]["layers"][0]
    assert "ea_conv2d_maxpool_s8(&c, &big_l0_params" in big
    assert f"(int8_t *)(ea_arena + {row['output_offset']}u)" in big
    assert f"ea_arena + {row['scratch_offset']}u + (uint32_t)ctx->core_id * " in big
    assert "static const int8_t big_l0_weights[72] EA_L2_DATA" in big
    assert "ea_pointwise_conv2d_s8" in big and "ea_add_s8" in big and "ea_concat_s8" in big
    assert "ea_avg_pool_s8" in files["ea_model_small.c"] and "ea_fully_connected_s8_s32" in files["ea_model_small.c"]
    assert "EA_POLICY_ALWAYS_SMALL" in files["ea_policy_default.c"]
    fls = manifest["models"]["small"]["output_fl"]
    assert len(fls) == 5 and f"{{\n    {', '.join(map(str, fls))},\n}};" in files["ea_models.c"]


def test_every_layer_is_routed_to_its_fastest_kernel(tmp_path):
    """Depthwise convolutions run ea_depthwise_conv2d_s8 with tap-major weights, 1x1 ones the
    pointwise kernel, and `edgeadapt export` prints the kernel of every layer."""
    from click.testing import CliRunner

    from edgeadapt.cli import cli
    from edgeadapt.codegen.kernels import depthwise_weight_layout
    from edgeadapt.quant.artifact import save_eaq
    from edgeadapt.quant.intops import pack_weights

    graph = quick_quantize(import_torch(registry.build("mobilenet-160x16").eval(), (96, 160), "mobilenet-160x16"), None, 8)
    mp = plan_memory(graph)
    kernels = [kernel_name(graph, layer) for layer in mp.layers]
    dw = [layer for layer, k in zip(mp.layers, kernels) if k == "ea_depthwise_conv2d_s8"]
    assert len(dw) == 8 and all(layer.main.attrs["groups"] > 1 for layer in dw)
    assert kernels.count("ea_pointwise_conv2d_s8") == 8
    assert all(scratch_per_core(graph, layer) == 4 * layer.main.qweight.shape[0] for layer in dw)
    files, manifest = generate(graph, _frontnet16(), "mps2-an386")
    big = files["ea_model_big.c"]
    layer = dw[0]
    assert f"ea_depthwise_conv2d_s8(&c, &big_l{layer.index}_params" in big
    taps = pack_weights(depthwise_weight_layout(layer.main.qweight), 8).view(np.int8).ravel()
    head = ", ".join(str(int(v)) for v in taps[:16])
    assert f"big_l{layer.index}_weights[{taps.size}] EA_L2_DATA = {{\n    {head}," in big
    assert [r["kernel"] for r in manifest["models"]["big"]["layers"]] == kernels
    paths = {}
    for role, g in (("big", graph), ("small", _frontnet16())):
        paths[role] = tmp_path / f"{role}.eaq"
        save_eaq(g, paths[role])
    out = CliRunner().invoke(cli, ["export", "--target", "host", "--big", str(paths["big"]), "--small",
                                    str(paths["small"]), "--out", str(tmp_path / "bundle")])
    assert out.exit_code == 0, out.output
    rows = [line.split() for line in out.output.splitlines() if line.startswith("big ")]
    assert sum("ea_depthwise_conv2d_s8" in r for r in rows) == 8
    assert sum("ea_conv2d_maxpool_s8" in r or "ea_conv2d_s8" in r for r in rows) >= 1


def test_fully_connected_with_fewer_outputs_than_cores_splits_k_on_gap8():
    """The small pose head (4-6 outputs) on GAP8's 8 cores: the planner reserves one int32 partial
    sum per output and core (ea_fully_connected_team_buffer_size), the emitted layer hands each core
    its slice, and split_plan reports the K split with no core under half the busiest's inputs;
    on one core (or with as many outputs as cores) nothing changes."""
    from edgeadapt.codegen.kernels import split_plan, team_scratch

    graph = _frontnet16()
    mp8 = plan_memory(graph, num_cores=8)
    fc = [layer for layer in mp8.layers if layer.kind == "fc"]
    assert len(fc) == 1
    layer = fc[0]
    outputs = int(np.prod(graph.tensors[layer.output].shape))
    k = int(np.prod(graph.tensors[layer.inputs[0]].shape))
    assert outputs < 8
    assert team_scratch(graph, layer, 8) == 4 * outputs and team_scratch(graph, layer, outputs) == 0
    assert mp8.scratch[layer.index] == -(-4 * outputs // 8) * 8  # aligned slice per core
    assert plan_memory(graph, num_cores=1).scratch[layer.index] == 0
    files, _ = generate(graph, graph, "gap8")
    assert f"(uint32_t)ctx->core_id * {mp8.scratch[layer.index]}u" in files["ea_model_big.c"]
    plan = split_plan(graph, layer, 8)
    assert plan["dim"] == "inputs" and plan["extent"] == k
    assert layer.main.weight_bits == 8  # K slices of whole inputs
    assert plan["max_share"] == -(-k // 8) and plan["min_share"] == k // 8 and plan["balance"] >= 0.5
    assert split_plan(graph, layer, outputs)["dim"] == "channels"
