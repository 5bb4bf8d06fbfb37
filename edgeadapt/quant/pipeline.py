"""The quantizer end to end: float graph + calibration frames -> quantized graph.

    calibrate (float activations) -> [bit allocation] -> sequential pass
    (per layer: AdaPT formats -> AdaQuant -> BN re-estimation + bias correction)
    -> label bias tuning of the output layer (when the calibration frames come with labels)

With weight_bits "auto" the widths come from the MILP of bitalloc.py: an int8 pass first, then
each layer alone re-quantized at 4 and 2 bits (formats, AdaQuant and tuning included, fed by the
int8 prefix) to measure its loss increase on the calibration frames, then the final pass at the
chosen widths, so later layers compensate for the low-bit ones.
"""

import contextlib
import copy
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from edgeadapt.errors import EdgeadaptError
from edgeadapt.quant import bitalloc, costmodel
from edgeadapt.quant.budget import parse_size
from edgeadapt.quant.calibrate import float_activations
from edgeadapt.quant.equalize import equalize
from edgeadapt.quant.label_tuning import tune_output_bias
from edgeadapt.quant.qsim import images_to_input, quant_forward
from edgeadapt.quant.sequential import PassOptions, raw_output, run_pass

WIDTHS = (8, 4, 2)
SENSITIVITY_ITERATIONS = 60  # AdaQuant steps per layer while measuring sensitivities


@dataclass
class QuantizeOptions:
    weight_bits: object = 8  # 8, 4, 2 or "auto"
    flash_budget: object = None  # bytes, or a size string ('200KiB', '50%' of the int8 weight bytes)
    cycle_budget: float | None = None  # optional latency budget for "auto", in estimated cycles
    cycle_model: costmodel.CycleModel | None = None  # prices the latency budget (from --target)
    adapt: bool = True
    equalize: bool = True  # activation range equalization across channels (equalize.py)
    adaquant: bool = True
    bias_correction: bool = True
    label_tuning: bool = True  # output biases fitted to the calibration labels (label_tuning.py)
    iterations: int = PassOptions.iterations
    batch: int = PassOptions.batch
    seed: int = 0
    layer_bits: dict = field(default_factory=dict)  # node name -> bits, overriding weight_bits

    def pass_options(self, iterations=None) -> PassOptions:
        return PassOptions(
            adapt=self.adapt,
            adaquant=self.adaquant,
            bias_correction=self.bias_correction,
            iterations=self.iterations if iterations is None else iterations,
            batch=self.batch,
            seed=self.seed,
        )


@dataclass
class QuantizeResult:
    graph: object
    qsnr_db: dict
    bits: dict
    allocation: dict = field(default_factory=dict)  # auto only: sensitivities, budgets, bytes
    seconds: float = 0.0


def weighted_nodes(graph):
    return [n for n in graph.nodes if n.has_weights]


def weight_bytes(graph, bits) -> int:
    return sum(costmodel.layer_weight_bytes(n, bits[n.name]) for n in weighted_nodes(graph))


def prepare(graph):
    """A private copy whose graph outputs produced by an fc emit raw int32 (decision D5)."""
    graph = copy.deepcopy(graph)
    for name in graph.outputs:
        node = graph.producer(name)
        if node is not None and node.op == "fc" and node.act == "none":
            node.attrs["out_dtype"] = "int32"
    return graph


QUANT_THREADS = 1


