"""The synthetic stand-in for the PULP-Frontnet data: sequences of a rendered person.

Layout and split rules (docs/artifacts.md, "Datasets"): `frames` is the total over the splits,
65 / 13 / 11 / 11 % train / val / test / test-unseen; each split is cut into sequences of 100-200
frames (30 fps), each with its own subject, so val and test subjects are never seen in training,
like the "Strangers" test set. The known environments are a small pool of lab rooms shared by
train, val and test (one lab, many people: with few sequences, a room per sequence lets a network
recognise the sequence instead of the pose). test-unseen is the never-seen environment of the
papers' in-field tests: every sequence has a room of its own, finished with textures no lab room
has, under a lighting regime the lab never has (dim, strong side light, or flickering lamps),
with the drone swaying in pitch and roll all the time as in the papers' hand-held and in-flight
recordings (attitude.py; the known splits keep the lab's hover). Every sequence, subject and room draws from its own seeded generator, so the files are a pure
function of (frames, seed, size, GENERATOR_VERSION) and byte-identical across runs. Frames are
always rendered at 160x96; the 80x48 set is the same frames downscaled 2x2 (as the released
Frontnet data is), with the same labels.
"""

import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeadapt.data import attitude, store
from edgeadapt.data.body import BodyPose, draw_person, make_subject
from edgeadapt.data.camera import Camera, parse_size
from edgeadapt.data.raster import Layer, motion_blur
from edgeadapt.data.scene import EXPOSURE_WINDOW, REGIMES, draw_occluder, make_room, make_sensor
from edgeadapt.data.trajectory import CONDITIONS, FPS, make_script
from edgeadapt.errors import EdgeadaptError
from edgeadapt.splits import SPLITS

GENERATOR_VERSION = 4  # bump whenever the output for a given seed changes (4: test-unseen only)
SPLIT_FRACTIONS = (("train", 0.65), ("val", 0.13), ("test", 0.11), ("test-unseen", 0.11))
UNSEEN_SPLITS = ("test-unseen",)  # never-seen environments
SEQUENCE_FRAMES = (100, 200)
ROOM_POOL = 4  # lab rooms per seed, shared by train, val and test (like one motion-capture lab)
MIN_FRAMES = 40
RENDER_SIZE = "160x96"


@dataclass(frozen=True)
class SequencePlan:
    split: str
    sequence: int
    subject: int
    room: int  # a lab room of the pool, or (unseen) the sequence's own room
    length: int
    environment: str = "lab"  # "lab" or "unseen"
    regime: str = "lab"  # lighting (scene.REGIMES)


def plan_sequences(frames: int, seed: int) -> list:
    """Which sequences each split gets, how long, and whose they are."""
    if frames < MIN_FRAMES:
        raise EdgeadaptError(f"--frames must be at least {MIN_FRAMES} (got {frames})")
    rng = np.random.default_rng([seed, 0])
    counts = {split: int(round(frames * share)) for split, share in SPLIT_FRACTIONS[1:]}
    counts["train"] = frames - sum(counts.values())
    plans, seq_id = [], 0
    for split, _ in SPLIT_FRACTIONS:
        for length in _cut(rng, counts[split]):
            # one subject per sequence: subject ids never repeat, so no split shares a subject
            if split in UNSEEN_SPLITS:
                regime = REGIMES[1 + int(rng.integers(len(REGIMES) - 1))]
                plans.append(SequencePlan(split, seq_id, seq_id, seq_id, int(length), "unseen", regime))
            else:
                plans.append(SequencePlan(split, seq_id, seq_id, int(rng.integers(ROOM_POOL)), int(length)))
            seq_id += 1
    return plans


def _cut(rng, total):
    lengths, left = [], total
    while left > 0:
        n = min(int(rng.integers(SEQUENCE_FRAMES[0], SEQUENCE_FRAMES[1] + 1)), left)
        if left - n < SEQUENCE_FRAMES[0] // 2:
            n = left
        lengths.append(n)
        left -= n
    return lengths


