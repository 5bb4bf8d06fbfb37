"""The general dataset format: importers (npz, image folder + CSV, class folders, Frontnet), the
loader, the task-aware metrics and the one-line errors."""

import csv

import numpy as np
import pytest
from PIL import Image

from edgeadapt.cli import main
from edgeadapt.data import dataset_kind, dataset_task, load_split, output_fidelity, task_metrics, train_label_mean
from edgeadapt.data.importers import assign_splits, import_dataset
from edgeadapt.errors import EdgeadaptError
from test_data import frontnet_folder


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err.strip()


def rgb_folder(tmp_path, n=20, size=(37, 23)):
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.RandomState(1)
    rows, images = [], []
    for i in range(n):
        a = rng.randint(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(a).save(folder / f"im{i:02d}.png")
        images.append(a)
        rows.append([f"im{i:02d}.png", float(a.mean() / 255), float(a[..., 0].mean() / 255), i // 4])
    labels = tmp_path / "labels.csv"
    with open(labels, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "bright", "red", "sequence"])
        w.writerows(rows)
    return folder, labels, np.stack(images), np.array([r[1:3] for r in rows], np.float32)


def test_npz_classification_import_splits_and_loads(tmp_path):
    rng = np.random.RandomState(0)
    images = rng.randint(0, 256, (200, 8, 8), dtype=np.uint8)
    labels = rng.randint(0, 10, 200)
    np.savez(tmp_path / "d.npz", images=images, labels=labels)
    meta = import_dataset(tmp_path / "d.npz", tmp_path / "out", seed=3)
    assert meta["task"] == "classification" and meta["classes"] == [str(i) for i in range(10)]
    assert [meta["splits"][s]["frames"] for s in ("train", "val", "test")] == [140, 30, 30]
    assert dataset_kind(tmp_path / "out") == "general" and dataset_task(tmp_path / "out") == "classification"
    parts = assign_splits(200, None, 0.15, 0.15, 3)
    for split in ("train", "val", "test"):
        frames = load_split(tmp_path / "out", split)
        assert frames.images.shape == (len(parts[split]), 8, 8) and frames.channels == 1
        np.testing.assert_array_equal(frames.images, images[parts[split]])  # source order kept
        np.testing.assert_array_equal(frames.labels, labels[parts[split]])
        assert frames.task == "classification" and frames.labels.dtype == np.int32
    # the same source and seed give byte-identical files
    import_dataset(tmp_path / "d.npz", tmp_path / "again", seed=3)
    for name in ("meta.json", "train.npz", "test.npz"):
        assert (tmp_path / "out" / name).read_bytes() == (tmp_path / "again" / name).read_bytes()


def test_npz_explicit_splits_and_nchw_float_images(tmp_path):
    rng = np.random.RandomState(0)
    x_train = rng.rand(50, 3, 4, 5).astype(np.float32)  # NCHW: transposed to HWC
    np.savez(tmp_path / "d.npz", x_train=x_train, y_train=rng.rand(50, 3), x_test=rng.rand(10, 3, 4, 5), y_test=rng.rand(10, 3))
    meta = import_dataset(tmp_path / "d.npz", tmp_path / "out", val_fraction=0.2)
    assert meta["task"] == "regression" and meta["outputs"] == ["y0", "y1", "y2"]
    assert meta["input"] == {"height": 4, "width": 5, "channels": 3, "dtype": "float32"}
    assert [meta["splits"][s]["frames"] for s in ("train", "val", "test")] == [40, 10, 10]
    train = load_split(tmp_path / "out", "train")
    val = load_split(tmp_path / "out", "val")
    got = np.concatenate([train.images, val.images])
    want = x_train.transpose(0, 2, 3, 1)
    assert sorted(map(bytes, got)) == sorted(map(bytes, want))
    np.testing.assert_allclose(train_label_mean(tmp_path / "out"), train.labels.mean(axis=0), rtol=1e-6)


def test_image_folder_with_csv_keeps_sequences_together(tmp_path):
    folder, labels, images, y = rgb_folder(tmp_path)
    meta = import_dataset(folder, tmp_path / "out", labels, val_fraction=0.2, test_fraction=0.2)
    assert meta["task"] == "regression" and meta["outputs"] == ["bright", "red"] and meta["sequences"]
    seen = []
    for split in ("train", "val", "test"):
        f = load_split(tmp_path / "out", split)
        assert f.images.shape[1:] == (23, 37, 3) and f.labels.shape[1] == 2
        seen += list(f.sequence)
        for img, lab in zip(f.images, f.labels):
            i = next(k for k in range(len(images)) if np.array_equal(images[k], img))
            np.testing.assert_allclose(lab, y[i], rtol=1e-6)
    # whole sequences of 4 frames: no sequence id in two splits
    per_split = [set(load_split(tmp_path / "out", s).sequence) for s in ("train", "val", "test")]
    assert not (per_split[0] & per_split[1]) and not (per_split[0] & per_split[2]) and len(seen) == 20


def test_class_folders_and_channel_conversion(tmp_path):
    root = tmp_path / "cls"
    for c, value in (("cat", 10), ("dog", 200)):
        (root / c).mkdir(parents=True)
        for i in range(5):
            Image.fromarray(np.full((6, 7, 3), value + i, np.uint8)).save(root / c / f"{i}.png")
    meta = import_dataset(root, tmp_path / "out", channels=1, val_fraction=0.2, test_fraction=0.2)
    assert meta["classes"] == ["cat", "dog"] and meta["input"]["channels"] == 1
    f = load_split(tmp_path / "out", "train")
    assert f.images.shape[1:] == (6, 7)
    assert set(f.images[f.labels == 1].reshape(-1)) <= set(range(200, 205))


def test_frontnet_import_matches_the_pose_loader(tmp_path):
    src = tmp_path / "fn"
    src.mkdir()
    frontnet_folder(src, size=(80, 48))
    import_dataset(src, tmp_path / "out")
    for split in ("train", "val", "test"):
        pose, general = load_split(src, split), load_split(tmp_path / "out", split)
        np.testing.assert_array_equal(general.images, pose.images)
        np.testing.assert_array_equal(general.labels, pose.labels)
        np.testing.assert_array_equal(general.sequence, pose.sequence)
        assert general.output_names == ("x", "y", "z", "phi") and pose.task == "pose"


def test_task_metrics_values():
    labels = np.array([0, 1, 2, 1])
    out = np.array([[3, 0, 0], [0, 2, 0], [0, 5, 0], [0, 1, 0]], float)
    ref = np.array([[3, 0, 0], [0, 2, 0], [0, 0, 5], [0, 1, 0]], float)
    m = task_metrics("classification", out, labels, reference=ref)
    assert m["top1"] == 0.75 and m["fidelity"]["top1_agreement"] == 0.75
    reg = task_metrics("regression", np.array([[1.0, 5.0], [3.0, 5.0]]), np.array([[2.0], [2.0]]),
                       output_names=["a"], train_mean=[1.5])
    assert reg["mae"] == {"a": 1.0, "mean": 1.0} and reg["trivial_mae"] == {"a": 0.5, "mean": 0.5}
    fid = output_fidelity(np.array([[1.0, 2.0]]), np.array([[1.0, 4.0]]))
    assert fid["max_abs_error"] == 2.0 and fid["mean_abs_error"] == [0.0, 2.0]
    assert abs(fid["rms_error_pct"] - 100 * np.sqrt(2.0) / np.sqrt(8.5)) < 1e-9
    with pytest.raises(EdgeadaptError, match="class id 5"):
        task_metrics("classification", out, np.array([0, 1, 5, 1]))


@pytest.mark.parametrize("case, message", [
    ("extra-image", "have no label row"),
    ("missing-image", "is not an image in"),
    ("bad-number", "is not a number"),
    ("bad-size", "every image must have one size"),
])
def test_image_folder_errors_are_one_line(tmp_path, capsys, case, message):
    folder, labels, _, _ = rgb_folder(tmp_path, n=6)
    text = labels.read_text().splitlines()
    if case == "extra-image":
        labels.write_text("\n".join(text[:-1]) + "\n")
    elif case == "missing-image":
        labels.write_text("\n".join(text + ["nope.png,0.1,0.2,9"]) + "\n")
    elif case == "bad-number":
        labels.write_text("\n".join(text[:2] + ["im01.png,abc,0.2,0"] + text[3:]) + "\n")
    else:
        Image.fromarray(np.zeros((5, 5, 3), np.uint8)).save(folder / "im03.png")
    code, out, err = run_cli(["dataset", "import", str(folder), "--labels", str(labels), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and message in err and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()  # nothing written


def test_import_refuses_a_foreign_folder_and_cli_info(tmp_path, capsys):
    rng = np.random.RandomState(0)
    np.savez(tmp_path / "d.npz", images=rng.randint(0, 256, (40, 4, 4), dtype=np.uint8), labels=rng.rand(40, 2))
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("x")
    code, _, err = run_cli(["dataset", "import", str(tmp_path / "d.npz"), "--out", str(tmp_path / "busy")], capsys)
    assert code == 2 and "refusing" in err and (tmp_path / "busy" / "keep.txt").read_text() == "x"
    with pytest.raises(SystemExit) as e:
        main(["dataset", "import", str(tmp_path / "d.npz"), "--out", str(tmp_path / "ok")])
    assert e.value.code in (0, None)
    with pytest.raises(SystemExit) as e:
        main(["dataset", "info", "--data", str(tmp_path / "ok")])
    out = capsys.readouterr().out
    assert e.value.code in (0, None) and "task regression" in out and "y1" in out
