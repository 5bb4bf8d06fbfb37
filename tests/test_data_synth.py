"""The synthetic generator: determinism, camera and label geometry, splits, caching, errors."""

import hashlib
import json
import math

import numpy as np
import pytest

from edgeadapt.cli import main
from edgeadapt.data import Camera, attitude, ensure_synth, load_split, train_label_mean
from edgeadapt.data.body import HEAD_CENTRE, BodyPose, Subject, draw_person
from edgeadapt.data.raster import Layer
from edgeadapt.data.store import read_extra
from edgeadapt.data.synth import downscale, plan_sequences
from edgeadapt.errors import EdgeadaptError

SMALL = 60  # frames: one short sequence per split, about 0.5 s to render
SPLITS = ("train", "val", "test", "test-unseen")


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "ds"
    with pytest.raises(SystemExit) as exc:
        main(["dataset", "synth", "--out", str(out), "--frames", str(SMALL), "--seed", "7", "--quiet"])
    assert exc.value.code == 0
    return out


def digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_seed_gives_byte_identical_files(small_set, tmp_path):
    again = tmp_path / "again"
    with pytest.raises(SystemExit):
        main(["dataset", "synth", "--out", str(again), "--frames", str(SMALL), "--seed", "7", "--quiet"])
    assert digest(again) == digest(small_set)
    assert sorted(digest(again)) == ["meta.json", "test-unseen.npz", "test.npz", "train.npz", "val.npz"]
    other = tmp_path / "other"
    with pytest.raises(SystemExit):
        main(["dataset", "synth", "--out", str(other), "--frames", str(SMALL), "--seed", "8", "--quiet"])
    assert digest(other)["train.npz"] != digest(small_set)["train.npz"]


def test_splits_load_with_the_contract_types(small_set):
    meta = json.loads((small_set / "meta.json").read_text())
    total = 0
    for split in SPLITS:
        f = load_split(small_set, split)
        assert f.images.dtype == np.uint8 and f.images.shape[1:] == (96, 160)
        assert f.labels.dtype == np.float32 and f.labels.shape == (len(f), 4)
        assert f.sequence.dtype == np.int32 and f.subject.dtype == np.int32
        assert len(f) == meta["splits"][split]["frames"]
        total += len(f)
        x, y, z, phi = f.labels.T
        assert x.min() >= 0.5 and x.max() <= 4.5 and np.abs(phi).max() <= math.pi / 2 + 1e-6
        # 30 fps and smooth motion: consecutive labels within a sequence are close
        same = f.sequence[1:] == f.sequence[:-1]
        assert np.abs(np.diff(f.labels, axis=0)[same]).max() < 0.5
        assert f.images.std() > 10  # not blank frames
    assert total == SMALL
    np.testing.assert_allclose(train_label_mean(small_set), load_split(small_set, "train").labels.mean(0), atol=1e-5)
    assert meta["camera"]["fx"] == pytest.approx(87.3, abs=0.05)


def test_splits_are_disjoint_by_sequence_and_subject(small_set):
    loaded = {s: load_split(small_set, s) for s in SPLITS}
    meta = json.loads((small_set / "meta.json").read_text())
    for a in loaded:
        assert sorted(set(loaded[a].subject.tolist())) == meta["splits"][a]["subjects"]
        for b in loaded:
            if a < b:
                assert not set(loaded[a].sequence.tolist()) & set(loaded[b].sequence.tolist())
                assert not set(loaded[a].subject.tolist()) & set(loaded[b].subject.tolist())


def test_plan_for_the_shipped_size_has_many_subjects_and_no_leaks():
    plans = plan_sequences(8000, 1)
    by_split = {s: [p for p in plans if p.split == s] for s in SPLITS}
    assert [sum(p.length for p in v) for v in by_split.values()] == [5200, 1040, 880, 880]
    assert all(50 <= p.length <= 250 for p in plans)
    subjects = {s: {p.subject for p in v} for s, v in by_split.items()}
    assert len(subjects["train"]) >= 25 and len(subjects["test"]) >= 6 and len(subjects["val"]) >= 6
    assert not subjects["train"] & subjects["test"] and not subjects["train"] & subjects["val"]
    assert not subjects["val"] & subjects["test"]
    assert not subjects["test-unseen"] & (subjects["train"] | subjects["val"] | subjects["test"])
    assert len({p.sequence for p in plans}) == len(plans)
    # test subjects are new people in the rooms the training data shows
    assert {p.room for p in by_split["test"]} <= {p.room for p in by_split["train"]}
    assert {(p.environment, p.regime) for s in ("train", "val", "test") for p in by_split[s]} == {("lab", "lab")}
    # test-unseen: rooms of their own, of the unseen style, under lighting the lab never has
    unseen = by_split["test-unseen"]
    assert {p.environment for p in unseen} == {"unseen"} and "lab" not in {p.regime for p in unseen}
    assert len({p.room for p in unseen}) == len(unseen)