@contextlib.contextmanager
def torch_threads(n):
    """Run torch on n intra-op threads, then restore.

    The quantizer's work is thousands of small ops (AdaQuant steps on a few frames); on a shared
    machine, a parallel region whose second thread is descheduled stalls at every barrier, which
    made runs 10-25x slower under load. One thread is also thread-count independent, so the
    same inputs give the same model on any machine with the same torch build.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def quantize_graph(graph, calib_images, options: QuantizeOptions | None = None, calib_labels=None,
                   heldout=None, task=None) -> QuantizeResult:
    """Quantize a float Graph on uint8 calibration frames (N, H, W[, C]). The input graph is not changed.

    calib_labels (N, L), optional: the frames' regression labels, for label bias tuning of the first
    L outputs; heldout = (images, labels) of other frames (the val split): a shift is kept only
    where it lowers their MAE too, and without them the step does not run. task: 'pose',
    'regression' (tuned), 'classification' or 'none' (never tuned); None reads it from the labels
    (integer class ids (N,) = classification)."""
    with torch_threads(QUANT_THREADS):
        return _quantize_graph(graph, calib_images, options or QuantizeOptions(), calib_labels, heldout, task)


def label_tuning_plan(options, calib_labels, heldout, task) -> str | None:
    """None when label bias tuning runs, else why not (recorded in the report)."""
    if not options.label_tuning:
        return "switched off"
    if calib_labels is None:
        return "no labels"
    labels = np.asarray(calib_labels)
    if task is None:
        task = "classification" if labels.ndim == 1 and np.issubdtype(labels.dtype, np.integer) else "regression"
    if task not in ("pose", "regression"):
        return f"{task} task (labels are not output values)"
    if heldout is None or len(heldout[0]) == 0:
        return "no held-out frames to check it on"
    return None


def _quantize_graph(graph, calib_images, options: QuantizeOptions, calib_labels, heldout, task) -> QuantizeResult:
    start = time.perf_counter()
    torch.manual_seed(options.seed)
    graph = prepare(graph)
    if len(calib_images) < 2:
        raise EdgeadaptError(f"calibration needs at least 2 frames, got {len(calib_images)}")
    _check_input(graph, calib_images)
    with torch.no_grad():
        acts = float_activations(graph, calib_images)
        if options.equalize and equalize(graph, acts):
            acts = float_activations(graph, calib_images)  # same outputs, rescaled channels
    allocation = {}
    if options.weight_bits == "auto":
        bits, allocation = allocate(graph, acts, options)
    else:
        width = int(options.weight_bits)
        if width not in WIDTHS:
            raise EdgeadaptError(f"weight bits {options.weight_bits} (expected 8, 4, 2 or auto)")
        bits = {n.name: width for n in weighted_nodes(graph)}
        for name, b in options.layer_bits.items():
            if name not in bits or int(b) not in WIDTHS:
                raise EdgeadaptError(f"layer bits {name}={b}: no such weighted layer or width (8, 4, 2)")
            bits[name] = int(b)
        if options.flash_budget is not None:
            budget = parse_size(options.flash_budget, weight_bytes(graph, _all(graph, 8)))
            if weight_bytes(graph, bits) > budget:
                raise EdgeadaptError(
                    f"flash budget {budget} B is smaller than the {width}-bit weights "
                    f"({weight_bytes(graph, bits)} B); use --weight-bits auto or a larger budget"
                )
    result = run_pass(graph, acts, bits, options.pass_options(), progress_label=f"quantize {graph.name}")
    label_tuning = {"outputs": [], "shifts": []}
    skipped = label_tuning_plan(options, calib_labels, heldout, task)
    if skipped is None:
        label_tuning = tune_output_bias(graph, run_quantized, calib_images, calib_labels, heldout)
    else:
        label_tuning["skipped"] = skipped
    graph.meta["quantizer"] = {
        "weight_bits": options.weight_bits if options.weight_bits == "auto" else int(options.weight_bits),
        "adapt": options.adapt,
        "equalize": options.equalize,
        "adaquant": options.adaquant,
        "bias_correction": options.bias_correction,
        "label_tuning": label_tuning,
        "calib_frames": int(len(calib_images)),
        "iterations": options.iterations,
        "seed": options.seed,
    }
    return QuantizeResult(graph, result.qsnr_db, bits, allocation, time.perf_counter() - start)


def _all(graph, width):
    return {n.name: width for n in weighted_nodes(graph)}


def _check_input(graph, images):
    check_frames(graph, images, "calibration frames")


def check_frames(graph, images, what):
    """Frames (N, H, W) or (N, H, W, C) of the graph's input size and channel count, or a one-line error."""
    images = np.asarray(images)
    want = tuple(graph.tensors[graph.input].shape)
    got = tuple(images.shape[1:3])
    if want[:2] != got:
        raise EdgeadaptError(f"{what} are {got[1]}x{got[0]}, model '{graph.name}' expects {want[1]}x{want[0]}")
    channels = 1 if images.ndim == 3 else images.shape[3]
    if channels != want[2]:
        raise EdgeadaptError(f"{what} have {channels} channel{'s' if channels != 1 else ''}, model '{graph.name}' "
                             f"takes {want[2]}")
    if images.dtype != np.uint8:
        raise EdgeadaptError(f"{what} are {images.dtype}: the quantizer reads uint8 pixels (import float data "
                             f"with the model's input normalization undone, as uint8)")


# ----------------------------------------------------------------------------- bit allocation


def output_loss(quant_outputs, float_outputs) -> float:
    """Output MSE normalized by each output's variance, averaged: scale-free across x, y, z, phi."""
    total = 0.0
    for name, ref in float_outputs.items():
        q = quant_outputs[name].double().reshape(len(ref), -1)
        r = ref.double().reshape(len(ref), -1)
        var = torch.clamp(r.var(dim=0), min=1e-12)
        total += float((((q - r) ** 2).mean(dim=0) / var).mean())
    return total / len(float_outputs)


