"""ONNX export of a trained model, in the form the IR importer expects.

Opset 17 through the TorchScript exporter (dynamo=False gives a plain Conv/BN/Relu/Gemm graph),
one input "input" (N, 1, H, W) float (normalized pixels), one output "output" (N, 4 or 5), the
batch dimension dynamic. Dropout vanishes in eval mode.
"""

import os
import tempfile
import warnings
from pathlib import Path

import torch

OPSET = 17


def export_onnx(model, info: dict, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.eval()
    dummy = torch.zeros(1, 1, *info["input"])
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o644)  # mkstemp makes the file private; a model file is an ordinary artifact
    try:
        with warnings.catch_warnings():
            # the TorchScript exporter is deprecated in favour of dynamo, but it is the one that
            # emits the plain op set the importer reads: silence the notice only
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                model,
                (dummy,),
                tmp,
                opset_version=OPSET,
                dynamo=False,
                input_names=["input"],
                output_names=["output"],
                dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                do_constant_folding=True,
            )
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
