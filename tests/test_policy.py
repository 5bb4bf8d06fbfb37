"""edgeadapt.policy: config validation, the integer conversion and the switching semantics."""

import json
import subprocess
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgeadapt.errors import EdgeadaptError
from edgeadapt.policy import (
    BIG,
    RUN_BOTH,
    SMALL,
    IntPolicyConfig,
    Policy,
    load_policy_config,
    policy_default_c_source,
    protocol_commands,
    quantize_policy,
    simulate,
    to_c_initializer,
    xorshift32,
)

ROOT = Path(__file__).resolve().parents[1]
FL = [11, 11, 12, 11, 10]  # the small model's output FLs in most tests (4 pose + aux)
BIG_FL = [12, 12, 13, 12]  # the big model's (a partition reads both)


def temporal(threshold, weights=(1, 1, 1, 1), k=2, rerun=False):
    return {"policy": "temporal", "weights": list(weights), "threshold": threshold, "k": k, "rerun": rerun}


def q(value, fl):
    """A real value as a raw output at this FL."""
    return int(round(value * 2**fl))


# ------------------------------------------------------------------ config files and validation


def test_names_and_files_load(tmp_path):
    assert load_policy_config("always-small").policy == "always-small"
    assert load_policy_config("always-big").policy == "always-big"
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"policy": "random", "p": 0.25, "meta": {"from": "sweep"}}))
    cfg = load_policy_config(path)
    assert (cfg.policy, cfg.p, cfg.seed, cfg.meta) == ("random", 0.25, 1, {"from": "sweep"})
    assert cfg.to_dict() == {"policy": "random", "p": 0.25, "seed": 1, "meta": {"from": "sweep"}}
    assert load_policy_config(str(path)) == cfg
    assert load_policy_config(temporal(0.5)).weights == (1.0, 1.0, 1.0, 1.0)


@pytest.mark.parametrize(
    "obj, message",
    [
        ([1, 2], "expected a JSON object, got list"),
        ({"policy": "smart"}, "\"policy\" must be one of"),
        ({"policy": "temporal"}, "the temporal policy needs \"threshold\""),
        ({"policy": "random"}, "the random policy needs \"p\""),
        ({"policy": "random", "p": 1.5}, "\"p\" = 1.5 is outside 0.0..1.0"),
        ({"policy": "random", "p": 0.5, "seed": 0}, "\"seed\" = 0 is outside 1..4294967295"),
        ({"policy": "random", "p": 0.5, "seed": 2.0}, "\"seed\" must be an integer"),
        ({"policy": "temporal", "threshold": 1, "weights": []}, "\"weights\" must be a list of 1 to 8"),
        ({"policy": "temporal", "threshold": 1, "weights": [1, -1]}, "\"weights\"[1] = -1 is outside"),
        ({"policy": "temporal", "threshold": "big"}, "\"threshold\" must be a finite number, got 'big'"),
        ({"policy": "temporal", "threshold": float("nan")}, "must be a finite number"),
        ({"policy": "temporal", "threshold": 1, "rerun": 1}, "\"rerun\" must be true or false"),
        ({"policy": "temporal", "threshold": 1, "k": -1}, "\"k\" = -1 is outside"),
        ({"policy": "temporal", "threshold": 1, "p": 0.5}, "key 'p' is not a parameter of the temporal policy"),
        ({"policy": "always-big", "k": 1}, "key 'k' is not a parameter of the always-big policy"),
        ({"policy": "aux", "threshold": 0, "meta": 3}, "\"meta\" must be an object"),
        ({"policy": "partition", "channels": [4], "absolute": [True], "cuts": [[1]], "big_cells": []},
         "\"channels\"[0] = 4 is outside 0..3"),
        ({"policy": "partition", "channels": [0, 0], "absolute": [True, True], "cuts": [[1], [1]], "big_cells": []},
         "must not repeat an output"),
        ({"policy": "partition", "channels": [0], "absolute": [True, False], "cuts": [[1]], "big_cells": []},
         "\"absolute\" must have one entry per channel (1)"),
        ({"policy": "partition", "channels": [0], "absolute": [True], "cuts": [[2, 1]], "big_cells": []},
         "cut points must be ascending"),
        ({"policy": "partition", "channels": [0], "absolute": [True], "cuts": [[1, 2, 3, 4]], "big_cells": []},
         "lists of 1 to 3 numbers"),
        ({"policy": "partition", "channels": [0, 3], "absolute": [False, True], "cuts": [[1], [1]], "big_cells": [2]},
         "\"big_cells\" holds 2, not a cell of these cuts"),
        ({"policy": "partition", "channels": [0], "absolute": [True], "cuts": [[1]]}, "needs \"big_cells\""),
    ],
)
def test_invalid_configs_are_one_line_errors(obj, message):
    with pytest.raises(EdgeadaptError) as err:
        load_policy_config(obj)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_file_errors_name_the_file(tmp_path):
    with pytest.raises(EdgeadaptError, match=r"missing\.json: no such file"):
        load_policy_config(tmp_path / "missing.json")
    with pytest.raises(EdgeadaptError, match=r"no such file \(names accepted: always-small, always-big\)"):
        load_policy_config("temporal")
    bad = tmp_path / "bad.json"
    bad.write_text('{"policy": "temporal",\n "threshold": }')
    with pytest.raises(EdgeadaptError, match=r"bad\.json: invalid JSON at line 2"):
        load_policy_config(bad)


