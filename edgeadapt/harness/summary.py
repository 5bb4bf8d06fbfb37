"""summary.json: a run's figures, computed from its results.jsonl records alone.

Latency of a frame = its cycles (model run(s) + the policy's decision) / the clock of the chosen
operating point. Under QEMU (-icount shift=0) cycles are instruction counts, so latency and energy
are instruction-count estimates and are labelled so. MAE compares the dequantized outputs of the
model that ran with the labels, exactly as the policy sweep predicts it.
"""

import numpy as np

from edgeadapt.policy.sweep import POSE, dequantize, pose_mae

EMULATED_LABEL = ("instruction-count estimate: QEMU -icount shift=0 counts instructions, so latency = "
                  "instructions / clock (1 instruction per cycle), not a measured time")


def percentiles(values) -> dict:
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(v.mean()), "p50": float(np.percentile(v, 50)), "p99": float(np.percentile(v, 99))}


def frame_predictions(frames, fls) -> np.ndarray:
    """(N, 4) dequantized pose of each frame record; fls: {model id: output FLs}."""
    rows = [dequantize(np.asarray(r["outputs"][:4]), fls[r["out_model"]][:4]) for r in frames]
    return np.vstack(rows) if rows else np.zeros((0, 4))


def summarize(header: dict, frames: list, calibration=None, energy=None) -> dict:
    """The summary.json contract (plus detail keys) of a run's frame records.

    energy: optional {"per_frame_mj": [...], "source": str} replacing the power-model figures
    (a measured trace, see edgeadapt.harness.energy).
    """
    n = len(frames)
    fls = {int(k): v for k, v in header["output_fl"].items()}
    labels = np.array([r["label"] for r in frames], dtype=np.float64)
    cycles = np.array([r["cycles"] + r["policy_cycles"] for r in frames], dtype=np.float64)
    clock = header["clock_hz"]
    latency_ms = cycles / clock * 1e3
    mae = pose_mae(frame_predictions(frames, fls), labels) if n else {k: None for k in (*POSE, "sum")}
    if energy is not None:
        per_frame = np.asarray(energy["per_frame_mj"], dtype=np.float64)
        energy_source = energy["source"]
    else:
        per_frame = np.array([r["energy_mj"] for r in frames if r.get("energy_mj") is not None])
        energy_source = header.get("energy_source")
    energy_mj = percentiles(per_frame) if len(per_frame) == n and n else {"mean": None}
    models = np.array([r["model"] for r in frames])
    mismatches = [r["frame"] for r in frames if not r["bit_exact"]]
    disagreements = [r["frame"] for r in frames if not r["policy_agrees"]]
    emulated = bool(header["emulated"])
    summary = {
        "target": header["target"],
        "emulated": emulated,
        "policy": header["policy"] if header["policy"] is not None else {
            "baked": (calibration or {}).get("device_policy")},
        "frames": n,
        "bit_exact_frames": n - len(mismatches),
        "big_share": float(np.mean(models != 0)) if n else None,
        "latency_ms": percentiles(latency_ms) if n else {"mean": None, "p50": None, "p99": None},
        "cycles": {**(percentiles(cycles) if n else {"mean": None}),
                   "model_mean": float(np.mean([r["cycles"] for r in frames])) if n else None,
                   "policy_mean": float(np.mean([r["policy_cycles"] for r in frames])) if n else None},
        "mae": mae,
        "energy_mj": energy_mj,
        "operating_point": header["operating_point"],
        "clock_mhz": clock / 1e6,
        "power": header.get("power"),
        "frame_period_ms": header["frame_period_s"] * 1e3 if header.get("frame_period_s") else None,
        "energy_source": energy_source,
        "latency_label": EMULATED_LABEL if emulated else header.get("latency_label", "measured cycles / clock"),
        "policy_agreement_frames": n - len(disagreements),
        "model_frames": {"small": int(np.sum(models == 0)), "big": int(np.sum(models == 1)),
                         "small_then_big": int(np.sum(models == 2))},
        "mismatch_frames": mismatches[:50],
        "policy_disagreement_frames": disagreements[:50],
        "link": {"retries": int(sum(r.get("attempts", 1) - 1 for r in frames)),
                 "sessions": int(len({r.get("session", 0) for r in frames}))},
        "models": header["models"],
        "calibration": None if calibration is None else calibration.get("cycles"),
        "complete": n == header["frames"],
    }
    return summary
