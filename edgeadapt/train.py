"""Float training of a registered model on a dataset folder (the PULP-Frontnet recipe).

L1 loss summed over the four outputs, horizontal flips (p = 0.5) that negate y and phi, Adam with
ReduceLROnPlateau (factor sqrt(0.1), patience 5) and early stopping (patience 10) on the
validation loss; the best-validation weights are what gets saved. Deterministic for a seed on
the CPU: one numpy generator drives shuffling and flips, torch's seed drives init and dropout.

With the auxiliary heads the model gets two more outputs, trained WITH the network (the whole
small model is fine-tuned on the pose loss plus the two auxiliary losses, starting from an
existing small checkpoint `init`):
- output 4, the switching logit: "the big model (`teacher`) is markedly better than this small
  model on this frame" (the small model's summed |error| minus the teacher's > margin), BCE;
- output 5, the self-confidence estimate: the small model's own summed |error| on this frame, L1.
Both targets come from the small model's current outputs on the batch (detached), so they follow
the model as it trains; the teacher's errors are computed once per split (plain and mirrored).
With `aux_only` only the two aux rows of the last layer train (a linear probe on frozen features).
"""

import math
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import rankdata

from edgeadapt.console import QUIET, level
from edgeadapt.data import Camera, compute_metrics, dataset_kind, load_split, normalize, train_label_mean
from edgeadapt.errors import EdgeadaptError
from edgeadapt.evaluate import check_input_size, predict_outputs
from edgeadapt.models import build_from_config, export_onnx, load_checkpoint, model_config, save_checkpoint

POSE = 4
AUX_OUTPUTS = 2  # switching logit, predicted own error
FLIP_SIGN = np.array([1.0, -1.0, 1.0, -1.0], dtype=np.float32)  # mirroring negates y and phi