# ------------------------------------------------------------------ the integer conversion


def test_temporal_weights_and_threshold_in_units_of_2_pow_minus_s():
    c = quantize_policy(temporal(0.5, weights=(1, 0.5, 2, 0.1)), FL)
    assert c.scale_bits == 24  # max FL 12 + 8 < 24
    # W_c = round(weight_c * 2^(24 - FL_c)), T = round(0.5 * 2^24)
    assert c.weight == (8192, 4096, 8192, 819)  # 0.1 * 8192 = 819.2 -> 819
    assert c.threshold == 8388608 and c.num_channels == 4 and c.k == 2 and c.rerun == 0


def test_scale_follows_fine_outputs_and_rounds_half_up():
    c = quantize_policy(temporal(0.001, weights=(1, 1)), [20, 17])
    assert c.scale_bits == 28  # 20 + 8
    assert c.weight == (256, 2048)
    assert c.threshold == 268435  # 0.001 * 2^28 = 268435.456
    # exact ties round up: 0.75 * 2^1 = 1.5 -> 2 ; 2.5 / 2^... handled with exact fractions
    tie = quantize_policy(temporal(2.5 / 2**24, weights=(0.75 / 2**12,)), [11])
    assert tie.weight == (2,) and tie.threshold == 3


def test_temporal_limits():
    with pytest.raises(EdgeadaptError, match=r"weight 20.0 on output 0 \(FL 0\) is too large"):
        quantize_policy(temporal(1, weights=(20,)), [0])
    with pytest.raises(EdgeadaptError, match=r"weight 1e-09 on output 0 \(FL 11\) rounds to 0"):
        quantize_policy(temporal(1, weights=(1e-9,)), [11])
    with pytest.raises(EdgeadaptError, match=r"4 temporal weights but the small model has only 3 outputs"):
        quantize_policy(temporal(1), [11, 11, 11])
    with pytest.raises(EdgeadaptError, match="temporal threshold -1.0 must be in"):
        quantize_policy(temporal(-1), FL)


def test_aux_and_random_conversion():
    aux = quantize_policy({"policy": "aux", "threshold": 0.3, "k": 3, "rerun": True}, FL)
    assert (aux.aux_index, aux.aux_threshold, aux.k, aux.rerun) == (4, 307, 3, 1)  # 0.3 * 1024 = 307.2
    neg = quantize_policy({"policy": "aux", "aux_index": 2, "threshold": -1.5}, FL)
    assert (neg.aux_index, neg.aux_threshold) == (2, -6144)
    with pytest.raises(EdgeadaptError, match="aux_index 5 but the small model has 5 outputs"):
        quantize_policy({"policy": "aux", "aux_index": 5, "threshold": 0}, FL)
    with pytest.raises(EdgeadaptError, match="does not fit int32"):
        quantize_policy({"policy": "aux", "threshold": 3e6}, FL)
    rnd = quantize_policy({"policy": "random", "p": 0.3, "seed": 99}, FL)
    assert (rnd.p_big, rnd.seed) == (5033165, 99)  # 0.3 * 2^24 = 5033164.8
    assert quantize_policy({"policy": "random", "p": 1.0}, FL).p_big == 2**24


# ------------------------------------------------------------------ semantics


def test_xorshift32_reference_values():
    x = 1
    seq = []
    for _ in range(3):
        x = xorshift32(x)
        seq.append(x)
    assert seq == [270369, 67634689, 2647435461]