def render_sequence(plan: SequencePlan, seed: int, cam: Camera):
    """images uint8 (L, H, W), labels float32 (L, 4), conditions uint16 (L,), camera pitch and
    roll float32 (L,) of one sequence."""
    subject = make_subject(np.random.default_rng([seed, 2, plan.subject]), plan.subject)
    rng = np.random.default_rng([seed, 1, plan.sequence])
    unseen = plan.environment == "unseen"
    # never-seen environments: the drone sways in pitch and roll all the time (attitude.py);
    # frames are drawn on a larger canvas, turned by the roll and cropped
    view = attitude.canvas(cam) if unseen else cam
    room_rng = np.random.default_rng([seed, 5 if unseen else 4, plan.room])
    room = make_room(room_rng, cam, plan.environment, margin=attitude.margin(cam) if unseen else 0)
    script = make_script(rng, plan.length, subject.head_height, walls=len(room.walls))
    roll = np.zeros(plan.length)
    if unseen:
        sway_pitch, roll = attitude.sway(np.random.default_rng([seed, 6, plan.sequence]), plan.length, FPS)
        script.pitch = script.pitch + sway_pitch
    sensor = make_sensor(rng, cam, plan.regime)
    light = float(rng.uniform(-1.0, 1.0))
    noise_rng = np.random.default_rng([seed, 3, plan.sequence])
    images = np.empty((plan.length, cam.height, cam.width), np.uint8)
    head = np.stack([script.x, script.y, script.z], 1)
    head_uv = np.stack([np.array(view.project(head[t], float(script.pitch[t]))[:2]) for t in range(plan.length)])
    occ_uv = {}
    for t in range(plan.length):
        pitch = float(script.pitch[t])
        background = room.view(view, script.ego_yaw[t], script.altitude[t], pitch, int(script.wall[t]),
                               float(script.window[t]))
        person = Layer(view.height, view.width)
        pose = BodyPose(
            head=(script.x[t], script.y[t], script.z[t]),
            phi=float(script.phi[t]),
            torso_phi=float(script.torso_phi[t]),
            walk_phase=float(script.walk_phase[t]),
            walk_amplitude=float(script.walk_amplitude[t]),
            arm_raise=tuple(script.arm_raise[t]),
            crouch=float(script.crouch[t]),
        )
        draw_person(person, view, pitch, subject, pose, light)
        # motion blur over the exposure: image-space velocity of the head (subject + drone motion)
        # and of the room (drone yaw and pitch); longer exposures in low light blur more
        exposure = EXPOSURE_WINDOW * sensor.exposure_time
        prev, nxt = max(t - 1, 0), min(t + 1, plan.length - 1)
        span = max(nxt - prev, 1)
        vel = np.nan_to_num((head_uv[nxt] - head_uv[prev]) / span) * exposure
        person_value, person_alpha = motion_blur([person.value, person.alpha], vel[0], vel[1])
        bg_du = room.shift(view, (script.ego_yaw[nxt] - script.ego_yaw[prev]) / span) * exposure
        bg_dv = -view.fy * (math.tan(script.pitch[nxt]) - math.tan(script.pitch[prev])) / span * exposure
        (background,) = motion_blur([background], bg_du, bg_dv)
        scene = person_value + background * (1.0 - person_alpha)
        for k, occ in enumerate(script.occluders):
            if occ.start <= t < occ.end:
                layer = Layer(view.height, view.width)
                uv = draw_occluder(layer, view, pitch, occ, t, cut_behind=unseen)
                du = (uv[0] - occ_uv[k][0]) * exposure if k in occ_uv else 0.0
                occ_uv[k] = uv
                value, alpha = motion_blur([layer.value, layer.alpha], du, 0.0)
                scene = value + scene * (1.0 - alpha)
        if unseen:
            scene = attitude.roll_view(scene, view, cam, float(roll[t]))
        if t == 0:
            sensor.settle(scene, float(script.log_light[0]))
        images[t] = sensor.capture(noise_rng, scene, float(script.log_light[t]))
    return images, script.labels, script.conditions, script.pitch.astype(np.float32), roll.astype(np.float32)