def train(
    model_name: str,
    data_dir,
    out,
    *,
    epochs: int = 30,
    seed: int = 0,
    batch_size: int = 64,
    lr: float = 1e-3,
    patience: int = 10,
    onnx=None,
    aux_head: bool = False,
    teacher=None,
    init=None,
    aux_margin: float = 0.2,
    aux_weight: float = 0.1,
    aux_only: bool = False,
    photometric_aug: bool = False,
    max_zoom: float = 1.0,
    threads: int = 2,
    progress: bool = True,
    on_epoch=None,
) -> dict:
    """Train, save the best-validation checkpoint to `out` (and ONNX to `onnx`), return the record."""
    if epochs < 1 or batch_size < 1:
        raise EdgeadaptError(f"epochs and batch size must be >= 1 (got {epochs}, {batch_size})")
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    started = time.time()

    config = model_config(model_name, outputs=POSE + AUX_OUTPUTS if aux_head else POSE)
    model = build_from_config(config)
    h, w = config["input"]
    size = f"{w}x{h}" if dataset_kind(data_dir) == "frontnet" else None  # Frontnet folders hold two sizes
    splits = {s: load_split(data_dir, s, size) for s in ("train", "val", "test")}
    for split, frames in splits.items():
        check_input_size(frames.images, config["input"], f"{data_dir} ({split} split), model '{model_name}'")
    train_mean = np.asarray(train_label_mean(data_dir, size), dtype=np.float32)

    aux = None
    if aux_head:
        if init is None or teacher is None:
            raise EdgeadaptError("--aux-head fine-tunes a small model: give both --init SMALL.pt and --teacher BIG.pt")
        aux = AuxTargets(teacher, splits, aux_margin)
    init_command = None
    if init is not None:
        init_command = _init_from(model, init, model_name)
    if aux_only:
        if aux is None:
            raise EdgeadaptError("--aux-only trains the aux head alone: it needs --aux-head")
        _freeze_all_but_aux(model)

    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=math.sqrt(0.1), patience=5, min_lr=1e-7)
    train_set = splits["train"]
    n = len(train_set.labels)
    if n == 0:
        raise EdgeadaptError(f"{data_dir}: the train split is empty")
    best = {"loss": math.inf, "epoch": 0, "state": None}
    history = []
    from tqdm import tqdm

    progress = progress and level() != QUIET
    bar = tqdm(range(1, epochs + 1), desc=f"train {model_name}", unit="epoch", disable=not progress)
    for epoch in bar:
        # with aux_only the backbone stays in eval mode: no BN statistics update, no dropout, so the
        # pose outputs remain exactly those of the --init model
        model.train(not aux_only)
        order = rng.permutation(n)
        flips = rng.random(n) < 0.5
        total = 0.0
        batches = tqdm(range(0, n, batch_size), desc=f"epoch {epoch}", unit="batch", leave=False, disable=not progress)
        for start in batches:
            idx = order[start : start + batch_size]
            x, y, a = _batch(train_set, idx, flips[idx], aux, "train", rng, photometric_aug, max_zoom)
            optimizer.zero_grad(set_to_none=True)
            loss = _loss(model(x), y, a, aux_weight, aux_margin)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        val_loss = _eval_loss(model, splits["val"], aux, aux_weight)
        scheduler.step(val_loss)
        history.append({"epoch": epoch, "train_loss": total / n, "val_loss": val_loss, "lr": optimizer.param_groups[0]["lr"]})
        if val_loss < best["loss"]:
            best = {"loss": val_loss, "epoch": epoch, "state": {k: v.clone() for k, v in model.state_dict().items()}}
        bar.set_postfix(loss=f"{total / n:.3f}", val=f"{val_loss:.3f}", best=best["epoch"])
        if on_epoch is not None:
            on_epoch({**history[-1], "best_epoch": best["epoch"]})
        if epoch - best["epoch"] >= patience:
            break
    bar.close()

    model.load_state_dict(best["state"])
    model.eval()
    record = {
        "model": model_name,
        "data": str(data_dir),
        "seed": seed,
        "epochs": epochs,
        "epochs_run": len(history),
        "best_epoch": best["epoch"],
        "batch_size": batch_size,
        "lr": lr,
        "photometric": photometric_aug,
        "aux_only": aux_only,
        "max_zoom": max_zoom,
        "threads": threads,
        "seconds": round(time.time() - started, 1),
        "frames": {s: int(len(f.labels)) for s, f in splits.items()},
    }
    for split in ("val", "test"):
        outputs = predict_outputs(model, splits[split])
        record[split] = compute_metrics(outputs[:, :POSE], splits[split].labels, train_mean)
        if aux is not None:
            record.setdefault("aux", {"margin": aux_margin, "weight": aux_weight, "teacher": str(teacher), "init": str(init)})
            record["aux"][split] = aux.score(split, outputs, splits[split].labels)
    if init_command is not None:
        record["init_command"] = init_command  # how the starting point was trained
    record["command"] = cli_command(record, out, onnx, init, teacher, aux_head, aux_margin, aux_weight)
    record["history"] = history
    save_checkpoint(out, model, model_name, config, record)
    record["out"] = str(out)
    if onnx is not None:
        _, info = load_checkpoint(out)
        export_onnx(model, info, onnx)
        record["onnx"] = str(onnx)
    return record


def cli_command(record, out, onnx, init, teacher, aux_head, aux_margin, aux_weight) -> str:
    """The `edgeadapt train` invocation equivalent to this run (kept in the checkpoint)."""
    parts = [f"edgeadapt train --model {record['model']} --data {record['data']} --out {out}",
             f"--epochs {record['epochs']} --seed {record['seed']}"]
    if record["batch_size"] != 64:
        parts.append(f"--batch-size {record['batch_size']}")
    if record["lr"] != 1e-3:
        parts.append(f"--lr {record['lr']:g}")
    if record["photometric"]:
        parts.append("--photometric")
    if record.get("threads", 2) != 2:
        parts.append(f"--threads {record['threads']}")
    if record["max_zoom"] > 1.0:
        parts.append(f"--zoom {record['max_zoom']:g}")
    if init is not None:
        parts.append(f"--init {init}")
    if aux_head:
        parts.append(f"--aux-head --teacher {teacher} --aux-margin {aux_margin:g} --aux-weight {aux_weight:g}")
        if record.get("aux_only"):
            parts.append("--aux-only")
    if onnx is not None:
        parts.append(f"--onnx {onnx}")
    return " ".join(parts)