def test_temporal_proactive_swap_runs_big_for_exactly_k_next_frames():
    p = Policy(temporal(0.5, weights=(1, 0, 0, 0), k=2), FL)
    assert p.reset() == SMALL
    still = [0, 0, 0, 0, 0]
    moved = [q(0.6, 11), 0, 0, 0, 0]  # |dx| = 0.6 m > 0.5
    assert p.decide_next(SMALL, still) == SMALL  # no previous output: no trigger
    assert p.decide_next(SMALL, moved) == BIG and not p.rerun  # the frame in hand is not re-run
    assert p.decide_next(BIG, [9, 9, 9, 9]) == BIG  # the second of k = 2
    assert p.decide_next(BIG, [9, 9, 9, 9]) == SMALL
    # the next small frame is compared with the last *small* output (moved), not with big's
    assert p.decide_next(SMALL, moved) == SMALL


def test_temporal_threshold_is_strict_and_weighted():
    exact = [q(0.5, 11), 0, 0, 0, 0]
    p = Policy(temporal(0.5, weights=(1, 1, 1, 1), k=1), FL)
    p.decide_next(SMALL, [0] * 5)
    assert p.decide_next(SMALL, exact) == SMALL  # d == T does not trigger
    p.reset()
    p.decide_next(SMALL, [0] * 5)
    assert p.decide_next(SMALL, [q(0.25, 11), 0, q(0.25, 12) + 1, 0, 0]) == BIG  # 0.25 + 0.25 + 2^-12
    w = Policy(temporal(0.5, weights=(0, 0, 0, 2), k=1), FL)
    w.decide_next(SMALL, [0] * 5)
    assert w.decide_next(SMALL, [10**6, 10**6, 10**6, q(0.3, 11), 0]) == BIG  # 2 * 0.3 > 0.5, x ignored


def test_temporal_rerun_runs_both_on_the_trigger_frame():
    p = Policy(temporal(0.1, weights=(1,), k=1, rerun=True), FL)
    p.decide_next(SMALL, [0])
    assert p.decide_next(SMALL, [q(1.0, 11)]) == BIG and p.rerun
    assert p.decide_next(BIG, [0, 0, 0, 0]) == BIG and not p.rerun  # then k = 1 big frame
    assert p.decide_next(BIG, [0, 0, 0, 0]) == SMALL


def test_aux_triggers_above_threshold():
    p = Policy({"policy": "aux", "threshold": 0.0, "k": 1}, FL)
    assert p.decide_next(SMALL, [5, 5, 5, 5, 0]) == SMALL  # 0 > 0 is false
    assert p.decide_next(SMALL, [5, 5, 5, 5, 1]) == BIG
    assert p.decide_next(BIG, [5, 5, 5, 5]) == SMALL


def test_random_fraction_and_determinism():
    cfg = {"policy": "random", "p": 0.3, "seed": 12345}
    runs = [simulate(cfg, np.zeros((20000, 5)), np.zeros((20000, 4)), FL) for _ in range(2)]
    assert runs[0] == runs[1]
    frac = np.mean(np.array(runs[0]) == BIG)
    assert abs(frac - 0.3) < 0.01
    other = simulate({"policy": "random", "p": 0.3, "seed": 7}, np.zeros((200, 5)), np.zeros((200, 4)), FL)
    assert other != runs[0][:200]
    assert set(simulate({"policy": "random", "p": 0.0}, np.zeros((500, 5)), np.zeros((500, 4)), FL)) == {SMALL}
    assert set(simulate({"policy": "random", "p": 1.0}, np.zeros((500, 5)), np.zeros((500, 4)), FL)) == {BIG}


def test_simulate_picks_the_outputs_of_the_model_that_ran():
    # small jumps at frame 3; big's outputs never move; k = 2
    small = np.zeros((8, 5), np.int64)
    small[3:, 0] = q(1.0, 11)
    small[6:, 0] = q(3.0, 11)  # frame 6: compared with frame 3's small output -> trigger again
    big = np.full((8, 4), 77)
    used = simulate(temporal(0.5, weights=(1,), k=2), small, big, FL)
    assert used == [SMALL, SMALL, SMALL, SMALL, BIG, BIG, SMALL, BIG]
    rerun = simulate(temporal(0.5, weights=(1,), k=1, rerun=True), small, big, FL)
    assert rerun == [SMALL, SMALL, SMALL, RUN_BOTH, BIG, SMALL, RUN_BOTH, BIG]
    assert simulate("always-big", small, big, FL) == [BIG] * 8
    with pytest.raises(EdgeadaptError, match="equal N"):
        simulate("always-small", small, big[:5], FL)


def test_float_config_needs_output_fls():
    with pytest.raises(EdgeadaptError, match="output FLs are needed"):
        Policy(temporal(0.5))
    assert Policy(IntPolicyConfig(kind=1)).reset() == BIG