def test_camera_projects_the_field_of_view_edges():
    cam = Camera.for_size("160x96")
    assert cam.fx == pytest.approx(80 / math.tan(math.radians(42.5)))
    u, v, d = cam.project([2.0, 0.0, 0.0])
    assert (u, v, d) == (80.0, 48.0, 2.0)
    u, v, _ = cam.project([3.0, 3.0 * math.tan(math.radians(42.5)), 0.0])  # left edge of the 85 deg view
    assert u == pytest.approx(0.0, abs=1e-9)
    u, v, _ = cam.project([1.0, 0.0, -48 / cam.fy])  # bottom edge
    assert v == pytest.approx(96.0)
    # nose-down pitch moves a straight-ahead point up in the image by fy * tan(pitch)
    _, v, _ = cam.project([2.0, 0.0, 0.0], pitch=0.05)
    assert v == pytest.approx(48.0 - cam.fy * math.tan(0.05))
    small = Camera.for_size("80x48")
    assert small.fx == pytest.approx(cam.fx / 2) and (small.cx, small.cy) == (40.0, 24.0)


SUBJECT = Subject(id=0, height=1.75, build=1.0, skin=0.8, hair=0.1, shirt=0.5, trousers=0.3, shoes=0.2,
                  short_sleeves=False, long_hair=False, neckline=0.02)


def render_person(x, y, z, phi, pitch=0.0, light=0.0, arm_raise=(0.0, 0.0)):
    cam = Camera.for_size("160x96")
    layer = Layer(96, 160)
    draw_person(layer, cam, pitch, SUBJECT, BodyPose((x, y, z), phi, phi, 0.0, 0.0, arm_raise), light)
    return cam, layer


def test_rendered_head_is_where_the_label_projects():
    x, y, z = 2.0, 0.4, 0.1
    cam, layer = render_person(x, y, z, 0.0)
    u, v, _ = cam.project([x, y, z])
    col, row = int(u), int(v)
    assert layer.alpha[row, col] == pytest.approx(1.0)
    # head: radius 0.047 H wide, 0.047 H + 0.016 H tall above its centre (body.py)
    r = cam.fx * 0.047 * SUBJECT.height / x
    top = v - cam.fy * (0.047 + 0.016) * SUBJECT.height / x
    covered = np.flatnonzero(layer.alpha[row] > 0.5)
    assert covered.min() + 0.5 == pytest.approx(u - r, abs=1.0)
    assert covered.max() + 0.5 == pytest.approx(u + r, abs=1.0)
    rows = np.flatnonzero(layer.alpha[:, col] > 0.5)
    assert rows.min() + 0.5 == pytest.approx(top, abs=1.0)
    # far enough to see the feet, side on (toes at the same depth): the soles touch the floor,
    # 0.935 H below the head centre (shoe capsule: toe 0.02 H up, radius 0.022 H)
    cam, far = render_person(3.5, y, z, math.pi / 2)
    _, v_sole, _ = cam.project([3.5, y, z - (HEAD_CENTRE + 0.002) * SUBJECT.height])
    assert np.flatnonzero(far.alpha.max(axis=1) > 0.5).max() + 0.5 == pytest.approx(v_sole, abs=1.0)
    # with pitch, the head moves exactly as the camera model says
    cam, pitched = render_person(x, y, z, 0.0, pitch=0.04)
    _, vp, _ = cam.project([x, y, z], pitch=0.04)
    rows_p = np.flatnonzero(pitched.alpha[:, col] > 0.5)
    assert rows_p.min() - rows.min() == pytest.approx(vp - v, abs=1.0)


