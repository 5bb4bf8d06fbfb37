"""Training: recipe details (flip, loss), determinism, checkpoint + ONNX output, aux head, errors."""

import numpy as np
import pytest
import torch

import edgeadapt.models as models
from edgeadapt.cli import main
from edgeadapt.data import ensure_synth, load_split
from edgeadapt.errors import EdgeadaptError
from edgeadapt.evaluate import evaluate, predict_outputs
from edgeadapt.data import Camera
from edgeadapt.train import AuxTargets, _batch, _loss, photometric, roc_auc, train, zoom

SMALL = "frontnet-160x8"  # the cheapest registered model keeps these tests fast


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return ensure_synth(tmp_path_factory.mktemp("synth") / "d", frames=240, seed=11)


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    record = train(SMALL, data, out / "m.pt", epochs=2, seed=4, onnx=out / "m.onnx", progress=False)
    return record, out


def test_flip_mirrors_the_frame_and_negates_y_and_phi(data):
    frames = load_split(data, "train")
    idx = np.array([0, 1, 2])
    flip = np.array([True, False, True])
    x, y, _ = _batch(frames, idx, flip, None, "train")
    want = (frames.images[0, :, ::-1].astype(np.float32) - 128) / 256
    np.testing.assert_array_equal(x[0, 0].numpy(), want)
    np.testing.assert_array_equal(x[1, 0].numpy(), (frames.images[1].astype(np.float32) - 128) / 256)
    lab = frames.labels
    np.testing.assert_array_equal(y[0].numpy(), lab[0] * np.array([1, -1, 1, -1], np.float32))
    np.testing.assert_array_equal(y[1].numpy(), lab[1])


def test_photometric_augmentation_is_seeded_and_keeps_uint8_frames(data):
    images = load_split(data, "val").images[:8]
    a = photometric(images, np.random.default_rng(1))
    b = photometric(images, np.random.default_rng(1))
    assert a.dtype == np.uint8 and a.shape == images.shape
    np.testing.assert_array_equal(a, b)
    # each frame gets its own exposure: mean brightness moves, but differently per frame
    shift = a.reshape(8, -1).mean(1) - images.reshape(8, -1).mean(1)
    assert np.abs(shift).max() > 5 and np.ptp(shift) > 5
    # the scene survives: augmented and original frames stay strongly correlated
    for i in range(8):
        assert np.corrcoef(a[i].ravel(), images[i].ravel())[0, 1] > 0.6


def test_zoom_moves_the_head_where_the_new_distance_projects_it():
    fx = Camera.for_size("160x96").fx
    labels = np.array([[2.0, 0.3, 0.2, 0.5], [1.5, -0.2, -0.1, -1.0]], np.float32)
    images = np.zeros((2, 96, 160), np.uint8)
    for img, (x, y, z, _) in zip(images, labels):
        u, v = 80 - fx * y / x, 48 - fx * z / x  # continuous image coordinates of the head centre
        img[int(v) - 1 : int(v) + 2, int(u) - 1 : int(u) + 2] = 255
    out, new = zoom(images, labels, np.random.default_rng(0), max_zoom=1.4, p=1.0)
    scale = labels[:, 0] / new[:, 0]
    assert np.all(scale > 1.0) and np.all(scale <= 1.4)
    np.testing.assert_array_equal(new[:, 1:], labels[:, 1:])  # y, z, phi are unchanged
    for img, (x, y, z, _) in zip(out, new):
        v, u = np.unravel_index(np.argmax(img), img.shape)
        assert abs(u + 0.5 - (80 - fx * y / x)) <= 2.0 and abs(v + 0.5 - (48 - fx * z / x)) <= 2.0


def test_zoom_keeps_the_head_in_view():
    fx = Camera.for_size("160x96").fx
    labels = np.array([[1.0, 0.85, 0.0, 0.0]], np.float32)  # head 74 px left of centre: 2 px room
    _, new = zoom(np.zeros((1, 96, 160), np.uint8), labels, np.random.default_rng(0), max_zoom=2.0, p=1.0)
    assert fx * new[0, 1] / new[0, 0] <= 80 - 4 + 1e-3