def allocate(graph, acts, options):
    """Measure per-layer sensitivities and solve the MILP; returns (bits, allocation record)."""
    nodes = weighted_nodes(graph)
    nbytes = {n.name: {b: costmodel.layer_weight_bytes(n, b) for b in WIDTHS} for n in nodes}
    int8_bytes = sum(nbytes[n.name][8] for n in nodes)
    if options.flash_budget is None:
        raise EdgeadaptError("--weight-bits auto needs a --flash-budget (e.g. 200KiB or 50%)")
    budget = parse_size(options.flash_budget, int8_bytes)
    options_by_layer = {n.name: WIDTHS for n in nodes}
    cycles = None
    if options.cycle_budget is not None:
        if options.cycle_model is None:
            raise EdgeadaptError("a latency budget needs a target's cycle model (--target NAME or an export's "
                                 "manifest.json)")
        cycles = {n.name: {b: costmodel.layer_cycles(graph, n, b, options.cycle_model) for b in WIDTHS} for n in nodes}
    smallest = bitalloc.smallest_size(options_by_layer, nbytes, cycles, options.cycle_budget)
    record = {"flash_budget": budget, "int8_bytes": int8_bytes, "cycle_budget": options.cycle_budget,
              "target": options.cycle_model.name if options.cycle_model else None}
    if smallest is None or smallest > budget:
        # fail before the expensive measurements
        bitalloc.allocate_bits(options_by_layer, {n.name: {b: 0.0 for b in WIDTHS} for n in nodes}, nbytes,
                               budget, cycles, options.cycle_budget)
    if budget >= int8_bytes and options.cycle_budget is None:
        record.update({"sensitivity": {}, "weight_bytes": int8_bytes})
        return _all(graph, 8), record

    dloss = sensitivities(graph, acts, options)
    bits = bitalloc.allocate_bits(options_by_layer, dloss, nbytes, budget, cycles, options.cycle_budget)
    record.update({
        "sensitivity": {name: {str(b): v for b, v in d.items()} for name, d in dloss.items()},
        "predicted_loss_increase": bitalloc.allocation_loss(bits, dloss),
        "weight_bytes": bitalloc.allocation_bytes(bits, nbytes),
    })
    return bits, record


def sensitivities(graph, acts, options) -> dict:
    """name -> {bits: loss increase when only that layer drops to bits}, measured on calibration."""
    base_graph = copy.deepcopy(graph)
    keep = list(base_graph.tensors)
    base = run_pass(base_graph, acts, _all(base_graph, 8), options.pass_options(), keep=keep)
    float_out = {name: acts[name] for name in base_graph.outputs}
    base_loss = output_loss(base.outputs, float_out)
    dloss = {}
    pass_options = options.pass_options(iterations=min(options.iterations, SENSITIVITY_ITERATIONS))
    from edgeadapt.console import progress

    bar = progress(total=len(weighted_nodes(base_graph)), desc="sensitivity (4 and 2 bits)", unit="layer")
    for index, node in enumerate(base_graph.nodes):
        if not node.has_weights:
            continue
        bar.update()
        dloss[node.name] = {8: 0.0}
        for width in (4, 2):
            trial = copy.deepcopy(node)
            out = _requantize_one(base_graph, trial, width, acts, base.outputs, pass_options)
            values = dict(base.outputs)
            values[node.output] = out
            for later in base_graph.nodes[index + 1 :]:
                fls = [base_graph.tensors[t].fl for t in later.inputs]
                out_t = base_graph.tensors[later.output]
                values[later.output] = quant_forward(later, [values[t] for t in later.inputs], fls,
                                                     None if raw_output(later) else out_t.fl, out_t.dtype == "uint8")
            dloss[node.name][width] = max(output_loss(values, float_out) - base_loss, 0.0)
    bar.close()
    return dloss


def _requantize_one(graph, node, width, acts, qvalues, pass_options):
    """Quantize one node alone at `width`, inputs from the int8 pass; returns its output."""
    from edgeadapt.ir.graph import Graph

    single = Graph("one", node.inputs[0], [node.output],
                   {t: copy.deepcopy(graph.tensors[t]) for t in (node.inputs[0], node.output)}, [node])
    # a one-node pass: the input is the int8 prefix's quantized output, at its FL
    fl_in = graph.tensors[node.inputs[0]].fl
    sub_acts = {node.inputs[0]: acts[node.inputs[0]], node.output: acts[node.output]}
    fixed = {} if raw_output(node) else {node.output: graph.tensors[node.output].fl}
    result = run_pass(single, sub_acts, {node.name: width}, pass_options,
                      input_values=qvalues[node.inputs[0]], input_fl=fl_in, fixed_fls=fixed)
    return result.outputs[node.output]


def run_quantized(graph, images, batch=256) -> np.ndarray:
    """Dequantized outputs of a quantized graph (exact fixed point, see qsim), (N, K) float64."""
    outs = []
    with torch.no_grad():
        for s in range(0, len(images), batch):
            values = {graph.input: images_to_input(images[s : s + batch])}
            for node in graph.nodes:
                fls = [graph.tensors[t].fl for t in node.inputs]
                fl_out = None if raw_output(node) else graph.tensors[node.output].fl
                values[node.output] = quant_forward(node, [values[t] for t in node.inputs], fls, fl_out,
                                                    graph.tensors[node.output].dtype == "uint8")
            outs.append(values[graph.outputs[0]].double().reshape(len(values[graph.input]), -1).numpy())
    return np.concatenate(outs)


def run_float(graph, images, batch=256) -> np.ndarray:
    from edgeadapt.quant.qsim import float_forward

    outs = []
    with torch.no_grad():
        for s in range(0, len(images), batch):
            values = {graph.input: images_to_input(images[s : s + batch])}
            for node in graph.nodes:
                values[node.output] = float_forward(node, [values[t] for t in node.inputs])
            outs.append(values[graph.outputs[0]].double().reshape(len(values[graph.input]), -1).numpy())
    return np.concatenate(outs)
