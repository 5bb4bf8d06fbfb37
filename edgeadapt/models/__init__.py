"""Models: the registry by name, MAC/parameter counting, checkpoints, ONNX export and the zoo."""

from edgeadapt.models.checkpoint import load_checkpoint, read_checkpoint, resolve_model_path, save_checkpoint
from edgeadapt.models.cost import count_macs, count_params, layer_costs
from edgeadapt.models.onnx_export import export_onnx
from edgeadapt.models.registry import build, build_from_config, info, input_hw, model_config, names

__all__ = [
    "build",
    "build_from_config",
    "count_macs",
    "count_params",
    "export_onnx",
    "info",
    "input_hw",
    "layer_costs",
    "load_checkpoint",
    "model_config",
    "names",
    "read_checkpoint",
    "resolve_model_path",
    "save_checkpoint",
]
