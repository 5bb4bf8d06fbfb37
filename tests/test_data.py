"""Data layer: the Frontnet pickle loader, normalization, metrics and the error paths."""

import os

import numpy as np
import pandas as pd
import pytest

from edgeadapt.cli import main
from edgeadapt.data import Frames, compute_metrics, load_split, normalize, train_label_mean
from edgeadapt.data.frontnet import sequence_ids
from edgeadapt.errors import EdgeadaptError


def write_frontnet_pickle(path, images, labels, float_pixels=False):
    """A DataFrame exactly as the released files: x = flattened image per row, y = 4-vector, h, w, c."""
    n, h, w = images.shape
    rows = [img.reshape(-1).astype(np.float64 if float_pixels else np.uint8) for img in images]
    df = pd.DataFrame({"x": rows, "y": [np.asarray(l, dtype=np.float64) for l in labels],
                       "h": [h] * n, "w": [w] * n, "c": [1] * n})
    df.to_pickle(path)


def frontnet_folder(tmp_path, n_train=30, n_test=12, size=(160, 96)):
    rng = np.random.default_rng(4)
    w, h = size
    train_images = rng.integers(0, 256, (n_train, h, w), dtype=np.uint8)
    train_labels = rng.normal(size=(n_train, 4)) * 0.1 + np.array([1.5, 0.0, 0.2, 0.0])
    # test: two "subjects", the second starts 1.5 m further away: a label jump = a new sequence
    test_images = rng.integers(0, 256, (n_test, h, w), dtype=np.uint8)
    t = np.arange(n_test)
    test_labels = np.stack([1.0 + 0.01 * t + 1.5 * (t >= n_test // 2), 0.02 * t, 0 * t, 0.01 * t], 1)
    write_frontnet_pickle(tmp_path / f"{w}x{h}OthersTrainsetAug.pickle", train_images, train_labels)
    write_frontnet_pickle(tmp_path / f"{w}x{h}StrangersTestset.pickle", test_images, test_labels, float_pixels=True)
    return train_images, train_labels, test_images, test_labels


def test_frontnet_test_split_keeps_frame_order_and_finds_sequences(tmp_path):
    _, _, test_images, test_labels = frontnet_folder(tmp_path)
    frames = load_split(tmp_path, "test")
    assert frames.images.dtype == np.uint8 and frames.images.shape == (12, 96, 160)
    np.testing.assert_array_equal(frames.images, test_images)  # float pixels 0..255 come back exact
    np.testing.assert_allclose(frames.labels, test_labels.astype(np.float32))
    assert frames.labels.dtype == np.float32
    assert frames.sequence.tolist() == [0] * 6 + [1] * 6
    assert [len(s) for s in frames.sequences()] == [6, 6]


def test_frontnet_train_val_split_is_the_seed_1749_permutation(tmp_path):
    train_images, train_labels, _, _ = frontnet_folder(tmp_path, n_train=30)
    np.random.seed(1749)  # pulp-frontnet's DataProcessor: 20 % of a seeded permutation is validation
    perm = np.random.permutation(30)
    val_idx, train_idx = np.sort(perm[:6]), np.sort(perm[6:])
    val, train = load_split(tmp_path, "val"), load_split(tmp_path, "train")
    assert len(val) == 6 and len(train) == 24
    np.testing.assert_array_equal(val.images, train_images[val_idx])
    np.testing.assert_array_equal(train.images, train_images[train_idx])
    np.testing.assert_allclose(train.labels, train_labels[train_idx].astype(np.float32))
    np.testing.assert_allclose(train_label_mean(tmp_path), train_labels[train_idx].mean(0), rtol=1e-5)


def test_frontnet_folder_with_both_sizes_picks_by_size(tmp_path):
    frontnet_folder(tmp_path, size=(160, 96))
    frontnet_folder(tmp_path, n_test=8, size=(80, 48))
    assert load_split(tmp_path, "test").images.shape == (12, 96, 160)  # 160x96 by default
    assert load_split(tmp_path, "test", size="80x48").images.shape == (8, 48, 80)


def test_sequence_ids_split_on_position_or_yaw_jumps():
    labels = np.array([[1, 0, 0, 0], [1.1, 0, 0, 0.1], [1.1, 0.6, 0, 0.1], [1.1, 0.6, 0, 1.0], [1.2, 0.6, 0, 1.0]])
    assert sequence_ids(labels).tolist() == [0, 0, 1, 2, 2]


def test_normalize_is_exact_int8_with_fl_8():
    images = np.array([[[0, 1, 127], [128, 200, 255]]], dtype=np.uint8)
    x = normalize(images)
    assert x.dtype == np.float32 and x.shape == (1, 1, 2, 3)
    np.testing.assert_array_equal(x[0, 0] * 256 + 128, images[0].astype(np.float32))
    assert x[0, 0, 0, 0] == -0.5 and x[0, 0, 1, 0] == 0.0 and x[0, 0, 1, 2] == 127 / 256


def test_frames_subset_and_len():
    f = Frames(np.zeros((5, 2, 3), np.uint8), np.arange(20, dtype=np.float32).reshape(5, 4),
               np.array([0, 0, 1, 1, 1], np.int32), np.array([7, 7, 8, 8, 8], np.int32))
    s = f.subset([1, 3])
    assert len(f) == 5 and len(s) == 2 and s.labels[1, 0] == 12.0 and s.subject.tolist() == [7, 8]
    assert [i.tolist() for i in f.sequences()] == [[0, 1], [2, 3, 4]]


def test_metrics_on_hand_computed_values():
    labels = np.array([[1, 0, 0, 0], [3, 2, 1, 1]], dtype=np.float32)
    pred = np.array([[2, 0, 0, 0], [3, 1, 1, 0]], dtype=np.float32)
    m = compute_metrics(pred, labels, train_mean=np.array([2, 1, 0, 0]))
    # |errors| = [[1, 0, 0, 0], [0, 1, 0, 1]]
    assert m["mae"] == {"x": 0.5, "y": 0.5, "z": 0.0, "phi": 0.5, "sum": 1.5}
    # R2 = 1 - SS_res / SS_tot: x 1 - 1/2, y 1 - 1/2, z 1 - 0/0.5, phi 1 - 1/0.5
    assert m["r2"] == {"x": 0.5, "y": 0.5, "z": 1.0, "phi": -1.0}
    # the train mean (2, 1, 0, 0) as the prediction: |2-1|,|2-3|; |1-0|,|1-2|; 0, 1; 0, 1
    assert m["trivial_mae"] == {"x": 1.0, "y": 1.0, "z": 0.5, "phi": 0.5, "sum": 3.0}


def test_metrics_reject_mismatched_shapes():
    with pytest.raises(EdgeadaptError, match="do not match"):
        compute_metrics(np.zeros((3, 4)), np.zeros((2, 4)), np.zeros(4))
    with pytest.raises(EdgeadaptError, match="N>0"):
        compute_metrics(np.zeros((0, 4)), np.zeros((0, 4)), np.zeros(4))


# --- error paths: one-line EdgeadaptError naming the file -----------------------------------------

def test_missing_folder_and_unknown_split(tmp_path):
    with pytest.raises(EdgeadaptError, match="no such dataset folder"):
        load_split(tmp_path / "nope", "train")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EdgeadaptError, match="not a dataset folder"):
        load_split(tmp_path / "empty", "train")
    frontnet_folder(tmp_path)
    with pytest.raises(EdgeadaptError, match="unknown split 'tset'"):
        load_split(tmp_path, "tset")


def test_corrupt_pickle_is_a_one_line_error(tmp_path):
    frontnet_folder(tmp_path)
    (tmp_path / "160x96StrangersTestset.pickle").write_bytes(b"\x80\x04not really a pickle")
    with pytest.raises(EdgeadaptError, match=r"160x96StrangersTestset.pickle: corrupt dataset file"):
        load_split(tmp_path, "test")


def test_missing_test_pickle(tmp_path):
    frontnet_folder(tmp_path)
    os.remove(tmp_path / "160x96StrangersTestset.pickle")
    with pytest.raises(EdgeadaptError, match="StrangersTestset.pickle: missing dataset file"):
        load_split(tmp_path, "test")


def test_wrong_image_size_in_pickle(tmp_path):
    rng = np.random.default_rng(0)
    # 80x48 frames in a file named 160x96
    write_frontnet_pickle(tmp_path / "160x96StrangersTestset.pickle", rng.integers(0, 256, (3, 48, 80), dtype=np.uint8),
                          np.zeros((3, 4)))
    with pytest.raises(EdgeadaptError, match="images are 80x48x1, expected 160x96x1"):
        load_split(tmp_path, "test")
    # h, w say 160x96 but a row holds fewer pixels
    df = pd.read_pickle(tmp_path / "160x96StrangersTestset.pickle")
    df["h"], df["w"] = 96, 160
    df.to_pickle(tmp_path / "160x96StrangersTestset.pickle")
    with pytest.raises(EdgeadaptError, match="row 0 holds 3840 pixels, expected 96x160"):
        load_split(tmp_path, "test")


def test_asking_for_an_absent_size(tmp_path):
    frontnet_folder(tmp_path)
    with pytest.raises(EdgeadaptError, match="no PULP-Frontnet pickles of size 80x48"):
        load_split(tmp_path, "test", size="80x48")
    with pytest.raises(EdgeadaptError, match="unsupported image size '64x64'"):
        load_split(tmp_path, "test", size="64x64")


def test_cli_prints_one_line_error_and_exits_2(tmp_path, capsys):
    (tmp_path / "160x96StrangersTestset.pickle").write_bytes(b"garbage")
    (tmp_path / "160x96OthersTrainsetAug.pickle").write_bytes(b"garbage")
    with pytest.raises(SystemExit) as exc:
        main(["dataset", "info", "--data", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("edgeadapt: error: ") and "corrupt dataset file" in err
    assert err.count("\n") == 1 and "Traceback" not in err