# ------------------------------------------------------------------ C and protocol forms


def test_protocol_commands_fit_the_command_buffer():
    lines = protocol_commands(temporal(0.5), FL)
    assert lines == ["ea-policy temporal n=4 w0=8192 w1=8192 w2=4096 w3=8192 t=8388608 k=2 rerun=0"]
    wide = protocol_commands(temporal(3000.0, weights=[7.9] * 8, k=4000000000), [0] * 8)
    assert len(wide) > 1 and all(len(line) <= 80 and line.startswith("ea-policy temporal ") for line in wide)
    assert wide[0].split()[2] == "n=8"
    assert protocol_commands({"policy": "random", "p": 0.5, "seed": 3}, FL) == ["ea-policy random seed=3 p=8388608"]
    assert protocol_commands("always-big", FL) == ["ea-policy always-big"]


def test_fixture_baked_policy_is_what_to_c_initializer_writes():
    """The fixture export's ea_policy_default.c holds the documented config's integers."""
    text = (ROOT / "firmware/tests/fixture_export/ea_policy_default.c").read_text()
    c = quantize_policy(temporal(0.5, k=2), [15, 15, 16, 15, 14])
    assert f".weight = {{{', '.join(map(str, c.weight))}}}" in text
    assert f".threshold = {c.threshold}," in text and ".k = 2," in text


@pytest.mark.parametrize(
    "cfg",
    [temporal(0.37, weights=(1, 0.5, 2, 0.25), k=3, rerun=True), {"policy": "aux", "threshold": -1.0, "k": 2},
     {"policy": "random", "p": 0.61, "seed": 4000000000}, "always-big",
     {"policy": "partition", "channels": [0, 3], "absolute": [False, True], "cuts": [[1.5, 2.5], [0.25]],
      "big_cells": [2, 5, 6]}],
)
def test_c_initializer_compiles_and_holds_the_integers(tmp_path, cfg):
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    c = quantize_policy(cfg, FL, BIG_FL)
    (tmp_path / "ea_policy_default.c").write_text(policy_default_c_source(cfg, FL, "test", BIG_FL))
    (tmp_path / "main.c").write_text(
        '#include <stdio.h>\n#include "ea_policy.h"\nint main(void) {\n'
        "  const ea_policy_config_t *c = &ea_policy_default;\n"
        '  printf("%d %u %d %d %d %d %lld %u %d %u %u %u %u\\n", (int)c->kind, c->num_channels, c->weight[0],\n'
        "         c->weight[1], c->weight[2], c->weight[3], (long long)c->threshold, c->aux_index,\n"
        "         c->aux_threshold, c->k, c->rerun, c->seed, c->p_big);\n"
        '  printf("%u %u %u %u %u %d %d %d %d %u %u\\n", c->part_n, c->part_channel[0], c->part_channel[1],\n'
        "         c->part_abs, c->part_ncut[0], c->part_cut[0][0][0], c->part_cut[0][0][1], c->part_cut[1][0][0],\n"
        "         c->part_cut[1][1][0], c->part_mask_lo, c->part_mask_hi);\n  return 0;\n}\n")
    exe = tmp_path / "probe"
    built = subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", f"-I{ROOT / 'firmware/policy'}",
                            str(tmp_path / "main.c"), str(tmp_path / "ea_policy_default.c"), "-o", str(exe)],
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    got = [int(v) for v in subprocess.run([exe], capture_output=True, text=True).stdout.split()]
    w = list(c.weight) + [0] * (4 - len(c.weight))
    assert got[:13] == [c.kind, c.num_channels, *w[:4], c.threshold, c.aux_index, c.aux_threshold, c.k, c.rerun,
                        c.seed, c.p_big]
    if c.part_n:
        assert got[13:] == [c.part_n, *c.part_channel, c.part_abs, c.part_ncut[0], *c.part_cut[0][0], c.part_cut[1][0][0],
                            c.part_cut[1][1][0], c.part_mask & 0xFFFFFFFF, c.part_mask >> 32]
        # cut q > floor(cut * 2^FL): x at FL 11 (small), 12 (big); the mask has bits 2, 5 and 6
        assert c.part_cut[0][0] == (int(1.5 * 2**FL[0]), int(2.5 * 2**FL[0])) and c.part_mask == 0b1100100
    else:
        assert got[13:] == [0] * 11
    assert to_c_initializer(cfg, FL, BIG_FL) in (tmp_path / "ea_policy_default.c").read_text()
