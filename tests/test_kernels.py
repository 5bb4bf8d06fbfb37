"""The C reference kernels (firmware/kernels/) against the golden numpy ops (edgeadapt.quant.intops).

Random cases are written as text files, run by the host driver firmware/tests/kernel_runner/ (built
with gcc and the address/undefined-behaviour sanitizers) and compared byte for byte with intops. The
driver calls each kernel once per core id and reports, per output byte, how many cores wrote it; it
also checks the scratch canary and that a too-small scratch buffer is refused without writing.
"""

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edgeadapt.codegen.kernels import depthwise_weight_layout
from edgeadapt.quant import intops

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"
KERNEL_SOURCES = sorted((FIRMWARE / "kernels").glob("*.c"))
KERNEL_SETS = ("reference", "arm")  # firmware/kernels/ and the Cortex-M4 drop-ins of kernels/arm/


def kernel_sources(kernel_set):
    """The C files of a kernel set: the reference kernels, each replaced by its drop-in of the
    same name (as the firmware Makefile's KERNEL_ARCH does). On the host the drop-ins build with
    the C twins of their SIMD instructions (kernels/arm/ea_simd.h)."""
    if kernel_set == "reference":
        return KERNEL_SOURCES
    drop_ins = sorted((FIRMWARE / "kernels" / kernel_set).glob("*.c"))
    replaced = {p.name for p in drop_ins}
    return [p for p in KERNEL_SOURCES if p.name not in replaced] + drop_ins
