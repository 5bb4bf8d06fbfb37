"""Label bias tuning: the output biases move by the median residual on the calibration labels."""

import numpy as np
import pytest

from edgeadapt.errors import EdgeadaptError
from edgeadapt.quant.label_tuning import tune_output_bias
from edgeadapt.quant.pipeline import QuantizeOptions, quantize_graph, run_quantized
from edgeadapt.quant.reference import dequantize_outputs, run_int
from test_quant_toy import toy_graph, toy_images

FAST = dict(iterations=20)
OFFSETS = np.array([0.25, -0.5])  # a known systematic error on the two labelled outputs


def _quantized(images, **flags):
    return quantize_graph(toy_graph(outputs=3), images, QuantizeOptions(label_tuning=False, **FAST, **flags)).graph


def test_a_known_offset_is_recovered_on_the_integer_grid():
    images = toy_images(64)
    graph = _quantized(images)
    base = run_quantized(graph, images)
    rng = np.random.default_rng(3)
    labels = base[:, :2] + OFFSETS + rng.laplace(0.0, 0.05, (len(images), 2))  # 2 of 3 outputs labelled
    old_bias = graph.node("fc").qbias.copy()
    info = tune_output_bias(graph, run_quantized, images, labels)
    assert info["outputs"] == [0, 1]
    np.testing.assert_allclose(info["shifts"], np.median(labels - base[:, :2], axis=0), atol=2.0 ** -6)
    np.testing.assert_allclose(info["shifts"], OFFSETS, atol=0.03)
    new_bias = graph.node("fc").qbias
    assert new_bias[2] == old_bias[2]  # the unlabelled output keeps its bias
    after = run_quantized(graph, images)
    assert np.abs(labels - after[:, :2]).mean() < 0.5 * np.abs(labels - base[:, :2]).mean()
    np.testing.assert_array_equal(after[:, 2], base[:, 2])
    # the integer reference (the firmware's arithmetic) sees the same shift
    ref = dequantize_outputs(graph, run_int(graph, images))
    np.testing.assert_allclose(ref, after, atol=1e-6)


def test_no_offset_leaves_the_biases_alone():
    images = toy_images(48)
    graph = _quantized(images)
    base = run_quantized(graph, images)
    old_bias = graph.node("fc").qbias.copy()
    info = tune_output_bias(graph, run_quantized, images, base[:, :3])
    assert info == {"outputs": [], "shifts": []}
    np.testing.assert_array_equal(graph.node("fc").qbias, old_bias)


def test_a_shift_that_would_break_the_accumulator_bound_is_refused():
    images = toy_images(48)
    graph = _quantized(images)
    base = run_quantized(graph, images)
    old_bias = graph.node("fc").qbias.copy()
    labels = base[:, :2] + np.array([0.25, 1e6])  # output 1 would need a bias far beyond 2^30
    info = tune_output_bias(graph, run_quantized, images, labels)
    assert info["outputs"] == [0]
    assert graph.node("fc").qbias[1] == old_bias[1] and graph.node("fc").qbias[0] != old_bias[0]


def test_labels_that_do_not_match_the_frames_are_refused():
    images = toy_images(16)
    graph = _quantized(images)
    with pytest.raises(EdgeadaptError, match=r"calibration labels: expected \(16, L\) for 16 frames, got shape \(15, 4\)"):
        tune_output_bias(graph, run_quantized, images, np.zeros((15, 4)))


def test_the_pipeline_tunes_only_with_labels_held_out_frames_and_when_asked():
    images = toy_images(48)
    held = toy_images(32, seed=5)
    plain = _quantized(images)
    labels = run_quantized(plain, images)[:, :2] + OFFSETS
    held_labels = run_quantized(plain, held)[:, :2] + OFFSETS
    heldout = (held, held_labels)
    with_labels = quantize_graph(toy_graph(outputs=3), images, QuantizeOptions(**FAST), labels, heldout).graph
    no_labels = quantize_graph(toy_graph(outputs=3), images, QuantizeOptions(**FAST)).graph
    no_heldout = quantize_graph(toy_graph(outputs=3), images, QuantizeOptions(**FAST), labels).graph
    switched_off = quantize_graph(toy_graph(outputs=3), images, QuantizeOptions(label_tuning=False, **FAST), labels, heldout).graph
    for g in (no_labels, no_heldout, switched_off):
        np.testing.assert_array_equal(g.node("fc").qbias, plain.node("fc").qbias)
    assert no_heldout.meta["quantizer"]["label_tuning"]["skipped"] == "no held-out frames to check it on"
    assert switched_off.meta["quantizer"]["label_tuning"]["skipped"] == "switched off"
    info = with_labels.meta["quantizer"]["label_tuning"]
    assert info["outputs"] == [0, 1] and info["heldout"]["frames"] == 32
    assert all(a < b for a, b in zip(info["heldout"]["mae_after"], info["heldout"]["mae_before"]))
    # the held-out MAE after the move (computed as the plain outputs plus the shift) is the tuned model's
    measured = np.abs(held_labels - run_quantized(with_labels, held)[:, :2]).mean(axis=0)
    np.testing.assert_allclose(info["heldout"]["mae_after"], measured, atol=1e-6)
    moved = with_labels.node("fc").qbias - plain.node("fc").qbias
    assert moved[0] > 0 > moved[1] and moved[2] == 0


def test_a_shift_that_only_fits_the_calibration_frames_is_dropped():
    images = toy_images(48)
    held = toy_images(32, seed=5)
    graph = _quantized(images)
    old_bias = graph.node("fc").qbias.copy()
    base, held_base = run_quantized(graph, images), run_quantized(graph, held)
    labels = base[:, :2] + OFFSETS
    held_labels = held_base[:, :2] + np.array([0.25, 0.5])  # output 1's offset has the other sign on held-out frames
    info = tune_output_bias(graph, run_quantized, images, labels, (held, held_labels))
    assert info["outputs"] == [0]
    assert graph.node("fc").qbias[1] == old_bias[1] and graph.node("fc").qbias[0] != old_bias[0]
    assert info["heldout"]["mae_after"][1] == info["heldout"]["mae_before"][1]


def test_a_classifier_is_never_label_tuned():
    images = toy_images(48)
    class_ids = np.arange(48) % 3
    g = quantize_graph(toy_graph(outputs=3), images, QuantizeOptions(**FAST), class_ids,
                       (toy_images(8, seed=5), np.arange(8) % 3)).graph
    assert g.meta["quantizer"]["label_tuning"]["skipped"].startswith("classification task")
    np.testing.assert_array_equal(g.node("fc").qbias, _quantized(images).node("fc").qbias)