def test_face_side_shows_the_sign_of_phi():
    cam = Camera.for_size("160x96")
    x, y, z = 1.5, 0.0, 0.0
    u, v, _ = cam.project([x, y, z])
    r = int(cam.fx * 0.047 * SUBJECT.height / x)
    centroids = {}
    for phi in (-0.8, 0.0, 0.8):
        _, layer = render_person(x, y, z, phi)
        patch = layer.value[int(v) - r : int(v) + r, int(u) - r : int(u) + r]
        skin = np.argwhere(patch > 0.6)  # face (0.8) against hair (0.1)
        centroids[phi] = skin[:, 1].mean() + int(u) - r + 0.5
    # phi > 0 turns the person counter-clockwise: the face looks towards the image's right
    assert centroids[0.8] > centroids[0.0] + 1.5 > centroids[-0.8] + 3.0
    assert centroids[0.0] == pytest.approx(u, abs=1.0)


def test_mirror_image_is_the_pose_with_y_and_phi_negated():
    # the training flip augmentation relies on this: flip(image(y, phi)) == image(-y, -phi)
    _, a = render_person(2.2, 0.35, 0.15, 0.6, light=0.5, arm_raise=(0.3, 1.4))
    _, b = render_person(2.2, -0.35, 0.15, -0.6, light=-0.5, arm_raise=(1.4, 0.3))
    np.testing.assert_allclose(a.alpha[:, ::-1], b.alpha, atol=1e-4)
    np.testing.assert_allclose(a.value[:, ::-1], b.value, atol=1e-4)


def test_downscale_averages_2x2_blocks():
    img = np.array([[[0, 1, 10, 10], [2, 3, 10, 11]]], dtype=np.uint8)
    np.testing.assert_array_equal(downscale(img, 2), [[[2, 10]]])  # (6 + 2) // 4, (41 + 2) // 4


def test_80x48_is_the_160x96_set_downscaled(small_set, tmp_path):
    out = tmp_path / "small80"
    ensure_synth(out, SMALL, 7, "80x48")
    for split in ("train", "test"):
        big, little = load_split(small_set, split), load_split(out, split, size="80x48")
        np.testing.assert_array_equal(little.images, downscale(big.images, 2))
        np.testing.assert_array_equal(little.labels, big.labels)


def test_difficulty_conditions_are_recorded(small_set):
    cond = read_extra(small_set, "train", "conditions")
    meta = json.loads((small_set / "meta.json").read_text())
    assert cond.dtype == np.uint16 and len(cond) == meta["splits"]["train"]["frames"]
    assert set(meta["conditions"]) == {"fast", "occluded", "dark", "bright", "far", "edge", "near", "pitch", "out",
                                       "kneel", "scene", "light"}
    assert meta["splits"]["test-unseen"]["environment"] == "unseen" and meta["splits"]["test"]["environment"] == "lab"


def test_only_the_never_seen_split_sways_in_pitch_and_roll(small_set):
    # known splits: the lab's hover (no roll array, as their files always had); test-unseen: roll
    for split in ("train", "val", "test"):
        assert read_extra(small_set, split, "roll") is None
    roll = read_extra(small_set, "test-unseen", "roll")
    assert roll.dtype == np.float32 and len(roll) == len(load_split(small_set, "test-unseen"))
    assert np.abs(roll).max() > math.radians(1.0) and np.abs(roll).max() <= attitude.ROLL_LIMIT + 1e-6
    # a smooth sway at 30 fps, of the stated size over many frames
    pitch, roll = attitude.sway(np.random.default_rng(0), 20000, 30.0, std_deg=8.0)
    assert np.std(pitch) == pytest.approx(math.radians(8.0), rel=0.15)
    assert np.abs(np.diff(roll)).max() < math.radians(4.0)  # no jumps: about 20 deg/s rms