RUNNER_SOURCE = FIRMWARE / "tests" / "kernel_runner" / "kernel_runner.c"
ACT_CODES = {"none": 0, "relu": 1, "relu6": 2}
EA_OK, EA_ERR_ARG, EA_ERR_BUFFER = 0, -1, -2
STRICT = ["-std=c99", "-Wall", "-Wextra", "-Werror"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
CORE_COUNTS = (1, 3, 8)


# ------------------------------------------------------------------ the host driver


@pytest.fixture(scope="session", params=KERNEL_SETS)
def runner(request):
    if shutil.which("gcc") is None:
        pytest.skip("host gcc not installed: cannot build firmware/tests/kernel_runner")
    out_dir = ROOT / "build" / "kernel_runner"
    out_dir.mkdir(parents=True, exist_ok=True)
    exe = out_dir / f"kernel_runner-{request.param}-{os.getpid()}"  # private per process: runs may overlap
    base = ["gcc", *STRICT, "-O1", "-g", f"-I{FIRMWARE / 'include'}", str(RUNNER_SOURCE),
            *map(str, kernel_sources(request.param)), "-pthread", "-o", str(exe)]
    built = subprocess.run(base[:1] + SANITIZE + base[1:], capture_output=True, text=True)
    if built.returncode != 0 and "sanitize" in built.stderr:
        built = subprocess.run(base, capture_output=True, text=True)  # no sanitizer runtime here
    assert built.returncode == 0, built.stderr
    yield KernelRunner(exe, request.param)
    exe.unlink(missing_ok=True)


class KernelRunner:
    def __init__(self, exe, kernel_set):
        self.exe = exe
        self.kernel_set = kernel_set

    def run(self, cases, tmp_path):
        """Run every case (op, records) in one driver process; return their result records."""
        paths = []
        for i, (op, records) in enumerate(cases):
            path = tmp_path / f"case{i:03d}.txt"
            lines = [f"op {op}"]
            for name, values in records.items():
                flat = np.asarray(values).astype(np.int64).ravel()
                lines.append(f"{name} {flat.size} " + " ".join(map(str, flat.tolist())))
            path.write_text("\n".join(lines) + "\n")
            paths.append(path)
        done = subprocess.run([str(self.exe), *map(str, paths)], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        return [_read_records(Path(f"{p}.out")) for p in paths]


def _read_records(path):
    tokens = path.read_text().split()
    records, i = {}, 0
    while i < len(tokens):
        name, count = tokens[i], int(tokens[i + 1])
        records[name] = np.array(tokens[i + 2 : i + 2 + count], dtype=np.int64)
        i += 2 + count
    return records


def run_and_check(runner, cases, tmp_path):
    """Run (case, expected, label) triples in one kernel-runner session and check each result."""
    results = runner.run([c for c, _, _ in cases], tmp_path)
    assert len(results) == len(cases)
    for (_, expected, label), result in zip(cases, results):
        check(result, expected, label)


def check(result, expected, label):
    """The kernel ran, every output byte was written by exactly one core and equals `expected`."""
    assert result["status"][0] == EA_OK, f"{label}: status {result['status'][0]}"
    assert result["canary_ok"][0] == 1, f"{label}: wrote past its scratch buffer"
    assert result["untouched_on_error"][0] == 1, f"{label}: a refused call wrote output"
    want_short = EA_ERR_BUFFER if result["scratch"][0] > 0 else 1
    assert result["short_buffer_status"][0] == want_short, f"{label}: short scratch not refused"
    assert result["null_ctx_ok"][0] == 1, f"{label}: wrong result with ctx == NULL"
    writes = result["writes"]
    assert np.all(writes == 1), f"{label}: bytes written by {sorted(set(writes.tolist()))} cores"
    if "team_status" in result:  # the cores at once, sharing a barrier (a fully connected layer's K split)
        assert result["team_status"][0] == EA_OK, f"{label}: team status {result['team_status'][0]}"
        assert result["team_same"][0] == 1, f"{label}: the team's output differs from one core at a time"
        assert result["team_canary_ok"][0] == 1, f"{label}: the team wrote past its scratch"
        assert result["team_short_ok"][0] == 1, f"{label}: the team's short scratch wrote output or a wrong one"
    got = result["output"].astype(np.uint8)
    want = np.ascontiguousarray(expected).view(np.uint8).ravel()
    assert got.size == want.size, f"{label}: {got.size} output bytes, expected {want.size}"
    if not np.array_equal(got, want):
        first = int(np.flatnonzero(got != want)[0])
        pytest.fail(f"{label}: {int((got != want).sum())} bytes differ, first at byte {first}: "
                    f"C {got[first]} vs intops {want[first]}")


# ------------------------------------------------------------------ random operands


def rand_int8(rng, shape, amplitude=128):
    return rng.integers(-amplitude, amplitude, shape).astype(np.int8)


def rand_act(rng, shape, unsigned=False, amplitude=128):
    """int8 codes in [-amplitude, amplitude), or uint8 codes in [0, 2 * amplitude) (docs/fixed-point.md 1.3)."""
    if unsigned:
        return rng.integers(0, min(2 * amplitude, 256), shape).astype(np.uint8)
    return rand_int8(rng, shape, amplitude)


def rand_weights(rng, shape, bits):
    lo, hi = intops.weight_range(bits)
    return rng.integers(lo, hi + 1, shape).astype(np.int8)


def rand_bias(rng, w, peak=128):
    """Bias within the accumulator bound |bias| + X * sum|w| < 2^30 (X = peak: 128 for an int8
    input, 255 for uint8), sometimes large."""
    rows = np.abs(w.astype(np.int64)).reshape(len(w), -1).sum(axis=1)
    room = (1 << 30) - 1 - peak * rows
    assert np.all(room > 0)
    scale = rng.choice([0, 1 << 10, 1 << 16, 1 << 29], size=len(w))
    limit = np.minimum(room, scale)
    return (rng.uniform(-1, 1, len(w)) * limit).astype(np.int32)


def rand_shifts(rng, acc):
    """Per-channel shifts near each channel's natural range (so both rounding and saturation
    happen), with the extremes -8, 0 and 30 mixed in."""
    peak = np.abs(acc.reshape(-1, acc.shape[-1])).max(axis=0)
    natural = np.ceil(np.log2(peak + 1)).astype(np.int64) - 7
    shift = np.clip(natural + rng.integers(-2, 2, natural.size), -8, 30)
    extremes = rng.random(shift.size) < 0.2
    shift[extremes] = rng.choice([-8, -1, 0, 30], size=int(extremes.sum()))
    return shift.astype(np.int8)


def conv_case(rng, *, h, w, cin, cout, k, stride, pads, groups, bits, act, cores, amplitude=128,
              bias=True, op="conv2d", fl_out=None, in_u=False, out_u=False, dilation=(1, 1), min_shift=None):
    """Records for one convolution and the intops expectation (HWC; int8, or uint8 input / output
    with in_u / out_u; shifts clipped at min_shift when given)."""
    kh, kw = (k, k) if np.isscalar(k) else k
    x = rand_act(rng, (1, h, w, cin), in_u, amplitude)
    wt = rand_weights(rng, (cout, kh, kw, cin // groups), bits)
    b = rand_bias(rng, wt, intops.input_peak(in_u)) if bias else None
    acc = intops.conv2d_acc(x, wt, b, stride, pads, groups, dilation)
    shift = rand_shifts(rng, acc)
    if min_shift is not None:
        shift = np.maximum(shift, min_shift).astype(np.int8)
    fl_out = int(rng.integers(-4, 9)) if fl_out is None else fl_out
    expected = intops.conv2d(x, wt, b, shift, stride, pads, groups, act, fl_out, out_u, dilation)[0]
    records = {
        "in_h": h, "in_w": w, "in_c": cin, "out_c": cout, "kernel": (kh, kw), "stride": stride,
        "pads": pads, "groups": groups, "weight_bits": bits, "act": ACT_CODES[act],
        "fl_out": fl_out, "shift": shift, "input": x, "weights": intops.pack_weights(wt, bits),
        "num_cores": cores, "in_type": int(in_u), "out_type": int(out_u),
    }
    if b is not None:
        records["bias"] = b
    if tuple(dilation) != (1, 1):
        records["dilation"] = dilation
    types = "" if not (in_u or out_u) else f" {'u8' if in_u else 's8'}->{'u8' if out_u else 's8'}"
    label = (f"{op} {h}x{w}x{cin}->{cout} k{kh}x{kw} s{stride} p{pads} g{groups} w{bits} {act} "
             f"cores {cores}{types}")
    return (op, records), expected, label


def depthwise_records(records):
    """The same depthwise case with its weights in ea_depthwise_conv2d_s8's tap-major layout
    (re-packed by the exporter's own transform)."""
    bits, (kh, kw) = records["weight_bits"], records["kernel"]
    wt = intops.unpack_weights(records["weights"], bits, (records["out_c"], kh, kw, 1))
    return dict(records, weights=intops.pack_weights(depthwise_weight_layout(wt), bits))


# ------------------------------------------------------------------ convolution


def test_conv2d_random_shapes(runner, tmp_path):
    rng = np.random.default_rng(101)
    cases = []
    for i in range(60):
        k = [(1, 1), (3, 3), (5, 5), (3, 1), (1, 5)][i % 5]
        kind = ("dense", "depthwise", "multiplier2", "grouped")[i % 4]
        cin = int(rng.choice([1, 3, 4, 5, 7, 8]))
        if kind == "dense":
            groups, cout = 1, int(rng.choice([1, 3, 5, 7, 8]))
        elif kind == "depthwise":
            groups, cout = cin, cin
        elif kind == "multiplier2":
            groups, cout = cin, 2 * cin
        else:
            cin = int(rng.choice([2, 4, 6]))
            groups, cout = 2, int(rng.choice([2, 4, 6]))
        pads = tuple(int(p) for p in rng.integers(0, [k[0] // 2 + 2, k[1] // 2 + 2] * 2))  # may exceed k/2
        h = int(rng.integers(max(1, k[0] - pads[0] - pads[2]), 12))
        w = int(rng.integers(max(1, k[1] - pads[1] - pads[3]), 12))
        cases.append(conv_case(
            rng, h=h, w=w, cin=cin, cout=cout, k=k, stride=(int(rng.integers(1, 3)), int(rng.integers(1, 3))),
            pads=pads, groups=groups, bits=(8, 4, 2)[i % 3], act=("none", "relu", "relu6")[(i // 3) % 3],
            cores=CORE_COUNTS[i % 3], amplitude=int(rng.choice([4, 128])), bias=i % 5 != 0))
    # the depthwise fast path on every depthwise case (multiplier 1 and 2)
    cases += [(("depthwise_conv2d", depthwise_records(case[1])), expected, label.replace("conv2d", "depthwise_conv2d", 1))
              for case, expected, label in cases if case[1]["groups"] == case[1]["in_c"]]
    run_and_check(runner, cases, tmp_path)
    assert sum(label.startswith("depthwise_conv2d") for _, _, label in cases) >= 25


def test_conv2d_saturation_and_shift_extremes(runner, tmp_path):
    """Tiny inputs with negative shifts (left shifts up to 2^8), and huge biases with shift 30."""
    rng = np.random.default_rng(7)
    cases = []
    for bits, act, amp in [(8, "none", 2), (4, "relu", 3), (2, "relu6", 2), (8, "relu6", 128)]:
        case, expected, label = conv_case(rng, h=6, w=7, cin=3, cout=5, k=3, stride=(1, 1),
                                          pads=(1, 1, 1, 1), groups=1, bits=bits, act=act, cores=3,
                                          amplitude=amp, fl_out=2)
        records = case[1]
        records["shift"] = np.array([-8, -3, 0, 1, 30], dtype=np.int8)
        x, wt = records["input"], intops.unpack_weights(records["weights"], bits, (5, 3, 3, 3))
        b = records.get("bias")
        expected = intops.conv2d(x, wt, b, records["shift"], (1, 1), (1, 1, 1, 1), 1, act, 2)[0]
        cases.append((case, expected, label + " extreme shifts"))
    run_and_check(runner, cases, tmp_path)
    unclamped = cases[0][1]  # act none: the left shifts must have saturated at both ends
    assert (unclamped == 127).any() and (unclamped == -128).any()


def test_pointwise_equals_general_conv(runner, tmp_path):
    rng = np.random.default_rng(202)
    cases = []
    for i in range(12):
        stride = (1, 1) if i % 2 == 0 else (2, 1)
        case, expected, label = conv_case(
            rng, h=int(rng.integers(1, 9)), w=int(rng.integers(1, 9)), cin=int(rng.choice([1, 3, 7, 16])),
            cout=int(rng.choice([1, 5, 8])), k=1, stride=stride, pads=(0, 0, 0, 0), groups=1,
            bits=(8, 4, 2)[i % 3], act=("none", "relu", "relu6")[i % 3], cores=CORE_COUNTS[i % 3],
            op="pointwise_conv2d")
        cases.append((case, expected, label))
        cases.append((("conv2d", case[1]), expected, label + " via conv2d"))
    run_and_check(runner, cases, tmp_path)


def test_packed_weight_layout_matches_the_spec(runner, tmp_path):
    """Hand-packed rows of section 2 read back through the s32 FC with one-hot inputs (out = w)."""
    # 4 bit: row [1, -8, 3] -> 0x81, 0x03; 2 bit: row [1, -2, 0, -1, 1] -> 0b11_00_10_01, 0x01
    layouts = [(4, [1, -8, 3], [0x81, 0x03]), (2, [1, -2, 0, -1, 1], [0xC9, 0x01])]
    cases = []
    for bits, row, packed in layouts:
        assert intops.pack_weights(np.array([row]), bits).ravel().tolist() == packed
        k = len(row)
        for i in range(k):
            x = np.zeros(k, np.int8)
            x[i] = 1
            cases.append(("fully_connected_s32", {
                "in_features": k, "out_features": 1, "weight_bits": bits, "act": 0, "fl_out": 0,
                "input": x, "weights": packed}))
    results = runner.run(cases, tmp_path)
    read_back = [int(r["output"].astype(np.uint8).view(np.int32)[0]) for r in results]
    assert read_back == [1, -8, 3, 1, -2, 0, -1, 1]


# ------------------------------------------------------------------ fused conv + max pool


def fused_case(rng, *, h, w, cin, cout, k, stride, pads, groups, bits, act, pool_k, pool_s, pool_pads,
               cores, in_u=False, out_u=False):
    case, conv_out, label = conv_case(rng, h=h, w=w, cin=cin, cout=cout, k=k, stride=stride, pads=pads,
                                      groups=groups, bits=bits, act=act, cores=cores, op="conv2d_maxpool",
                                      in_u=in_u, out_u=out_u)
    records = dict(case[1], pool_kernel=pool_k, pool_stride=pool_s, pool_pads=pool_pads)
    expected = intops.maxpool2d(conv_out[None], pool_k, pool_s, pool_pads)[0]
    return ("conv2d_maxpool", records), expected, f"{label} pool k{pool_k} s{pool_s} p{pool_pads}"


def test_conv2d_maxpool_equals_unfused_pair(runner, tmp_path):
    rng = np.random.default_rng(303)
    cases = []
    for i in range(24):
        pool_k = [(2, 2), (3, 3), (2, 3), (1, 2)][i % 4]
        pool_s = [(2, 2), (2, 2), (1, 2), (1, 1)][i % 4]
        pool_pads = (0, 0, 0, 0) if i % 3 else (1, 0, 0, 1)
        cin = int(rng.choice([1, 3, 5]))
        groups, cout = (1, int(rng.choice([3, 4, 7]))) if i % 2 == 0 else (cin, cin)
        cases.append(fused_case(
            rng, h=int(rng.integers(5, 14)), w=int(rng.integers(5, 14)), cin=cin, cout=cout,
            k=int(rng.choice([1, 3, 5])), stride=(int(rng.integers(1, 3)),) * 2, pads=(2, 1, 1, 2),
            groups=groups, bits=(8, 4, 2)[i % 3], act=("relu", "none", "relu6")[i % 3],
            pool_k=pool_k, pool_s=pool_s, pool_pads=pool_pads, cores=CORE_COUNTS[i % 3]))
    run_and_check(runner, cases, tmp_path)

    # the same pair unfused, in C: conv2d into a full buffer, then max_pool over it
    case, expected, label = cases[0]
    for sub in ("unfused_conv", "unfused_pool"):
        (tmp_path / sub).mkdir()
    conv = runner.run([("conv2d", case[1])], tmp_path / "unfused_conv")[0]
    records = case[1]
    conv_h = intops.conv_output_hw(records["in_h"], records["in_w"], records["kernel"], records["stride"],
                                   records["pads"])
    conv_out = conv["output"].astype(np.uint8).view(np.int8)
    pooled = runner.run([("max_pool", {
        "in_h": conv_h[0], "in_w": conv_h[1], "channels": records["out_c"], "kernel": records["pool_kernel"],
        "stride": records["pool_stride"], "pads": records["pool_pads"], "input": conv_out})], tmp_path / "unfused_pool")[0]
    check(pooled, expected, label + " unfused in C")


def test_conv2d_maxpool_frontnet_first_layer_scratch(runner, tmp_path):
    """Frontnet 160x32's first layer: 96x160x1, 5x5 stride 2 pad 2, 32 channels, 2x2 max pool.
    Unfused it needs the 48x80x32 = 122,880-byte conv output; fused, one conv row of 80x32 plus
    two 5x5x1 im2col patches (reference), or for the Cortex-M4 drop-in four int16 patches of 26
    taps (25 rounded up to even), the 32 int16 weight rows, a 16-byte table row per channel pair
    and 3 bytes to align them."""
    rng = np.random.default_rng(404)
    case = fused_case(rng, h=96, w=160, cin=1, cout=32, k=5, stride=(2, 2), pads=(2, 2, 2, 2), groups=1,
                      bits=8, act="relu", pool_k=(2, 2), pool_s=(2, 2), pool_pads=(0, 0, 0, 0), cores=8)
    result = runner.run([case[0]], tmp_path)[0]
    check(result, case[1], case[2])
    want = {"reference": 80 * 32 + 2 * 25, "arm": 80 * 32 + (8 + 2 * 32) * 26 + 16 * 16 + 3}[runner.kernel_set]
    assert result["scratch"][0] == want
    assert case[1].shape == (24, 40, 32)


def test_conv_pixel_range_split(runner, tmp_path):
    """Outputs with fewer rows and columns than cores (small's 6 x 10 x 16 layers on 8 cores, odd
    ones, width 1) are split into pixel ranges that start and end inside rows: every output
    written once and bit-exact, on the pixel-pair path (8-bit) and the one-pixel path (4/2-bit,
    grouped); the C split rule agrees with its Python mirror on these shapes."""
    from edgeadapt.codegen.kernels import IM2COL_PIXEL_COST, split_dim

    rng = np.random.default_rng(6010)
    shapes = [(12, 20, 16, 16, 2, (1, 1, 1, 1)), (6, 10, 16, 16, 1, (1, 1, 1, 1)), (5, 3, 6, 3, 1, (0, 1, 2, 1)),
              (7, 1, 4, 5, 1, (1, 0, 1, 0)), (3, 7, 8, 9, 1, (1, 1, 1, 1))]
    cases, picked = [], []
    for i, (h, w, cin, cout, stride, pads) in enumerate(shapes * 3):
        bits, groups = ((8, 1), (4, 1), (2, 1), (8, 2), (8, 1))[i % 5]
        cin_g, cout_g = (cin, cout) if groups == 1 else (cin - cin % 2, cout - cout % 2)
        case = conv_case(rng, h=h, w=w, cin=cin_g, cout=cout_g, k=(3, 3 if w > 1 else 1), stride=(stride, stride),
                         pads=pads if w > 1 else (1, 0, 1, 0), groups=groups, bits=bits, act="relu", cores=8)
        out_h, out_w, out_c = case[1].shape
        picked.append(split_dim(8, {"rows": out_h, "columns": out_w, "channels": out_c},
                                ("rows", "columns", "channels", "pixels"), IM2COL_PIXEL_COST))
        cases.append(case)
    assert picked.count("pixels") >= 6, picked  # the cases do exercise the pixel split
    run_and_check(runner, cases, tmp_path)


def test_split_rule_is_the_same_in_c_and_python(tmp_path):
    """ea_split_dim (firmware/include/ea_types.h) and edgeadapt.codegen.kernels.split_dim pick the
    same dimension for every shape of a grid, every dimension set and pixel cost."""
    from edgeadapt.codegen.kernels import split_dim

    if shutil.which("gcc") is None:
        pytest.skip("host gcc not installed")
    names = ("rows", "columns", "channels", "pixels")
    sizes = (1, 2, 3, 5, 7, 8, 10, 12, 17, 24)
    masks = (7, 15, 5, 9, 1 | 8, 4 | 8)
    probe = tmp_path / "split_probe.c"
    probe.write_text('#include <stdio.h>\n#include "ea_types.h"\nint main(void)\n{\n'
                     f"    static const int s[] = {{{', '.join(map(str, sizes))}}};\n"
                     f"    static const unsigned m[] = {{{', '.join(map(str, masks))}}};\n"
                     "    for (int cores = 1; cores <= 8; cores += 7) for (int a = 0; a < %d; a++) for (int b = 0; b < %d; b++)\n"
                     "        for (int c = 0; c < %d; c++) for (int k = 0; k < %d; k++) for (int pc = 0; pc <= 2; pc += 2)\n"
                     "            printf(\"%%d\\n\", ea_split_dim(cores, s[a], s[b], s[c], m[k], pc));\n"
                     "    return 0;\n}\n" % (len(sizes), len(sizes), len(sizes), len(masks)))
    exe = tmp_path / "split_probe"
    subprocess.run(["gcc", *STRICT, f"-I{FIRMWARE / 'include'}", str(probe), "-o", str(exe)], check=True)
    got = [int(v) for v in subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()]
    want = []
    for cores in (1, 8):
        for h in sizes:
            for w in sizes:
                for c in sizes:
                    for m in masks:
                        dims = tuple(n for i, n in enumerate(names) if m & (1 << i))
                        for pc in (0, 2):
                            d = split_dim(cores, {"rows": h, "columns": w, "channels": c}, dims, pc)
                            want.append(names.index(d))
    assert got == want


# ------------------------------------------------------------------ fully connected


def test_fully_connected_int8_and_int32(runner, tmp_path):
    rng = np.random.default_rng(505)
    cases = []
    for i in range(30):
        k, cout = int(rng.choice([1, 3, 5, 7, 64, 129])), int(rng.choice([1, 4, 7, 10]))
        bits, act, cores = (8, 4, 2)[i % 3], ("none", "relu", "relu6")[(i // 3) % 3], CORE_COUNTS[i % 3]
        x = rand_int8(rng, (1, k), int(rng.choice([3, 128])))
        wt = rand_weights(rng, (cout, k), bits)
        b = rand_bias(rng, wt) if i % 4 else None
        records = {"in_features": k, "out_features": cout, "weight_bits": bits, "act": ACT_CODES[act],
                   "input": x, "weights": intops.pack_weights(wt, bits), "num_cores": cores}
        if b is not None:
            records["bias"] = b
        label = f"fc {k}->{cout} w{bits} {act} cores {cores}"
        if i % 2:
            records["fl_out"] = 0
            expected = intops.fully_connected(x, wt, b, None, out_dtype="int32")[0].astype("<i4")
            cases.append((("fully_connected_s32", records), expected, label + " int32"))
        else:
            fl_out = int(rng.integers(-3, 8))
            shift = rand_shifts(rng, intops.fully_connected_acc(x, wt, b))
            records.update(fl_out=fl_out, shift=shift)
            expected = intops.fully_connected(x, wt, b, shift, act, fl_out)[0]
            cases.append((("fully_connected", records), expected, label))
    run_and_check(runner, cases, tmp_path)


def test_fully_connected_splits_k_across_a_team(runner, tmp_path):
    """Fewer outputs than cores: with a barrier the team splits K (partial sums per core, reduced
    after the barrier), bit-exact with one core, for every weight width and both input types,
    K from 1 (one core has the whole K) to an odd 131; a one-byte-short scratch is refused."""
    rng = np.random.default_rng(2611)
    cases = []
    for i in range(24):
        k = int((1, 3, 9, 31, 64, 131)[i % 6])
        cores, cout = (8, 3)[i % 2], int(rng.integers(1, (8, 3)[i % 2]))
        bits, in_u = (8, 4, 2)[i % 3], bool((i // 3) % 2)
        x = rand_act(rng, (1, k), in_u)
        wt = rand_weights(rng, (cout, k), bits)
        b = rand_bias(rng, wt, intops.input_peak(in_u))
        records = {"in_features": k, "out_features": cout, "weight_bits": bits, "act": ACT_CODES["relu"],
                   "input": x, "weights": intops.pack_weights(wt, bits), "bias": b, "num_cores": cores,
                   "in_type": int(in_u)}
        label = f"fc {k}->{cout} w{bits} {'u8' if in_u else 's8'} cores {cores}"
        if i % 4 < 2:
            records["fl_out"] = 0
            expected = intops.fully_connected(x, wt, b, None, out_dtype="int32")[0].astype("<i4")
            cases.append((("fully_connected_s32", records), expected, label + " int32"))
        else:
            shift = rand_shifts(rng, intops.fully_connected_acc(x, wt, b))
            records.update(fl_out=3, shift=shift)
            cases.append((("fully_connected", records), intops.fully_connected(x, wt, b, shift, "relu", 3)[0], label))
    results = runner.run([c for c, _, _ in cases], tmp_path)
    for (case, expected, label), result in zip(cases, results):
        check(result, expected, label)
        if runner.kernel_set == "reference":  # the one-core Cortex-M4 drop-ins split outputs
            assert result["team_scratch"][0] == 4 * case[1]["out_features"], label
            assert result["team_short_status"][0] == EA_ERR_BUFFER, f"{label}: the team's short scratch not refused"


# ------------------------------------------------------------------ pooling, add, concat


def test_max_pool(runner, tmp_path):
    rng = np.random.default_rng(606)
    cases = []
    for i in range(18):
        k = [(2, 2), (3, 3), (3, 2), (1, 1), (5, 5)][i % 5]
        pads = tuple(int(p) for p in rng.integers(0, min(k), 4))  # pad < kernel: ONNX rule
        h, w, c = int(rng.integers(k[0], 12)), int(rng.integers(k[1], 12)), int(rng.choice([1, 3, 5, 7]))
        stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        x = rand_int8(rng, (1, h, w, c))
        x[0, 0, 0, 0] = -128  # padding must never win over a real -128
        expected = intops.maxpool2d(x, k, stride, pads)[0]
        cases.append((("max_pool", {"in_h": h, "in_w": w, "channels": c, "kernel": k, "stride": stride,
                                    "pads": pads, "input": x, "num_cores": CORE_COUNTS[i % 3]}),
                      expected, f"max_pool {h}x{w}x{c} k{k} s{stride} p{pads}"))
    run_and_check(runner, cases, tmp_path)


def test_avg_pool_and_global(runner, tmp_path):
    rng = np.random.default_rng(707)
    cases = []
    for i in range(18):
        c = int(rng.choice([1, 3, 5, 8]))
        global_pool = i % 3 == 0
        if global_pool:
            h, w = int(rng.integers(1, 12)), int(rng.integers(1, 12))
            k, stride, pads = (h, w), (1, 1), (0, 0, 0, 0)
        else:
            k = [(2, 2), (3, 3), (5, 3)][i % 3]
            h, w = int(rng.integers(k[0], 12)), int(rng.integers(k[1], 12))
            stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
            pads = (0, 0, 0, 0) if i % 2 else (1, 0, 1, 1)  # count_include_pad=1
        fl_in = int(rng.integers(0, 8))
        fl_out = fl_in + int(rng.integers(-3, 4))
        act = ("none", "relu", "relu6")[i % 3]
        x = rand_int8(rng, (1, h, w, c))
        if global_pool:
            expected = intops.global_avgpool(x, fl_in, fl_out, act)[0]
        else:
            expected = intops.avgpool2d(x, k, stride, fl_in, fl_out, act, pads)[0]
        cases.append((("avg_pool", {
            "in_h": h, "in_w": w, "channels": c, "kernel": k, "stride": stride, "pads": pads,
            "multiplier": intops.avgpool_multiplier(k[0] * k[1]), "shift": 16 + fl_in - fl_out,
            "act": ACT_CODES[act], "fl_out": fl_out, "input": x, "num_cores": CORE_COUNTS[i % 3]}),
            expected, f"avg_pool {h}x{w}x{c} k{k} s{stride} p{pads} FL {fl_in}->{fl_out} {act}"))
    run_and_check(runner, cases, tmp_path)


def test_add(runner, tmp_path):
    rng = np.random.default_rng(808)
    cases = []
    for i in range(15):
        h, w, c = int(rng.integers(1, 9)), int(rng.integers(1, 9)), int(rng.choice([1, 3, 5, 7]))
        fl_a = int(rng.integers(-2, 9))
        fl_b = fl_a + int(rng.integers(-6, 7))
        fl_out = max(fl_a, fl_b) - int(rng.integers(-8, 4))  # shift F - FL_out in [-3, 8]
        act = ("none", "relu", "relu6")[i % 3]
        a, b = rand_int8(rng, (1, h, w, c)), rand_int8(rng, (1, h, w, c))
        expected = intops.add(a, fl_a, b, fl_b, fl_out, act)[0]
        cases.append((("add", {"h": h, "w": w, "c": c, "fl_a": fl_a, "fl_b": fl_b, "fl_out": fl_out,
                               "act": ACT_CODES[act], "a": a, "b": b, "num_cores": CORE_COUNTS[i % 3]}),
                      expected, f"add {h}x{w}x{c} FL {fl_a}+{fl_b}->{fl_out} {act}"))
    run_and_check(runner, cases, tmp_path)


def test_concat(runner, tmp_path):
    rng = np.random.default_rng(909)
    cases = []
    for i in range(12):
        h, w = int(rng.integers(1, 8)), int(rng.integers(1, 8))
        n = int(rng.integers(1, 5))
        channels = rng.choice([1, 3, 5, 7, 8], n)
        fl_out = int(rng.integers(0, 6))
        fls = [fl_out + int(d) for d in rng.integers(-3, 5, n)]  # left and right shifts, and 0
        xs = [rand_int8(rng, (1, h, w, int(ch))) for ch in channels]
        expected = intops.concat(xs, fls, fl_out)[0]
        records = {"h": h, "w": w, "channels": channels, "fl_in": fls, "fl_out": fl_out,
                   "num_cores": CORE_COUNTS[i % 3]}
        records.update({f"input{j}": x for j, x in enumerate(xs)})
        cases.append((("concat", records), expected, f"concat {h}x{w} {channels.tolist()} FL {fls}->{fl_out}"))
    run_and_check(runner, cases, tmp_path)


# ------------------------------------------------------------------ uint8 activations (docs/fixed-point.md 1.3)

TYPE_COMBOS = ((True, True), (True, False), (False, True))  # (uint8 input, uint8 output)


def test_conv_kernels_unsigned_inputs_and_outputs(runner, tmp_path):
    """Every convolution kernel, uint8 in and/or out: values above 127 are read as uint8, outputs
    saturate to [0, 255], relu6 clamps at the uint8 R6 (FL 5: 192), padding stays 0."""
    rng = np.random.default_rng(1111)
    cases = []
    for i in range(36):
        in_u, out_u = TYPE_COMBOS[i % 3]
        act = ("relu", "none", "relu6")[(i // 3) % 3]
        bits = (8, 4, 2)[(i // 9) % 3]
        kind = ("dense", "depthwise", "pointwise", "fused")[i % 4]
        cin = int(rng.choice([1, 3, 4, 8]))
        fl_out = 5 if act == "relu6" else None
        common = dict(stride=(int(rng.integers(1, 3)), int(rng.integers(1, 3))), bits=bits, act=act,
                      cores=CORE_COUNTS[i % 3], in_u=in_u, out_u=out_u, fl_out=fl_out)
        if kind == "dense":
            cases.append(conv_case(rng, h=int(rng.integers(3, 10)), w=int(rng.integers(3, 10)), cin=cin,
                                   cout=int(rng.choice([1, 5, 8])), k=(3, 3), pads=(1, 1, 1, 1), groups=1, **common))
        elif kind == "depthwise":
            mult = 1 + i % 2
            case, expected, label = conv_case(rng, h=int(rng.integers(3, 10)), w=int(rng.integers(3, 10)), cin=cin,
                                              cout=mult * cin, k=(3, 3), pads=(1, 0, 1, 2), groups=cin, **common)
            cases.append((case, expected, label))
            cases.append((("depthwise_conv2d", depthwise_records(case[1])), expected,
                          label.replace("conv2d", "depthwise_conv2d", 1)))
        elif kind == "pointwise":
            cases.append(conv_case(rng, h=int(rng.integers(1, 8)), w=int(rng.integers(1, 8)), cin=cin,
                                   cout=int(rng.choice([1, 5, 8])), k=1, pads=(0, 0, 0, 0), groups=1,
                                   op="pointwise_conv2d", **common))
        else:
            common.pop("fl_out")
            cases.append(fused_case(rng, h=int(rng.integers(5, 12)), w=int(rng.integers(5, 12)), cin=cin,
                                    cout=int(rng.choice([3, 4])), k=3, pads=(1, 1, 1, 1), groups=1,
                                    pool_k=(2, 2), pool_s=(2, 2), pool_pads=(1, 0, 0, 1), **common))
    run_and_check(runner, cases, tmp_path)
    unsigned_out = [e for (c, e, _) in cases if c[1]["out_type"] == 1]
    assert any(int(e.max()) > 127 for e in unsigned_out)  # the uint8 range is really used
    relu6_u8 = [e for (c, e, _) in cases if c[1]["out_type"] == 1 and c[1]["act"] == 2 and c[1]["fl_out"] == 5]
    assert relu6_u8 and max(int(e.max()) for e in relu6_u8) == 192


def test_simd_paths_odd_shapes(runner, tmp_path):
    """The Cortex-M4 paths taken with shifts >= 0 (the pixel-pair path of dense, fused and
    pointwise convolutions, the q15-weight depthwise path) on the shapes their blocking does not
    divide: channels one to three past a group of 4, odd output channel counts, odd pixel counts,
    width 1, stride 2, padding on every side, int8 and uint8 activations, every clamp kind (relu6
    at R6 = 96 needs usat + min), 8/4/2-bit weights (4/2-bit unpacked a block of rows at a time:
    34 channels of 3x3 x 33 inputs take several blocks)."""
    rng = np.random.default_rng(1313)
    cases = []
    for i in range(40):
        in_u, out_u = TYPE_COMBOS[i % 3]
        act = ("relu6", "none", "relu")[(i // 4) % 3]
        kind = ("pointwise", "dense", "fused", "depthwise")[i % 4]
        cin = int(rng.choice([4, 5, 6, 7, 32, 33, 34, 35] if kind == "pointwise" else [2, 4, 5, 7, 9]))
        cout = int(rng.choice([2, 3, 9, 16, 17]))
        h, w = int(rng.integers(1, 9)), int(rng.choice([1, 2, 3, 5, 8]))
        if i in (1, 2):  # more rows than one block of unpacked 4-bit weights (4096 B / 297 B: 12)
            cin, cout = 33, 34
        common = dict(cin=cin, cout=cout, bits=(8, 4, 2)[i % 3], act=act, cores=CORE_COUNTS[i % 3], in_u=in_u,
                      out_u=out_u, min_shift=0, stride=(int(rng.integers(1, 3)), int(rng.integers(1, 3))))
        if kind == "pointwise":
            cases.append(conv_case(rng, h=h, w=w, k=1, pads=(0, 0, 0, 0), groups=1, op="pointwise_conv2d",
                                   fl_out=int(rng.choice([4, 5])) if act == "relu6" else None, **common))
        elif kind == "depthwise":
            cin = int(rng.choice([4, 5, 8, 9, 12, 15]))
            pads = tuple(int(p) for p in rng.integers(0, 3, 4))
            common.update(cin=cin, cout=cin)
            case, expected, label = conv_case(rng, h=max(h + 2, 3 - pads[0] - pads[2]), w=max(w, 3 - pads[1] - pads[3]),
                                              k=3, pads=pads, groups=cin, fl_out=4 if act == "relu6" else None,
                                              **common)
            cases.append((("depthwise_conv2d", depthwise_records(case[1])), expected,
                          label.replace("conv2d", "depthwise_conv2d", 1)))
        elif kind == "dense":
            pads = tuple(int(p) for p in rng.integers(0, 3, 4))
            cases.append(conv_case(rng, h=max(h, 3 - pads[0] - pads[2]), w=max(w, 3 - pads[1] - pads[3]), k=3,
                                   pads=pads, groups=1, fl_out=4 if act == "relu6" else None, **common))
        else:
            case, conv_out, label = conv_case(rng, h=h + 4, w=w + 4, k=3, pads=(1, 1, 1, 1), groups=1,
                                              op="conv2d_maxpool", **common)
            records = dict(case[1], pool_kernel=(2, 2), pool_stride=(2, 2), pool_pads=(0, 1, 1, 0))
            expected = intops.maxpool2d(conv_out[None], (2, 2), (2, 2), (0, 1, 1, 0))[0]
            cases.append((("conv2d_maxpool", records), expected, label + " pool"))
    run_and_check(runner, cases, tmp_path)
    assert any(c[1]["in_w"] == 1 for c, _, _ in cases)


def test_avg_pool_channel_blocks_and_long_windows(runner, tmp_path):
    """The Cortex-M4 average pool's 4-channel blocks on the shapes they do not divide (channels
    one to three past a group of 4), windows of more than 128 terms (its halfword sums move to
    32-bit sums every 128 terms), width 1, stride 2, padding on every side, both activation types
    and every clamp kind (relu6 at FL_out 4: R6 = 96)."""
    rng = np.random.default_rng(1515)
    cases = []
    for i in range(24):
        in_u, out_u = [(False, False), *TYPE_COMBOS][i % 4]
        act = ("none", "relu", "relu6")[(i // 4) % 3]
        c = int(rng.choice([4, 5, 6, 7, 8, 13, 33]))
        fl_in = int(rng.integers(2, 8))
        fl_out = 4 if act == "relu6" else fl_in + int(rng.integers(-2, 3))
        if i % 3 == 0:  # a global pool, often past 128 terms
            h, w = [(12, 12), (16, 20), (1, 200), (9, 15), (11, 1), (24, 40)][(i // 3) % 6]
            k, stride, pads = (h, w), (1, 1), (0, 0, 0, 0)
        else:
            k = [(2, 2), (3, 3), (5, 3), (1, 13), (12, 12)][i % 5]
            pads = tuple(int(p) for p in rng.integers(0, min(k), 4)) if i % 2 else (1, 1, 1, 1)
            pads = tuple(min(p, kk - 1) for p, kk in zip(pads, (k[0], k[1], k[0], k[1])))
            h = max(int(rng.integers(1, 14)), k[0] - pads[0] - pads[2])
            w = 1 if i % 7 == 1 and k[1] - pads[1] - pads[3] <= 1 else max(int(rng.integers(1, 14)), k[1] - pads[1] - pads[3])
            stride = (int(rng.integers(1, 3)), 2 if i % 2 else 1)
        x = rand_act(rng, (1, h, w, c), in_u)
        if i % 5 == 0:  # every term at the extreme code: the sums' bound
            x[...] = 255 if in_u else -128
        if k == (h, w) and stride == (1, 1) and pads == (0, 0, 0, 0):
            expected = intops.global_avgpool(x, fl_in, fl_out, act, out_u)[0]
        else:
            expected = intops.avgpool2d(x, k, stride, fl_in, fl_out, act, pads, out_u)[0]
        cases.append((("avg_pool", {
            "in_h": h, "in_w": w, "channels": c, "kernel": k, "stride": stride, "pads": pads,
            "multiplier": intops.avgpool_multiplier(k[0] * k[1]), "shift": 16 + fl_in - fl_out,
            "act": ACT_CODES[act], "fl_out": fl_out, "input": x, "num_cores": CORE_COUNTS[i % 3],
            "in_type": int(in_u), "out_type": int(out_u)}),
            expected, f"avg_pool {h}x{w}x{c} k{k} s{stride} p{pads} FL {fl_in}->{fl_out} {act} types {in_u}->{out_u}"))
    run_and_check(runner, cases, tmp_path)
    assert any(k[0] * k[1] > 128 for (_, r), _, _ in cases for k in [tuple(r["kernel"])])
    assert any(r["in_w"] == 1 for (_, r), _, _ in cases)


def test_add_word_blocks_and_shift_range(runner, tmp_path):
    """The Cortex-M4 add's 4-element blocks: element counts and per-core slices that are not
    multiples of 4 (split over 3 and 8 cores), every type combination, alignments 0 to 16 (past 14
    it takes the reference loop), shifts from -8 (folded into the powers) to 30, every clamp kind."""
    rng = np.random.default_rng(1616)
    cases = []
    for i in range(32):
        h, w, c = int(rng.integers(1, 8)), int(rng.choice([1, 3, 7, 16])), int(rng.choice([1, 3, 5, 13, 33]))
        a_u, b_u, out_u = bool(i & 1), bool(i & 2), bool(i & 4)
        gap = [0, 1, 3, 7, 14, 15, 16][i % 7]
        fl_a = int(rng.integers(-2, 6))
        fl_b = fl_a + (gap if i % 2 else -gap)
        f = max(fl_a, fl_b)
        shift = [-8, -3, 0, 1, 4, 9, 17, 30][i % 8]
        fl_out = f - shift
        act = ("none", "relu", "relu6")[(i // 8) % 3]
        if act == "relu6":
            fl_out = min(fl_out, 5)
            if not -8 <= f - fl_out <= 30:
                fl_out = f - 30
        a, b = rand_act(rng, (1, h, w, c), a_u), rand_act(rng, (1, h, w, c), b_u)
        if i % 6 == 0:
            a[...] = 255 if a_u else -128
            b[...] = 255 if b_u else -128
        cases.append((("add", {"h": h, "w": w, "c": c, "fl_a": fl_a, "fl_b": fl_b, "fl_out": fl_out,
                               "act": ACT_CODES[act], "a": a, "b": b, "num_cores": CORE_COUNTS[i % 3],
                               "a_type": int(a_u), "b_type": int(b_u), "out_type": int(out_u)}),
                      intops.add(a, fl_a, b, fl_b, fl_out, act, out_u)[0],
                      f"add {h}x{w}x{c} FL {fl_a}+{fl_b}->{fl_out} {act} types {a_u},{b_u}->{out_u}"))
    run_and_check(runner, cases, tmp_path)


def test_fully_connected_unsigned(runner, tmp_path):
    rng = np.random.default_rng(1212)
    cases = []
    for i in range(18):
        in_u, out_u = TYPE_COMBOS[i % 3]
        k, cout = int(rng.choice([1, 5, 64, 129])), int(rng.choice([1, 4, 7]))
        bits, act = (8, 4, 2)[(i // 3) % 3], ("none", "relu", "relu6")[(i // 9) % 2]
        x = rand_act(rng, (1, k), in_u)
        wt = rand_weights(rng, (cout, k), bits)
        b = rand_bias(rng, wt, intops.input_peak(in_u))
        records = {"in_features": k, "out_features": cout, "weight_bits": bits, "act": ACT_CODES[act],
                   "input": x, "weights": intops.pack_weights(wt, bits), "bias": b, "num_cores": CORE_COUNTS[i % 3],
                   "in_type": int(in_u), "out_type": int(out_u)}
        label = f"fc {k}->{cout} w{bits} {act} in {'u8' if in_u else 's8'}"
        if i % 2:
            records.update(fl_out=0, out_type=0)
            expected = intops.fully_connected(x, wt, b, None, out_dtype="int32")[0].astype("<i4")
            cases.append((("fully_connected_s32", records), expected, label + " int32"))
        else:
            fl_out = int(rng.integers(-3, 8))
            shift = rand_shifts(rng, intops.fully_connected_acc(x, wt, b))
            records.update(fl_out=fl_out, shift=shift)
            expected = intops.fully_connected(x, wt, b, shift, act, fl_out, "uint8" if out_u else "int8")[0]
            cases.append((("fully_connected", records), expected, label + f" out {'u8' if out_u else 's8'}"))
    run_and_check(runner, cases, tmp_path)


def test_max_and_avg_pool_unsigned(runner, tmp_path):
    rng = np.random.default_rng(1313)
    cases = []
    for i in range(12):
        k = [(2, 2), (3, 3), (3, 2)][i % 3]
        pads = tuple(int(p) for p in rng.integers(0, min(k), 4))
        h, w, c = int(rng.integers(k[0], 10)), int(rng.integers(k[1], 10)), int(rng.choice([1, 3, 5]))
        stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        x = rand_act(rng, (1, h, w, c), unsigned=True)
        x[0, 0, 0, 0], x[0, -1, -1, -1] = 0, 255  # padding must never win over a real 0; 255 is the top
        cases.append((("max_pool", {"in_h": h, "in_w": w, "channels": c, "kernel": k, "stride": stride,
                                    "pads": pads, "input": x, "num_cores": CORE_COUNTS[i % 3], "type": 1}),
                      intops.maxpool2d(x, k, stride, pads)[0], f"max_pool u8 {h}x{w}x{c} k{k} s{stride} p{pads}"))
        fl_in = int(rng.integers(0, 8))
        fl_out = fl_in + int(rng.integers(-2, 3))
        act = ("none", "relu", "relu6")[i % 3]
        in_u, out_u = TYPE_COMBOS[i % 3]
        xa = rand_act(rng, (1, h, w, c), in_u)
        if i % 2:
            kk, ss, pp = (h, w), (1, 1), (0, 0, 0, 0)
            expected = intops.global_avgpool(xa, fl_in, fl_out, act, out_u)[0]
        else:
            kk, ss, pp = k, stride, (0, 0, 0, 0)
            expected = intops.avgpool2d(xa, k, stride, fl_in, fl_out, act, pp, out_u)[0]
        cases.append((("avg_pool", {
            "in_h": h, "in_w": w, "channels": c, "kernel": kk, "stride": ss, "pads": pp,
            "multiplier": intops.avgpool_multiplier(kk[0] * kk[1]), "shift": 16 + fl_in - fl_out,
            "act": ACT_CODES[act], "fl_out": fl_out, "input": xa, "num_cores": CORE_COUNTS[i % 3],
            "in_type": int(in_u), "out_type": int(out_u)}),
            expected, f"avg_pool {h}x{w}x{c} k{kk} FL {fl_in}->{fl_out} {act} types {in_u}->{out_u}"))
    run_and_check(runner, cases, tmp_path)


def test_add_and_concat_mixed_types(runner, tmp_path):
    rng = np.random.default_rng(1414)
    cases = []
    for i in range(12):
        h, w, c = int(rng.integers(1, 7)), int(rng.integers(1, 7)), int(rng.choice([1, 3, 5]))
        a_u, b_u, out_u = bool(i & 1), bool(i & 2), bool(i & 4) or i % 3 == 0
        fl_a = int(rng.integers(-2, 8))
        fl_b = fl_a + int(rng.integers(-5, 6))
        fl_out = max(fl_a, fl_b) - int(rng.integers(-6, 4))
        act = ("none", "relu", "relu6")[i % 3]
        a, b = rand_act(rng, (1, h, w, c), a_u), rand_act(rng, (1, h, w, c), b_u)
        cases.append((("add", {"h": h, "w": w, "c": c, "fl_a": fl_a, "fl_b": fl_b, "fl_out": fl_out,
                               "act": ACT_CODES[act], "a": a, "b": b, "num_cores": CORE_COUNTS[i % 3],
                               "a_type": int(a_u), "b_type": int(b_u), "out_type": int(out_u)}),
                      intops.add(a, fl_a, b, fl_b, fl_out, act, out_u)[0],
                      f"add {h}x{w}x{c} FL {fl_a}+{fl_b}->{fl_out} {act} types {a_u},{b_u}->{out_u}"))
        n = int(rng.integers(1, 4))
        channels = rng.choice([1, 3, 5], n)
        in_types = [bool(rng.integers(0, 2)) for _ in range(n)]
        cat_fl = int(rng.integers(0, 6))
        fls = [cat_fl + int(d) for d in rng.integers(-3, 4, n)]
        xs = [rand_act(rng, (1, h, w, int(ch)), u) for ch, u in zip(channels, in_types)]
        records = {"h": h, "w": w, "channels": channels, "fl_in": fls, "fl_out": cat_fl,
                   "num_cores": CORE_COUNTS[i % 3], "in_type": [int(u) for u in in_types], "out_type": int(out_u)}
        records.update({f"input{j}": x for j, x in enumerate(xs)})
        cases.append((("concat", records), intops.concat(xs, fls, cat_fl, out_u)[0],
                      f"concat {h}x{w} {channels.tolist()} types {in_types}->{out_u} FL {fls}->{cat_fl}"))
    run_and_check(runner, cases, tmp_path)


# ------------------------------------------------------------------ refused arguments


def test_bad_arguments_are_refused_without_writing(runner, tmp_path):
    rng = np.random.default_rng(1010)
    (_, good), _, _ = conv_case(rng, h=5, w=5, cin=4, cout=4, k=3, stride=(1, 1), pads=(1, 1, 1, 1),
                                groups=1, bits=8, act="none", cores=1)
    bad = {
        "weight bits 3": dict(good, weight_bits=3),
        "shift 31": dict(good, shift=np.array([0, 31, 0, 0])),
        "shift -9": dict(good, shift=np.array([0, -9, 0, 0])),
        "groups 3 of 4 channels": dict(good, groups=3),
        "groups 0": dict(good, groups=0),
        "window larger than input": dict(good, kernel=(9, 9)),
        "stride 0": dict(good, stride=(0, 1)),
        "activation 7": dict(good, act=7),
        "input type 2": dict(good, in_type=2),
        "output type -1": dict(good, out_type=-1),
    }
    cases = [("conv2d", records) for records in bad.values()]
    cases.append(("pointwise_conv2d", good))  # 3x3 kernel on the 1x1 fast path
    cases.append(("depthwise_conv2d", good))  # groups 1 on the depthwise path
    cases.append(("add", {"h": 2, "w": 2, "c": 1, "fl_a": 0, "fl_b": 17, "fl_out": 0, "act": 0,
                          "a": np.zeros(4), "b": np.zeros(4)}))  # FL gap 17 > 16
    cases.append(("avg_pool", {"in_h": 2, "in_w": 2, "channels": 1, "kernel": (2, 2), "stride": (1, 1),
                               "pads": (0, 0, 0, 0), "multiplier": 16384, "shift": 0, "act": 0,
                               "fl_out": 0, "input": np.zeros(4)}))  # shift 0 outside [1, 30]
    cases.append(("max_pool", {"in_h": 2, "in_w": 2, "channels": 1, "kernel": (2, 2), "stride": (1, 1),
                               "pads": (0, 0, 0, 0), "input": np.zeros(4), "type": 3}))  # no type 3
    cases.append(("add", {"h": 2, "w": 2, "c": 1, "fl_a": 0, "fl_b": 0, "fl_out": 0, "act": 0,
                          "a": np.zeros(4), "b": np.zeros(4), "b_type": 2}))
    labels = list(bad) + ["pointwise 3x3", "depthwise groups 1", "add FL gap 17", "avg_pool shift 0",
                          "max_pool type 3", "add b_type 2"]
    for label, result in zip(labels, runner.run(cases, tmp_path)):
        assert result["status"][0] == EA_ERR_ARG, label
        assert result["untouched_on_error"][0] == 1, label


# ------------------------------------------------------------------ cross compilers

CORTEX_M4 = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-ffreestanding"]
RV32 = ["-march=rv32imc", "-mabi=ilp32", "-misa-spec=2.2", "-ffreestanding"]


@pytest.mark.parametrize("compiler, flags", [
    ("gcc", ["-Wpedantic"]),
    ("gcc", ["-Wpedantic", "-DEA_KERNELS_NO_CHECKS"]),
    ("arm-none-eabi-gcc", CORTEX_M4),
    ("riscv64-unknown-elf-gcc", RV32),
], ids=["host", "host-nochecks", "cortex-m4", "rv32imc"])
def test_kernels_compile_warning_free(compiler, flags, tmp_path):
    if shutil.which(compiler) is None:
        pytest.skip(f"{compiler} not installed: cannot check the kernels build for this target")
    cmd = [compiler, *STRICT, "-O2", *flags, f"-I{FIRMWARE / 'include'}", "-c", *map(str, KERNEL_SOURCES)]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    objects = sorted(p.stem for p in tmp_path.glob("*.o"))
    assert objects == sorted(p.stem for p in KERNEL_SOURCES)


# ------------------------------------------------------------------ emulated targets

BENCH_TOOLS = {"cm4": ("arm-none-eabi-gcc", "qemu-system-arm"), "cm4-arm": ("arm-none-eabi-gcc", "qemu-system-arm"),
               "cm4-arm-c": ("arm-none-eabi-gcc", "qemu-system-arm"),
               "rv32": ("riscv64-unknown-elf-gcc", "qemu-system-riscv32")}


def _bench_act(n, seed, unsigned=False):
    raw = ((np.arange(n, dtype=np.int64) * 37 + seed * 11) & 0xFF).astype(np.uint8)
    return raw if unsigned else raw.view(np.int8)


def _bench_weights(shape, bits, seed):
    rows, row_len = shape[0], int(np.prod(shape[1:]))
    nbytes = rows * intops.packed_row_bytes(row_len, bits)
    packed = ((np.arange(nbytes, dtype=np.int64) * 13 + 5 + seed) & 0xFF).astype(np.uint8)
    return intops.unpack_weights(packed.reshape(rows, -1), bits, shape)


def _bench_bias_shift(n, base):
    bias = (np.arange(n, dtype=np.int64) * 7919 % 2001 - 1000).astype(np.int32)
    return bias, base + np.arange(n) % 4


def _fnv1a(array):
    h = 2166136261
    for byte in np.ascontiguousarray(array).view(np.uint8).ravel().tolist():
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return f"{h:08x}"


def bench_expected_outputs():
    """intops' result for every call of firmware/tests/kernel_runner/bench/kernel_bench.c,
    from the same operand formulas and activation types (see its header comment)."""
    out = {}
    x = _bench_act(96 * 160, 1).reshape(1, 96, 160, 1)
    bias, shift = _bench_bias_shift(32, 11)
    conv = intops.conv2d(x, _bench_weights((32, 5, 5, 1), 8, 1), bias, shift, (2, 2), (2, 2, 2, 2), 1, "relu",
                         out_unsigned=True)
    out["conv5x5s2_maxpool_w8"] = intops.maxpool2d(conv, (2, 2), (2, 2))
    x = _bench_act(24 * 40 * 32, 2, unsigned=True).reshape(1, 24, 40, 32)
    bias, shift = _bench_bias_shift(32, 8)
    out["conv3x3s2_w4"] = intops.conv2d(x, _bench_weights((32, 3, 3, 32), 4, 2), bias, shift, (2, 2),
                                        (1, 1, 1, 1), 1, "relu", out_unsigned=True)
    x = _bench_act(12 * 20 * 64, 3, unsigned=True).reshape(1, 12, 20, 64)
    bias, shift = _bench_bias_shift(64, 7)
    dw = intops.conv2d(x, _bench_weights((64, 3, 3, 1), 8, 3), bias, shift, (1, 1), (1, 1, 1, 1), 64, "relu6",
                       fl_out=4, out_unsigned=True)
    out["depthwise3x3_w8_conv2d"] = dw
    # the depthwise kernel reads the same bytes tap-major: [kh][kw][out_c]
    taps = _bench_weights((9, 64), 8, 3).T.reshape(64, 3, 3, 1)
    out["depthwise3x3_w8"] = intops.conv2d(x, taps, bias, shift, (1, 1), (1, 1, 1, 1), 64, "relu6",
                                           fl_out=4, out_unsigned=True)
    x = _bench_act(12 * 20 * 64, 4, unsigned=True).reshape(1, 12, 20, 64)
    bias, shift = _bench_bias_shift(64, 4)
    out["pointwise_w2"] = intops.conv2d(x, _bench_weights((64, 1, 1, 64), 2, 4), bias, shift)
    x = _bench_act(24 * 40 * 32, 9, unsigned=True).reshape(1, 24, 40, 32)
    bias, shift = _bench_bias_shift(32, 10)
    out["conv3x3s1_w8"] = intops.conv2d(x, _bench_weights((32, 3, 3, 32), 8, 9), bias, shift, (1, 1),
                                        (1, 1, 1, 1), 1, "relu", out_unsigned=True)
    x = _bench_act(11 * 13 * 30, 10).reshape(1, 11, 13, 30)
    bias, shift = _bench_bias_shift(7, 9)
    out["pointwise_odd_w8"] = intops.conv2d(x, _bench_weights((7, 1, 1, 30), 8, 10), bias, shift)
    x = _bench_act(9 * 13 * 33, 12, unsigned=True).reshape(1, 9, 13, 33)
    bias, shift = _bench_bias_shift(9, 6)
    out["pointwise_relu6_s2_w8"] = intops.conv2d(x, _bench_weights((9, 1, 1, 33), 8, 12), bias, shift, (2, 2),
                                                 act="relu6", fl_out=4, out_unsigned=True)
    x = _bench_act(11 * 13 * 30, 11).reshape(1, 11, 13, 30)
    bias, shift = _bench_bias_shift(30, 5)
    taps = _bench_weights((9, 30), 8, 11).T.reshape(30, 3, 3, 1)  # tap-major bytes
    out["depthwise_odd_s2_w8"] = intops.conv2d(x, taps, bias, shift, (2, 2), (0, 1, 2, 1), 30, "relu6", fl_out=3,
                                               out_unsigned=True)
    bias, _ = _bench_bias_shift(4, 0)
    out["fc_s32_w8"] = intops.fully_connected(_bench_act(1920, 5, unsigned=True)[None], _bench_weights((4, 1920), 8, 5),
                                              bias, None, out_dtype="int32").astype("<i4")
    x = _bench_act(24 * 40 * 32, 6, unsigned=True)
    out["max_pool3x3s2"] = intops.maxpool2d(x.reshape(1, 24, 40, 32), (3, 3), (2, 2), (1, 1, 1, 1))
    assert intops.avgpool_multiplier(12 * 20) == 273  # the bench's constants: M and 16 + 1 - 0
    out["global_avg_pool"] = intops.global_avgpool(x[: 12 * 20 * 64].reshape(1, 12, 20, 64), 1, 0,
                                                   out_unsigned=True)
    a = _bench_act(12 * 20 * 64, 7, unsigned=True)
    b = _bench_act(12 * 20 * 64, 8)
    out["add"] = intops.add(a.reshape(1, 12, 20, 64), 5, b.reshape(1, 12, 20, 64), 3, 4, "relu", out_unsigned=True)
    half = 12 * 20 * 32
    out["concat"] = intops.concat([a[:half].reshape(1, 12, 20, 32), b[:half].reshape(1, 12, 20, 32)], [6, 2], 4)
    return {name: _fnv1a(v) for name, v in out.items()}


@pytest.mark.qemu
@pytest.mark.parametrize("target", ["cm4", "cm4-arm", "cm4-arm-c", "rv32"])
def test_kernels_bit_exact_on_emulated_targets(target, tmp_path):
    """The kernels cross-compiled for Cortex-M4 (reference, the SIMD drop-ins with real DSP
    instructions, and the drop-ins with the C twin of their inline-assembly loop) and RV32IMC, run
    under QEMU, give intops' bytes."""
    missing = [tool for tool in BENCH_TOOLS[target] if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed: cannot run the {target} kernel benchmark")
    goal, extra = ("cm4-arm", ["M4_DEFS=-DEA_M4_NO_ASM"]) if target == "cm4-arm-c" else (target, [])
    done = subprocess.run(["make", "-s", "-C", str(RUNNER_SOURCE.parent), f"run-bench-{goal}", *extra,
                           f"BUILD={tmp_path}"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line.split() for line in (done.stdout + done.stderr).splitlines() if line.startswith("layer ")]
    measured = {f[1]: {"insns": int(f[3]), "macs": int(f[5]), "fnv": f[7], "ok": len(f) == 8} for f in lines}
    expected = bench_expected_outputs()
    assert sorted(measured) == sorted(expected)
    for name, want in expected.items():
        assert measured[name]["ok"], f"{target} {name}: kernel returned an error"
        assert measured[name]["fnv"] == want, f"{target} {name}: output differs from intops"
    for name, m in measured.items():  # the figures, visible with pytest -s
        per_mac = f"{m['insns'] / m['macs']:.1f} insn/MAC" if m["macs"] else ""
        print(f"{target} {name}: {m['insns']} instructions {per_mac}")


def test_lookup_table(runner, tmp_path):
    """ea_lut_s8 against intops.lut on tables of every function, both input and output types."""
    rng = np.random.default_rng(808)
    cases = []
    for i, fn in enumerate(intops.LUT_FUNCTIONS * 3):
        params = {"alpha": 0.1, "min": -0.75, "max": 1.25} if fn in ("leakyrelu", "clip") else {}
        in_u, out_u = bool(i % 2), intops.lut_is_unsigned(fn, params)
        fl_in, fl_out = int(rng.integers(3, 8)), int(rng.integers(4, 8))
        table = intops.lut_table(fn, params, fl_in, in_u, fl_out, out_u)
        size = int(rng.integers(1, 300))
        x = rng.integers(0, 256, size).astype(np.uint8)
        x = x if in_u else x.view(np.int8)
        expected = intops.lut(x, table, out_u)
        cases.append((("lut", {"size": size, "table": (table & 0xFF).astype(np.uint8).view(np.int8),
                               "input": x.astype(np.int64), "num_cores": CORE_COUNTS[i % 3]}),
                      expected, f"lut {fn} fl {fl_in}->{fl_out} size {size}"))
    run_and_check(runner, cases, tmp_path)


def test_resize_nearest(runner, tmp_path):
    rng = np.random.default_rng(909)
    cases = []
    for i in range(12):
        h, w, c = int(rng.integers(1, 9)), int(rng.integers(1, 9)), int(rng.choice([1, 3, 8]))
        scale = [(2, 2), (1, 3), (3, 1), (2, 4)][i % 4]
        x = rand_int8(rng, (1, h, w, c))
        expected = intops.resize_nearest(x, scale)[0]
        cases.append((("resize_nearest", {"in_h": h, "in_w": w, "channels": c, "scale": scale, "input": x,
                                          "num_cores": CORE_COUNTS[i % 3]}),
                      expected, f"resize {h}x{w}x{c} x{scale}"))
    run_and_check(runner, cases, tmp_path)


def test_dilated_conv2d_random_shapes(runner, tmp_path):
    """ea_dilated_conv2d_s8 against intops.conv2d with dilation: dense, grouped, depthwise, every
    weight width and type, padded and strided."""
    rng = np.random.default_rng(1001)
    cases = []
    for i in range(30):
        dilation = [(2, 2), (3, 1), (1, 2), (2, 3)][i % 4]
        k = [(3, 3), (2, 3), (3, 1)][i % 3]
        groups, cin = [(1, 3), (2, 4), (4, 4)][i % 3]
        extent = ((k[0] - 1) * dilation[0] + 1, (k[1] - 1) * dilation[1] + 1)
        pads = tuple(int(p) for p in rng.integers(0, 3, 4))
        h = int(rng.integers(max(1, extent[0] - pads[0] - pads[2]), 12))
        w = int(rng.integers(max(1, extent[1] - pads[1] - pads[3]), 12))
        cases.append(conv_case(rng, h=h, w=w, cin=cin, cout=groups * int(rng.integers(1, 3)), k=k,
                               stride=(int(rng.integers(1, 3)), int(rng.integers(1, 3))), pads=pads, groups=groups,
                               bits=(8, 4, 2)[i % 3], act=("none", "relu", "relu6")[i % 3], cores=CORE_COUNTS[i % 3],
                               op="dilated_conv2d", in_u=bool(i % 2), out_u=bool(i % 4 == 1), dilation=dilation))
    run_and_check(runner, cases, tmp_path)
