"""The TFLite converter's full-integer post-training quantization as a benchmark peer.

The issue's route is ONNX -> TensorFlow with a maintained converter (onnx2tf), then
TFLiteConverter with a representative dataset. `unavailable()` says exactly why a part of that
cannot run here. When TensorFlow is there but onnx2tf is not, the float IR graph (the same float
model every quantizer starts from) is rebuilt layer for layer as a Keras model, checked against
the float outputs, and converted: TFLiteConverter with Optimize.DEFAULT, the calibration frames as
representative dataset and TFLITE_BUILTINS_INT8 ops (int8 weights per channel, int8 activations,
float input and output around them). LiteRT runs the result.
"""

import importlib.util

import numpy as np

from edgeadapt.errors import EdgeadaptError

ONNX2TF_WHY = ("onnx2tf is not installed: the releases pip resolves for Python 3.11 pin numpy 1.26.4, onnx 1.19.1, "
               "protobuf 4.25.5, onnxruntime 1.23.0 and tensorflow 2.19, downgrading this environment's numpy 2 and "
               "onnx; the float IR graph is rebuilt in Keras instead (same weights, checked against the float outputs)")


def unavailable():
    """None when the peer can run, else the exact reason it cannot."""
    if importlib.util.find_spec("tensorflow") is None:
        return ("tensorflow is not installed (pip install 'edgeadapt[peers]' adds tensorflow-cpu; it needs no other "
                "torch and keeps numpy 2)")
    if importlib.util.find_spec("ai_edge_litert") is None:
        return "ai-edge-litert is not installed (LiteRT runs the converted model)"
    return None


def route() -> str:
    if importlib.util.find_spec("onnx2tf") is not None:
        return "onnx2tf is installed but this peer rebuilds the float IR graph in Keras (one converter path, tested)"
    return ONNX2TF_WHY


def keras_model(graph):
    """The float IR graph as a Keras model on NHWC input u = (p - 128) / 256."""
    import tensorflow as tf

    layers = tf.keras.layers
    h, w, c = graph.tensors[graph.input].shape
    inp = layers.Input((h, w, c))
    values = {graph.input: inp}

    def act(x, a):
        if a == "relu":
            return layers.ReLU()(x)
        if a == "relu6":
            return layers.ReLU(max_value=6.0)(x)
        return x

    def pad(x, pads):
        top, left, bottom, right = pads
        return layers.ZeroPadding2D(((top, bottom), (left, right)))(x) if any(pads) else x

    for node in graph.nodes:
        a = node.attrs
        x = values[node.inputs[0]]
        if node.op == "conv":
            groups = a.get("groups", 1)
            c_in = graph.tensors[node.inputs[0]].shape[2]
            x = pad(x, a.get("pads", (0, 0, 0, 0)))
            wt = np.asarray(node.weight, np.float32)
            bias = np.zeros(len(wt), np.float32) if node.bias is None else np.asarray(node.bias, np.float32)
            if groups == 1:
                layer = layers.Conv2D(len(wt), a["kernel"], a.get("stride", (1, 1)))
                y = layer(x)
                layer.set_weights([wt.transpose(1, 2, 3, 0), bias])
            elif groups == c_in:
                mult = len(wt) // c_in
                layer = layers.DepthwiseConv2D(a["kernel"], a.get("stride", (1, 1)), depth_multiplier=mult)
                y = layer(x)
                k = wt[:, :, :, 0].reshape(c_in, mult, *wt.shape[1:3]).transpose(2, 3, 0, 1)
                layer.set_weights([k, bias])
            else:
                raise EdgeadaptError(f"node '{node.name}': grouped convolution has no Keras peer")
            y = act(y, node.act)
        elif node.op == "fc":
            layer = layers.Dense(node.weight.shape[0])
            y = layer(layers.Flatten()(x))
            layer.set_weights([np.asarray(node.weight, np.float32).T,
                               np.zeros(node.weight.shape[0], np.float32) if node.bias is None else node.bias])
            y = act(y, node.act)
        elif node.op == "maxpool":
            if any(a.get("pads", (0, 0, 0, 0))):
                raise EdgeadaptError(f"node '{node.name}': padded max pool has no Keras peer")
            y = layers.MaxPooling2D(a["kernel"], a.get("stride", a["kernel"]))(x)
        elif node.op == "avgpool":
            y = act(layers.AveragePooling2D(a["kernel"], a.get("stride", a["kernel"]))(pad(x, a.get("pads", (0, 0, 0, 0)))),
                    node.act)
        elif node.op == "gap":
            y = act(layers.GlobalAveragePooling2D(keepdims=True)(x), node.act)
        elif node.op == "add":
            y = act(layers.Add()([x, values[node.inputs[1]]]), node.act)
        elif node.op == "concat":
            y = layers.Concatenate(axis=-1)([values[t] for t in node.inputs])
        elif node.op == "flatten":
            y = layers.Flatten()(x)
        else:
            raise EdgeadaptError(f"node '{node.name}': op '{node.op}' has no Keras peer")
        values[node.output] = y
    outs = [layers.Flatten()(values[o]) if len(values[o].shape) > 2 else values[o] for o in graph.outputs]
    return tf.keras.Model(inp, outs[0] if len(outs) == 1 else layers.Concatenate()(outs))


def tflite_ptq(graph, calib_images) -> tuple:
    """(.tflite bytes, the Keras float model's outputs on calib_images) of the converter's
    full-integer quantization of the float graph."""
    import tensorflow as tf

    model = keras_model(graph)
    x = _inputs(calib_images)
    float_out = model.predict(x, verbose=0, batch_size=64)

    def representative():
        for frame in x:
            yield [frame[None]]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return conv.convert(), np.asarray(float_out, np.float64)


def _inputs(images):
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    return ((x.astype(np.float32) - 128.0) / 256.0).astype(np.float32)


def predict_tflite(model: bytes, images) -> np.ndarray:
    from edgeadapt.tflite.runtime import real_outputs, run_tflite

    return real_outputs(run_tflite(model, images, "default"))