def generate(out_dir, frames: int, seed: int, size: str = "160x96", progress=None) -> dict:
    """Render the four splits into out_dir; returns the metadata written to meta.json.

    Everything is rendered into a hidden staging folder first and moved in at the end, so an
    interrupted run leaves an existing dataset in out_dir untouched."""
    width, height = parse_size(size)
    cam = Camera.for_size(RENDER_SIZE)  # 80x48 is the 160x96 rendering downscaled, like Frontnet's
    plans = plan_sequences(frames, seed)
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EdgeadaptError(f"{out_dir}: cannot create the output folder ({exc.strerror or type(exc).__name__})") from None
    started = time.time()
    staging = Path(tempfile.mkdtemp(dir=out_dir, prefix=".synth-"))
    try:
        meta_splits, label_mean_train = {}, None
        for split, _ in SPLIT_FRACTIONS:
            arrays = _render_split([p for p in plans if p.split == split], seed, cam, (width, height), progress)
            store.write_split(staging / f"{split}.npz", arrays)
            if split == "train":
                label_mean_train = arrays["labels"].astype(np.float64).mean(axis=0)
            split_plans = [p for p in plans if p.split == split]
            meta_splits[split] = {
                "frames": int(len(arrays["labels"])),
                "environment": "unseen" if split in UNSEEN_SPLITS else "lab",
                "regimes": {r: sum(p.length for p in split_plans if p.regime == r) for r in REGIMES
                            if any(p.regime == r for p in split_plans)},
                "sequences": [int(p.sequence) for p in plans if p.split == split],
                "subjects": sorted({int(p.subject) for p in plans if p.split == split}),
            }
        meta = {
            "format": store.FORMAT_NAME,
            "format_version": store.FORMAT_VERSION,
            "generator_version": GENERATOR_VERSION,
            "seed": int(seed),
            "frames": int(frames),
            "size": size,
            "width": width,
            "height": height,
            "fps": FPS,
            "labels": ["x [m]", "y [m]", "z [m]", "phi [rad]"],
            "label_origin": "centre of the subject's head, drone horizontal frame (x forward, y left, z up)",
            "camera": Camera.for_size(size).to_dict(),
            "label_mean_train": [round(float(v), 7) for v in label_mean_train],
            "conditions": dict(CONDITIONS),
            "splits": meta_splits,
        }
        # meta.json marks a complete folder: drop it, move the splits in, write it back last
        store.meta_path(out_dir).unlink(missing_ok=True)
        for split in SPLITS:
            os.replace(staging / f"{split}.npz", out_dir / f"{split}.npz")
        store.write_meta(out_dir, meta)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    meta["seconds"] = round(time.time() - started, 2)  # reported, never written (files stay identical)
    return meta


def _render_split(plans, seed, cam, size_wh, progress) -> dict:
    width, height = size_wh
    n = sum(p.length for p in plans)
    out = {
        "images": np.empty((n, height, width), np.uint8),
        "labels": np.empty((n, 4), np.float32),
        "sequence": np.empty(n, np.int32),
        "subject": np.empty(n, np.int32),
        "conditions": np.empty(n, np.uint16),
        "pitch": np.empty(n, np.float32),
    }
    swaying = any(p.environment == "unseen" for p in plans)
    if swaying:  # only the never-seen splits roll (the known splits' files keep their arrays)
        out["roll"] = np.empty(n, np.float32)
    pos = 0
    for plan in plans:
        images, labels, conditions, pitch, roll = render_sequence(plan, seed, cam)
        if (images.shape[2], images.shape[1]) != (width, height):
            images = downscale(images, cam.width // width)
        sl = slice(pos, pos + plan.length)
        out["images"][sl], out["labels"][sl] = images, labels
        out["conditions"][sl], out["pitch"][sl] = conditions, pitch
        if swaying:
            out["roll"][sl] = roll
        out["sequence"][sl], out["subject"][sl] = plan.sequence, plan.subject
        pos += plan.length
        if progress is not None:
            progress(plan.length)
    return out


def downscale(images: np.ndarray, factor: int) -> np.ndarray:
    """uint8 (N, H, W) -> (N, H / f, W / f): mean of each f x f block, rounded half up. Pixel i of
    the small image covers pixels [f i, f i + f) of the large one, so the camera's intrinsics
    simply divide by f."""
    n, h, w = images.shape
    blocks = images.reshape(n, h // factor, factor, w // factor, factor).astype(np.uint32).sum(axis=(2, 4))
    area = factor * factor
    return ((blocks + area // 2) // area).astype(np.uint8)


def ensure_synth(data_dir, frames: int, seed: int, size: str = "160x96") -> Path:
    """Generate into data_dir unless it already holds exactly this dataset; returns the path."""
    data_dir = Path(data_dir)
    wanted = {"frames": int(frames), "seed": int(seed), "size": size, "generator_version": GENERATOR_VERSION,
              "format_version": store.FORMAT_VERSION}
    try:
        meta = store.read_meta(data_dir)
        if all(meta.get(k) == v for k, v in wanted.items()) and all(
            (data_dir / f"{s}.npz").is_file() for s in SPLITS
        ):
            return data_dir
    except EdgeadaptError:
        pass
    generate(data_dir, frames, seed, size)
    return data_dir
