"""The C policy (firmware/policy/, host build) and the Python one (edgeadapt.policy) make the same
decision on every frame: recorded output sequences are replayed through both, and whole sequences
of frames are stepped on the device and simulated in Python."""

import subprocess
import zlib

import numpy as np
import pytest

from edgeadapt.policy import BIG, RUN_BOTH, SMALL, Policy, protocol_commands, quantize_policy, simulate
from test_protocol_host import FirmwareHost, build_host_firmware, parse_fields, parse_list, random_frames

pytestmark = pytest.mark.timeout(180)

SMALL_FL = [15, 15, 16, 15, 14]  # the fixture export's models
BIG_FL = [16, 16, 17, 16]
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


@pytest.fixture(scope="module")
def host_exe(tmp_path_factory):
    return build_host_firmware(tmp_path_factory.mktemp("fw"))


def recorded_outputs(n, seed):
    """Output sequences shaped like a pose estimator's (real units, then raw at the fixture's FLs):
    slow drift, sudden jumps, a noisy aux logit."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(0, 0.02, size=(n, 4))
    jumps = (rng.random(n) < 0.08)[:, None] * rng.normal(0, 0.6, size=(n, 4))
    pose = np.cumsum(steps + jumps, axis=0) + 1.0
    aux = rng.normal(0, 0.5, size=(n, 1))
    small = np.concatenate([pose, aux], axis=1) * 2.0 ** np.array(SMALL_FL)
    big = (pose + rng.normal(0, 0.01, size=(n, 4))) * 2.0 ** np.array(BIG_FL)
    return small.round().astype(np.int64), big.round().astype(np.int64)


def extreme_outputs(n, seed):
    """int32 extremes: distances near 2^61 must not overflow on either side."""
    rng = np.random.default_rng(seed)
    small = rng.choice([INT32_MIN, INT32_MAX, 0, -1, 1], size=(n, 5)).astype(np.int64)
    big = rng.choice([INT32_MIN, INT32_MAX], size=(n, 4)).astype(np.int64)
    return small, big


CONFIGS = [
    {"policy": "temporal", "weights": [1, 1, 1, 1], "threshold": 0.3, "k": 2, "rerun": False},
    {"policy": "temporal", "weights": [1, 0.5, 2, 0.3], "threshold": 0.2, "k": 1, "rerun": True},
    {"policy": "temporal", "weights": [0.2, 0, 0, 1], "threshold": 0.1, "k": 0, "rerun": True},
    {"policy": "temporal", "weights": [1, 1, 1, 1, 1], "threshold": 0.5, "k": 5, "rerun": True},
    {"policy": "aux", "threshold": 0.4, "k": 1, "rerun": False},
    {"policy": "aux", "threshold": -0.2, "k": 3, "rerun": True},
    {"policy": "random", "p": 0.3, "seed": 1},
    {"policy": "random", "p": 0.999, "seed": 4000000000},
    {"policy": "partition", "channels": [0, 1, 3], "absolute": [False, True, True],
     "cuts": [[0.9, 1.1, 1.3], [1.0], [0.8, 1.2]], "big_cells": [1, 2, 6, 21, 22, 33, 37]},
    {"policy": "partition", "channels": [3], "absolute": [True], "cuts": [[-1.0]], "big_cells": [1]},
    "always-small",
    "always-big",
]


def install(fw, cfg, small_fl=SMALL_FL, big_fl=BIG_FL):
    for line in protocol_commands(cfg, small_fl, big_fl):
        reply = fw.command(line)
        assert len(reply) == 1 and reply[0].startswith("m-policy-["), (line, reply)
    return parse_fields(fw.command("ea-reset")[0], "m-reset")


def replay(fw, cfg, small, big):
    """Feed the sequence to the device and to Python side by side, as ea_app_step runs frames;
    returns the models used per frame."""
    return replay_with_fl(fw, cfg, small, big, SMALL_FL, BIG_FL)


def replay_with_fl(fw, cfg, small, big, small_fl, big_fl):
    reset = install(fw, cfg, small_fl, big_fl)
    policy = Policy(cfg, small_fl, big_fl)
    model = policy.reset()
    assert int(reset["next"]) == model

    def decide(t, m, out):
        line = fw.command(f"ea-decide {m} " + ",".join(str(int(v)) for v in out))[0]
        reply = parse_fields(line, "m-decide")
        expected = policy.decide_next(m, out)
        assert (int(reply["next"]), int(reply["rerun"])) == (expected, int(policy.rerun)), (cfg, t, m)
        return expected

    used = []
    for t in range(len(small)):
        nxt = decide(t, model, small[t] if model == SMALL else big[t])
        if policy.rerun:
            nxt = decide(t, BIG, big[t])
            used.append(RUN_BOTH)
        else:
            used.append(model)
        model = nxt
    return used


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c if isinstance(c, str) else c["policy"])
def test_recorded_sequences_same_decisions_in_c_and_python(host_exe, cfg):
    fw = FirmwareHost(host_exe)
    try:
        for seed in (1, 2):
            small, big = recorded_outputs(150, seed)
            used = replay(fw, cfg, small, big)
            assert used == simulate(cfg, small, big, SMALL_FL, BIG_FL)
            if isinstance(cfg, dict) and cfg["policy"] in ("temporal", "aux", "partition"):
                assert SMALL in used and (BIG in used or RUN_BOTH in used), "the sequence never switched"
    finally:
        assert fw.close() == 0


def test_extreme_outputs_and_weights_agree(host_exe):
    # weights near 2^27 and deltas near 2^32: distances near 2^61
    cfg = {"policy": "temporal", "weights": [200000, 200000, 100000, 200000], "threshold": 2.0**35, "k": 1,
           "rerun": True}
    assert max(quantize_policy(cfg, SMALL_FL).weight) > 2**26
    fw = FirmwareHost(host_exe)
    try:
        small, big = extreme_outputs(200, 5)
        used = replay(fw, cfg, small, big)
        assert used == simulate(cfg, small, big, SMALL_FL)
        assert SMALL in used and RUN_BOTH in used
        # |INT32_MIN| and cut points clamped to int32 in a partition
        part = {"policy": "partition", "channels": [0, 2], "absolute": [True, False], "cuts": [[-1.0, 3e4], [0.0]],
                "big_cells": [1, 4, 6]}
        used = replay(fw, part, small, big)
        assert used == simulate(part, small, big, SMALL_FL, BIG_FL) and SMALL in used and BIG in used
    finally:
        assert fw.close() == 0


def batch_outputs(exe, frames, tmp_path):
    (tmp_path / "frames.u8").write_bytes(frames.tobytes())
    outs = []
    for model, n in ((0, 5), (1, 4)):
        done = subprocess.run([exe, "--infer", str(model), tmp_path / "frames.u8", tmp_path / f"o{model}.i32"],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        outs.append(np.fromfile(tmp_path / f"o{model}.i32", dtype="<i4").reshape(len(frames), n).astype(np.int64))
    return outs


def middle_threshold(small, weights):
    """A threshold (real units) between the small model's typical and largest frame-to-frame moves,
    so that both branches occur."""
    q = quantize_policy({"policy": "temporal", "weights": weights, "threshold": 0.0}, SMALL_FL)
    d = [sum(w * abs(int(a) - int(b)) for w, a, b in zip(q.weight, x, y)) for x, y in zip(small[1:], small[:-1])]
    return (float(np.median(d)) + max(d)) / 2 / 2**q.scale_bits


def test_device_steps_match_the_python_simulation(host_exe, tmp_path):
    frames = random_frames(36, seed=21)
    small, big = batch_outputs(host_exe, frames, tmp_path)
    weights = [1, 1, 1, 1]
    threshold = middle_threshold(small, weights)
    configs = [
        {"policy": "temporal", "weights": weights, "threshold": threshold, "k": 2, "rerun": False},
        {"policy": "temporal", "weights": weights, "threshold": threshold, "k": 1, "rerun": True},
        {"policy": "aux", "threshold": float(np.median(small[:, 4])) / 2**SMALL_FL[4], "k": 1, "rerun": False},
        {"policy": "random", "p": 0.4, "seed": 77},
        {"policy": "partition", "channels": [0], "absolute": [False],
         "cuts": [[float(np.median(np.concatenate([small[:, 0] / 2**SMALL_FL[0], big[:, 0] / 2**BIG_FL[0]])))]],
         "big_cells": [0]},
    ]
    fw = FirmwareHost(host_exe)
    try:
        for cfg in configs:
            expected = simulate(cfg, small, big, SMALL_FL, BIG_FL)
            assert SMALL in expected and len(set(expected)) > 1, cfg  # a sequence that really switches
            install(fw, cfg)
            for t, frame in enumerate(frames):
                data = frame.tobytes()
                fw.send(f"ld {len(data)} {zlib.crc32(data):08x}%".encode())
                assert fw.read_line().startswith("m-ld-ready")
                fw.send(data)
                assert fw.read_until_ready() == ["m-load-done"]
                lines = fw.command("ea-step")
                step = parse_fields(lines[0], "m-step")
                assert int(step["frame"]) == t and int(step["model"]) == expected[t], (cfg, t)
                final = big[t] if expected[t] in (BIG, RUN_BOTH) else small[t]
                assert parse_list(lines[1], "m-outputs") == final.tolist()
                if t + 1 < len(frames):
                    assert int(step["next"]) == (expected[t + 1] if expected[t + 1] != RUN_BOTH else SMALL)
    finally:
        assert fw.close() == 0


@pytest.fixture(scope="module")
def shipped_host_exe(tmp_path_factory, shipped_pair_int8):
    from edgeadapt.codegen import export_pair
    from edgeadapt.quant.artifact import load_eaq

    import shutil

    from test_protocol_host import ROOT

    export = tmp_path_factory.mktemp("shipped-export") / "host"
    # the export lives in a fresh temporary folder: stale dependency files of an earlier one must go
    shutil.rmtree(ROOT / "build" / "test-fw-host-shipped", ignore_errors=True)
    export_pair(load_eaq(shipped_pair_int8["big"]), load_eaq(shipped_pair_int8["small"]), "host", export,
                sources=shipped_pair_int8)
    return build_host_firmware(tmp_path_factory.mktemp("fw-shipped"), name="test-fw-host-shipped", export=export,
                               kernels=True)


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("split", ["test", "test-unseen"])
def test_shipped_pair_on_both_test_splits_same_decisions_in_c_and_python(shipped_host_exe, shipped_data,
                                                                          shipped_pair_int8, split):
    """The integer reference outputs of the shipped int8 pair on every frame of a test split (known
    and never-seen environments), replayed sequence by sequence through the C policy and the Python
    one, for every policy family: the single models, random, temporal, both aux heads and the
    output-based partition, hand-set and as the sweep's grid fits them on the split. The C side
    only sees integers, so the fixture firmware serves (the configs are quantized with the shipped
    models' output FLs). The host firmware is built from the shipped pair's export, so it checks
    the configs against the real output counts (6 small)."""
    from edgeadapt.data import load_split
    from edgeadapt.harness.reference import reference_outputs
    from edgeadapt.quant.artifact import load_eaq
    from edgeadapt.quant.reference import output_fls

    test = load_split(shipped_data, split)
    small_g, big_g = load_eaq(shipped_pair_int8["small"]), load_eaq(shipped_pair_int8["big"])
    small_fl = [int(f) for f in output_fls(small_g)]
    big_fl = [int(f) for f in output_fls(big_g)]
    small = reference_outputs(shipped_pair_int8["small"], test.images, small_g)
    big = reference_outputs(shipped_pair_int8["big"], test.images, big_g)
    assert small.shape == (len(test), 6) and big.shape == (len(test), 4)
    grid = sweep_grid_sample(small, big, small_fl, big_fl, test)
    configs = grid + [
        "always-small",
        "always-big",
        {"policy": "random", "p": 0.3, "seed": 7},
        {"policy": "temporal", "weights": [1, 1, 1, 1], "threshold": 0.2, "k": 2, "rerun": True},
        {"policy": "aux", "aux_index": 4, "threshold": 0.0, "k": 1, "rerun": False},
        {"policy": "aux", "aux_index": 5, "threshold": 0.9, "k": 2, "rerun": True},
        {"policy": "partition", "channels": [0, 1, 3], "absolute": [False, True, True],
         "cuts": [[1.2, 2.0], [0.5], [0.3, 0.7]], "big_cells": [1, 2, 5, 6, 18, 21, 22, 37, 38]},
    ]
    fw = FirmwareHost(shipped_host_exe)
    try:
        for cfg in configs:
            used_all = []
            for idx in test.sequences():
                used = replay_with_fl(fw, cfg, small[idx], big[idx], small_fl, big_fl)
                assert used == simulate(cfg, small[idx], big[idx], small_fl, big_fl)
                used_all += used
            assert len(used_all) == len(test)
            if isinstance(cfg, dict):  # the adaptive and random policies really switch on this data
                assert SMALL in used_all and (BIG in used_all or RUN_BOTH in used_all), cfg
    finally:
        assert fw.close() == 0


def sweep_grid_sample(small, big, small_fl, big_fl, frames) -> list:
    """Configs of the policy sweep's own grid, fitted on these frames as the sweep fits them: for
    every family and variant (temporal weight preset x rerun, each aux head x rerun, each partition
    layout) the config at the middle of its threshold (or cell-count) range, and for the partitions
    also the one with every positive cell; as dicts, the form a policy.json holds."""
    from edgeadapt.policy.sweep import CycleModel, SweepData, policy_grid

    data = SweepData(small, big, small_fl, big_fl, frames.labels.astype(np.float64), frames.sequences(),
                     CycleModel(1.0, 6.0))
    groups = {}
    for c in policy_grid(data, ks=(2,)):
        if c.policy in ("temporal", "aux", "partition"):
            key = (c.policy, c.meta.get("preset"), c.aux_index, c.rerun)
            groups.setdefault(key, []).append(c)
    picked = []
    for (kind, *_), group in sorted(groups.items(), key=lambda kv: str(kv[0])):
        picked.append(group[len(group) // 2])
        if kind == "partition":
            picked.append(group[-1])
    kinds = {(c.policy, c.aux_index) for c in picked}
    assert {("temporal", None), ("aux", 4), ("aux", 5), ("partition", None)} <= kinds, kinds
    return [{k: v for k, v in c.to_dict().items() if k != "meta"} for c in picked]


def test_partition_round_trips_through_the_link(host_exe):
    """The partition commands fit the command buffer, and the device's echo parses back to the same
    integer config (what the harness compares before it runs frames)."""
    from edgeadapt.harness.device import parse_policy_line, same_policy

    cfg = {"policy": "partition", "channels": [0, 1, 3], "absolute": [False, True, True],
           "cuts": [[-70000.0, 1.1, 1.3], [1.0, 2.0, 3.0], [0.8, 1.2, 70000.0]], "big_cells": [0, 63, 21, 42]}
    c = quantize_policy(cfg, SMALL_FL, BIG_FL)
    assert c.part_cut[0][0][0] == INT32_MIN and c.part_cut[1][2][2] == INT32_MAX  # clamped to int32
    lines = protocol_commands(c, SMALL_FL, BIG_FL)
    assert all(len(line) <= 80 for line in lines) and len(lines) > 1
    fw = FirmwareHost(host_exe)
    try:
        for line in lines:
            reply = fw.command(line)
        got = parse_policy_line(reply[0])
        assert same_policy(got, c) and got.part_mask == (1 << 63) | (1 << 42) | (1 << 21) | 1
    finally:
        assert fw.close() == 0