def test_a_rolled_frame_is_the_frame_turned_about_the_principal_point():
    cam = Camera.for_size("160x96")
    big = attitude.canvas(cam)
    assert (big.width - cam.width, big.height - cam.height) == (2 * attitude.margin(cam), 2 * attitude.margin(cam))
    layer = Layer(big.height, big.width)
    x, y, z = 2.0, 0.5, 0.15
    draw_person(layer, big, 0.0, SUBJECT, BodyPose((x, y, z), 0.0, 0.0, 0.0, 0.0, (0.0, 0.0)), 0.0)
    # no roll: exactly the frame the normal camera sees
    flat = Layer(96, 160)
    draw_person(flat, cam, 0.0, SUBJECT, BodyPose((x, y, z), 0.0, 0.0, 0.0, 0.0, (0.0, 0.0)), 0.0)
    assert np.allclose(attitude.roll_view(layer.alpha, big, cam, 0.0), flat.alpha, atol=1e-5)
    # right side down by 0.3 rad: the head (left of centre, y > 0) drops by u-offset * sin(roll)
    roll = 0.3
    turned = attitude.roll_view(layer.alpha, big, cam, roll)
    u, v, _ = cam.project([x, y, z])
    du, dv = u - cam.cx, v - cam.cy
    u_r = cam.cx + math.cos(roll) * du + math.sin(roll) * dv
    v_r = cam.cy - math.sin(roll) * du + math.cos(roll) * dv
    assert v_r > v + 5  # the head moved down by several pixels
    assert turned[int(v_r), int(u_r)] == pytest.approx(1.0, abs=0.05)
    ys, xs = np.nonzero(turned > 0.5)
    head = (np.abs(xs + 0.5 - u_r) < 6) & (np.abs(ys + 0.5 - v_r) < 6)
    assert head.sum() > 20


def test_a_close_occluder_under_strong_pitch_is_cut_in_front_of_the_camera():
    from edgeadapt.data.scene import draw_occluder
    from edgeadapt.data.trajectory import Occluder

    cam = Camera.for_size("160x96")
    pole = Occluder(0, 10, 0.3, 0.0, 0.0, 0.2, -2.0, 1.0, 0.5, False)  # reaches behind the camera at 0.5 rad
    cut = Layer(96, 160)
    draw_occluder(cut, cam, 0.5, pole, 0, cut_behind=True)
    assert np.isfinite(cut.value).all() and cut.alpha[:, 80].min() == pytest.approx(1.0)  # spans the view
    assert not np.isfinite(draw_occluder(Layer(96, 160), cam, 0.5, pole, 0)[1])  # the known splits' way


def test_episodes_follow_their_scripts():
    from edgeadapt.data.trajectory import CONDITIONS, HALF_HFOV, make_script

    scripts = [make_script(np.random.default_rng([5, k]), 200, 1.6, walls=3) for k in range(40)]
    cond = np.concatenate([s.conditions for s in scripts])
    pitch = np.concatenate([s.pitch for s in scripts])
    bearing = np.abs(np.arctan2(np.concatenate([s.y for s in scripts]), np.concatenate([s.x for s in scripts])))
    crouch = np.concatenate([s.crouch for s in scripts])
    on = {k: (cond & b) > 0 for k, b in CONDITIONS.items()}
    assert all(v.any() for v in on.values())
    # episodes last several frames (30 fps): the shortest kind is 0.5 s
    assert np.abs(pitch[on["pitch"]]).max() > 0.3 and np.abs(pitch[~on["pitch"] & ~on["fast"]]).mean() < 0.05
    assert (bearing[on["out"]] > HALF_HFOV).mean() > 0.3 and (bearing[~on["out"] & ~on["edge"]] > HALF_HFOV).mean() < 0.01
    assert crouch[on["kneel"]].mean() > 0.5 and crouch[~on["kneel"]].mean() < 0.1
    walls = np.concatenate([np.diff(s.wall) != 0 for s in scripts])
    assert walls.any() and (np.concatenate([on["scene"].reshape(40, 200)[:, 1:]]).ravel()[walls]).all()


def test_auto_exposure_lags_a_change_of_light():
    from edgeadapt.data.scene import make_sensor

    cam = Camera.for_size("160x96")
    sensor = make_sensor(np.random.default_rng(0), cam)
    rng = np.random.default_rng(1)
    scene = np.full((96, 160), 0.3, np.float32)
    sensor.settle(scene, 0.0)
    settled = sensor.capture(rng, scene, 0.0).mean()
    darker = [sensor.capture(rng, scene, -1.0).mean() for _ in range(40)]
    # the light drops by e: the first frame is much darker, then the exposure catches up
    assert darker[0] < 0.6 * settled and abs(darker[-1] - settled) < 0.1 * settled
    assert darker[5] > darker[0]
    # in the dark the sensor runs at high gain: noisier frames (noise = the change between two frames)
    noise = lambda light: np.std(sensor.capture(rng, scene, light).astype(float) - sensor.capture(rng, scene, light))
    bright = noise(0.0)
    for _ in range(60):
        sensor.capture(rng, scene, -2.5)
    assert sensor.gain > 2.0 and noise(-2.5) > 1.5 * bright