def _batch(frames, idx, flip, aux, split, rng=None, photometric_aug=False, max_zoom=1.0):
    images = frames.images[idx]
    labels = frames.labels[idx].astype(np.float32)
    if flip.any():
        images = images.copy()
        images[flip] = images[flip][:, :, ::-1]
        labels[flip] *= FLIP_SIGN
    if rng is not None and max_zoom > 1.0:
        images, labels = zoom(images, labels, rng, max_zoom)
    if rng is not None and photometric_aug:
        images = photometric(images, rng)
    x = torch.from_numpy(normalize(images))
    y = torch.from_numpy(np.ascontiguousarray(labels))
    a = None if aux is None else torch.from_numpy(aux.teacher_error(split, idx, flip))
    return x, y, a


def zoom(images, labels, rng, max_zoom, p=0.5, margin_px=4.0):
    """Zoom in about the principal point by s in [1, max_zoom] on a random half of the frames.

    For a pinhole camera this is exactly the scene with every depth divided by s: the head keeps
    its lateral offsets y and z and its distance becomes x / s, and its apparent size, its image
    position and the floor line all move consistently. It teaches size-to-distance from every
    subject at many distances, so x is not memorised per subject. s is capped so the head stays
    in view. Output is re-rounded to uint8 (the network only ever sees whole pixel values).
    """
    n, h, w = images.shape
    fx = Camera.for_size(f"{w}x{h}").fx
    s = np.where(rng.random(n) < p, rng.uniform(1.0, max_zoom, n), 1.0)
    x = np.maximum(labels[:, 0], 1e-3)
    du = np.abs(fx * labels[:, 1] / x) + 1e-6  # head offset from the image centre, pixels
    dv = np.abs(fx * labels[:, 2] / x) + 1e-6
    s = np.clip(np.minimum(s, np.minimum((w / 2 - margin_px) / du, (h / 2 - margin_px) / dv)), 1.0, None)
    if np.all(s == 1.0):
        return images, labels
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = torch.from_numpy(1.0 / s).float()
    theta[:, 1, 1] = theta[:, 0, 0]
    src = torch.from_numpy(images.astype(np.float32))[:, None]
    grid = torch.nn.functional.affine_grid(theta, (n, 1, h, w), align_corners=False)
    out = torch.nn.functional.grid_sample(src, grid, mode="bilinear", padding_mode="border", align_corners=False)
    images = out[:, 0].round().clamp(0, 255).to(torch.uint8).numpy()
    labels = labels.copy()
    labels[:, 0] = labels[:, 0] / s.astype(np.float32)
    return images, labels


def photometric(images, rng):
    """Random exposure, contrast, gamma and sensor noise per frame (the label is unchanged).

    The PULP-Frontnet training set carries the same kinds of photometric augmentation, applied
    offline; here it is drawn fresh every epoch. Output stays uint8 so the network input keeps
    its exact (p - 128) / 256 form.
    """
    n = len(images)
    v = images.astype(np.float32) * (1.0 / 255.0)
    gamma = np.exp(rng.uniform(np.log(0.6), np.log(1.6), n)).astype(np.float32)
    v = v ** gamma[:, None, None]
    gain = rng.uniform(0.6, 1.4, n).astype(np.float32)
    offset = rng.uniform(-0.15, 0.15, n).astype(np.float32)
    mean = v.mean(axis=(1, 2), keepdims=True)
    v = (v - mean) * gain[:, None, None] + mean + offset[:, None, None]
    sigma = rng.uniform(0.0, 0.04, n).astype(np.float32)
    v += rng.standard_normal(v.shape, dtype=np.float32) * sigma[:, None, None]
    return np.clip(np.rint(v * 255.0), 0, 255).astype(np.uint8)