def test_loss_is_l1_summed_over_outputs_averaged_over_frames():
    out = torch.tensor([[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0]])
    y = torch.tensor([[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, -1.0, 1.0]])
    # per-output MAE: 1, 1.5, 2, 2.5 -> 7
    assert float(_loss(out, y, None, 0.1)) == pytest.approx(7.0)


def test_training_writes_checkpoint_onnx_and_the_metric_tables(trained, data):
    record, out = trained
    assert record["epochs_run"] == 2 and 1 <= record["best_epoch"] <= 2
    assert record["frames"] == {s: len(load_split(data, s)) for s in ("train", "val", "test")}
    model, info = models.load_checkpoint(out / "m.pt", expect_model=SMALL)
    assert info["train"]["seed"] == 4 and info["train"]["test"]["mae"] == record["test"]["mae"]
    # the stored metrics are those of the saved weights, and the ONNX file computes the same
    from_pt = evaluate(out / "m.pt", data, "test")
    from_onnx = evaluate(out / "m.onnx", data, "test")
    assert from_pt["mae"] == pytest.approx(record["test"]["mae"], abs=1e-6)
    for key in ("x", "y", "z", "phi", "sum"):
        assert from_onnx["mae"][key] == pytest.approx(from_pt["mae"][key], abs=1e-4)
    assert record["history"][1]["train_loss"] < record["history"][0]["train_loss"]


def test_same_seed_gives_identical_weights(data, tmp_path):
    a = train(SMALL, data, tmp_path / "a.pt", epochs=1, seed=9, progress=False)
    b = train(SMALL, data, tmp_path / "b.pt", epochs=1, seed=9, progress=False)
    assert a["test"] == b["test"]
    sa = models.load_checkpoint(tmp_path / "a.pt")[0].state_dict()
    sb = models.load_checkpoint(tmp_path / "b.pt")[0].state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_aux_heads_are_trained_with_the_model_on_targets_from_its_own_errors(trained, data, tmp_path):
    record, out = trained
    teacher = tmp_path / "teacher.pt"
    train(SMALL, data, teacher, epochs=1, seed=1, progress=False)
    splits = {s: load_split(data, s) for s in ("train", "val", "test")}
    aux = AuxTargets(teacher, splits, margin=0.05)
    test = splits["test"]
    err_big = np.abs(predict_outputs(teacher, test)[:, :4] - test.labels).sum(1)
    np.testing.assert_allclose(aux.errors["test"][0], err_big, rtol=1e-6)
    small_out = predict_outputs(out / "m.pt", test)
    err_small = np.abs(small_out[:, :4] - test.labels).sum(1)
    better, own = aux.targets("test", small_out, test.labels)
    np.testing.assert_array_equal(better, (err_small - err_big > 0.05).astype(np.float32))
    np.testing.assert_allclose(own, err_small, rtol=1e-6)

    rec = train(SMALL, data, tmp_path / "aux.pt", epochs=1, seed=2, aux_head=True, init=out / "m.pt",
                teacher=teacher, aux_margin=0.05, progress=False)
    model, info = models.load_checkpoint(tmp_path / "aux.pt")
    assert info["outputs"] == 6
    outputs = predict_outputs(tmp_path / "aux.pt", test)
    assert outputs.shape == (len(test), 6)
    assert set(rec["aux"]["test"]) == {"positive_rate", "accuracy", "auc", "confidence_mae", "confidence_corr",
                                       "confidence_auc"}
    better, own = aux.targets("test", outputs, test.labels)  # the targets of the fine-tuned model itself
    assert rec["aux"]["test"]["positive_rate"] == pytest.approx(float(better.mean()))
    assert rec["aux"]["test"]["confidence_mae"] == pytest.approx(float(np.abs(outputs[:, 5] - own).mean()), rel=1e-5)
    # trained WITH the model: the backbone moved too, not only the aux rows
    before = models.load_checkpoint(out / "m.pt")[0].state_dict()
    after = model.state_dict()
    backbone = [k for k in before if not k.startswith("fc.") and before[k].dtype.is_floating_point]
    assert any(not torch.equal(before[k], after[k]) for k in backbone)