def test_a_kneeling_subject_is_drawn_lower_with_the_head_at_the_label():
    cam = Camera.for_size("160x96")
    x, y, z = 3.5, 0.0, 0.3
    standing, kneeling = Layer(96, 160), Layer(96, 160)
    draw_person(standing, cam, 0.0, SUBJECT, BodyPose((x, y, z), 0.0, 0.0, 0.0, 0.0, (0.0, 0.0)), 0.0)
    draw_person(kneeling, cam, 0.0, SUBJECT, BodyPose((x, y, z), 0.0, 0.0, 0.0, 0.0, (0.0, 0.0), crouch=1.0), 0.0)
    u, v, _ = cam.project([x, y, z])
    assert kneeling.alpha[int(v), int(u)] == pytest.approx(1.0)
    # the feet are on the floor: KNEEL_DROP of the height closer to the head
    feet_standing = np.flatnonzero(standing.alpha.max(axis=1) > 0.5).max()
    feet_kneeling = np.flatnonzero(kneeling.alpha.max(axis=1) > 0.5).max()
    assert feet_standing - feet_kneeling == pytest.approx(cam.fy * 0.32 * SUBJECT.height / x, abs=2.5)


def test_ensure_synth_reuses_a_matching_folder_and_regenerates_otherwise(tmp_path):
    out = tmp_path / "cache"
    ensure_synth(out, 40, 3)
    stamp = (out / "train.npz").stat().st_mtime_ns
    ensure_synth(out, 40, 3)
    assert (out / "train.npz").stat().st_mtime_ns == stamp
    ensure_synth(out, 40, 4)
    assert json.loads((out / "meta.json").read_text())["seed"] == 4
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging leftovers


def test_corrupt_or_missing_synthetic_files(small_set, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(small_set, bad)
    (bad / "val.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(EdgeadaptError, match=r"val.npz: corrupt split file"):
        load_split(bad, "val")
    (bad / "test.npz").unlink()
    with pytest.raises(EdgeadaptError, match=r"test.npz: missing split file"):
        load_split(bad, "test")
    with pytest.raises(EdgeadaptError, match="frames are 160x96, 80x48 was asked for"):
        load_split(bad, "train", size="80x48")
    (bad / "meta.json").write_text("{ not json")
    with pytest.raises(EdgeadaptError, match=r"meta.json: corrupt metadata"):
        load_split(bad, "train")


def test_images_of_the_wrong_size_for_the_metadata(small_set, tmp_path):
    import shutil

    from edgeadapt.data.store import write_split

    bad = tmp_path / "resized"
    shutil.copytree(small_set, bad)
    f = load_split(small_set, "test")
    write_split(bad / "test.npz", {"images": f.images[:, :48, :80], "labels": f.labels, "sequence": f.sequence,
                                   "subject": f.subject})
    with pytest.raises(EdgeadaptError, match="test.npz: images are 80x48, meta.json says 160x96"):
        load_split(bad, "test")


def test_synth_rejects_too_few_frames_without_touching_the_folder(small_set, capsys):
    before = digest(small_set)
    with pytest.raises(SystemExit) as exc:
        main(["dataset", "synth", "--out", str(small_set), "--frames", "5", "--quiet"])
    assert exc.value.code == 2
    assert "--frames must be at least 40" in capsys.readouterr().err
    assert digest(small_set) == before


def test_info_and_preview_commands(small_set, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["dataset", "info", "--data", str(small_set), "--json", str(tmp_path / "info.json")])
    assert exc.value.code == 0
    info = json.loads((tmp_path / "info.json").read_text())
    test = load_split(small_set, "test")
    mean = load_split(small_set, "train").labels.astype(np.float64).mean(0)
    assert info["splits"]["test"]["trivial_mae_sum"] == pytest.approx(np.abs(test.labels - mean).mean(0).sum(), rel=1e-5)
    assert "trivial MAE" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["dataset", "preview", "--data", str(small_set), "--out", str(tmp_path / "p.png"), "--count", "4"])
    assert exc.value.code == 0 and (tmp_path / "p.png").stat().st_size > 1000