def _loss(output, y, teacher_error, aux_weight, margin=0.2):
    pose_error = (output[:, :POSE] - y).abs()
    loss = pose_error.mean(0).sum()
    if teacher_error is not None:
        own = pose_error.sum(1).detach()  # the targets follow the model as it trains
        better = (own - teacher_error > margin).float()
        gain = torch.nn.functional.binary_cross_entropy_with_logits(output[:, POSE], better)
        confidence = (output[:, POSE + 1] - own).abs().mean()
        loss = loss + aux_weight * (gain + confidence)
    return loss


def _eval_loss(model, frames, aux, aux_weight):
    outputs = torch.from_numpy(predict_outputs(model, frames))
    y = torch.from_numpy(frames.labels.astype(np.float32))
    t = None if aux is None else torch.from_numpy(aux.teacher_error("val", np.arange(len(y)), np.zeros(len(y), bool)))
    return float(_loss(outputs, y, t, aux_weight, aux.margin if aux else 0.2))


def _freeze_all_but_aux(model):
    """Train only the aux rows of the last layer: a linear probe on the frozen features, so adding the
    aux heads leaves the pose outputs (and the model's accuracy) unchanged."""
    for name, param in model.named_parameters():
        param.requires_grad = name in ("fc.weight", "fc.bias")
    for param in (model.fc.weight, model.fc.bias):
        mask = torch.zeros_like(param)
        mask[POSE:] = 1.0
        param.register_hook(lambda grad, mask=mask: grad * mask)


def _init_from(model, init, model_name):
    """Start from a trained checkpoint of the same model; a new aux row starts at zero."""
    source, source_info = load_checkpoint(init, expect_model=model_name)
    state = source.state_dict()
    own = model.state_dict()
    for key in ("fc.weight", "fc.bias"):
        if own[key].shape != state[key].shape:
            grown = torch.zeros_like(own[key])
            grown[: state[key].shape[0]] = state[key]
            state[key] = grown
    model.load_state_dict(state)
    return source_info["train"].get("command")


class AuxTargets:
    """The teacher's summed |error| per frame of each split, unflipped and flipped: with the small
    model's own error it defines both aux targets (see _loss)."""

    def __init__(self, big_spec, splits, margin):
        self.margin = margin
        big, _ = load_checkpoint(big_spec)
        self.errors = {}
        for split, frames in splits.items():
            self.errors[split] = (
                self._error(big, frames.images, frames.labels),
                self._error(big, np.ascontiguousarray(frames.images[:, :, ::-1]), frames.labels * FLIP_SIGN),
            )

    @staticmethod
    def _error(big, images, labels):
        return np.abs(predict_outputs(big, _ImagesOnly(images))[:, :POSE] - labels).sum(1).astype(np.float32)

    def teacher_error(self, split, idx, flip):
        plain, mirrored = self.errors[split]
        return np.where(flip, mirrored[idx], plain[idx]).astype(np.float32)

    def targets(self, split, outputs, labels):
        """(switching target 0/1, own summed error) of the unflipped frames of a split."""
        own = np.abs(outputs[:, :POSE] - labels).sum(1)
        return (own - self.errors[split][0] > self.margin).astype(np.float32), own

    def score(self, split, outputs, labels):
        better, own = self.targets(split, outputs, labels)
        predicted = outputs[:, POSE + 1]
        return {
            "positive_rate": float(better.mean()),
            "accuracy": float(((outputs[:, POSE] > 0) == (better > 0.5)).mean()),
            "auc": roc_auc(outputs[:, POSE], better),
            "confidence_mae": float(np.abs(predicted - own).mean()),
            "confidence_corr": float(np.corrcoef(predicted, own)[0, 1]) if own.std() > 0 and predicted.std() > 0 else 0.0,
            "confidence_auc": roc_auc(predicted, better),
        }


class _ImagesOnly:
    """The one field predict_outputs reads, so flipped copies need no full Frames."""

    def __init__(self, images):
        self.images = images


def roc_auc(scores, target) -> float:
    """Area under the ROC curve by the rank-sum formula (ties share ranks); NaN with one class."""
    target = np.asarray(target) > 0.5
    pos, neg = int(target.sum()), int((~target).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[target].sum() - pos * (pos + 1) / 2) / (pos * neg))