def test_aux_only_trains_the_aux_rows_and_keeps_the_pose_outputs(trained, data, tmp_path):
    record, out = trained
    teacher = tmp_path / "teacher.pt"
    train(SMALL, data, teacher, epochs=1, seed=1, progress=False)
    rec = train(SMALL, data, tmp_path / "probe.pt", epochs=2, seed=3, aux_head=True, aux_only=True,
                init=out / "m.pt", teacher=teacher, aux_margin=0.05, progress=False)
    assert rec["aux_only"] and rec["command"].endswith("--aux-only")
    before, _ = models.load_checkpoint(out / "m.pt")
    after, _ = models.load_checkpoint(tmp_path / "probe.pt")
    sb, sa = before.state_dict(), after.state_dict()
    for key in sb:  # every backbone tensor, BN statistics included, is untouched
        if key not in ("fc.weight", "fc.bias"):
            assert torch.equal(sb[key], sa[key]), key
    assert torch.equal(sa["fc.weight"][:4], sb["fc.weight"]) and torch.equal(sa["fc.bias"][:4], sb["fc.bias"])
    assert sa["fc.weight"][4].abs().sum() > 0 and sa["fc.weight"][5].abs().sum() > 0  # the aux rows trained
    test = load_split(data, "test")
    np.testing.assert_allclose(predict_outputs(tmp_path / "probe.pt", test)[:, :4],
                               predict_outputs(out / "m.pt", test), rtol=0, atol=1e-5)
    with pytest.raises(EdgeadaptError, match="--aux-only .* needs --aux-head"):
        train(SMALL, data, tmp_path / "x.pt", epochs=1, aux_only=True, progress=False)


def test_roc_auc_equals_the_pairwise_definition():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, 60).astype(float)  # many ties
    target = rng.random(60) < 0.4
    pos, neg = scores[target], scores[~target]
    pairwise = ((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])).mean()
    assert roc_auc(scores, target) == pytest.approx(pairwise)
    assert np.isnan(roc_auc(scores, np.zeros(60)))


def test_training_errors_name_the_problem(data, tmp_path, trained):
    _, out = trained
    with pytest.raises(EdgeadaptError, match="model expects 80x48 frames, the data has 160x96"):
        train("frontnet-80x32", data, tmp_path / "x.pt", epochs=1, progress=False)
    with pytest.raises(EdgeadaptError, match="unknown model 'nonet'"):
        train("nonet", data, tmp_path / "x.pt", epochs=1, progress=False)
    with pytest.raises(EdgeadaptError, match="checkpoint of model 'frontnet-160x8', expected 'frontnet-160x16'"):
        train("frontnet-160x16", data, tmp_path / "x.pt", epochs=1, init=out / "m.pt", progress=False)
    with pytest.raises(EdgeadaptError, match="--init SMALL.pt and --teacher BIG.pt"):
        train(SMALL, data, tmp_path / "x.pt", epochs=1, aux_head=True, progress=False)
    with pytest.raises(EdgeadaptError, match="no such dataset folder"):
        train(SMALL, tmp_path / "missing", tmp_path / "x.pt", epochs=1, progress=False)
    assert not (tmp_path / "x.pt").exists()


def test_train_command_prints_tables_and_json(data, tmp_path, capsys):
    import json

    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--model", SMALL, "--data", str(data), "--out", str(tmp_path / "c.pt"), "--epochs", "1",
              "--quiet", "--json", str(tmp_path / "c.json")])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "val (" in text and "test (" in text and "trivial MAE" in text
    record = json.loads((tmp_path / "c.json").read_text())
    assert record["model"] == SMALL and set(record["test"]["mae"]) == {"x", "y", "z", "phi", "sum"}
