"""The exporter: schedule and fusion, static memory planning, C emission, manifest, validation.

Public API: export_pair(big_graph, small_graph, target, out_dir, policy=None, sources=None) ->
manifest dict; export_single(graph, target, out_dir, source=None) -> manifest dict (one model, no
policy); plan_memory(graph, num_cores=1, align=8, fuse=True, planner="ours") -> ModelPlan;
validate_export(export_dir, data_dir, frames=200) -> the validate JSON dict;
load_target(name) -> target description dict.
"""

from edgeadapt.codegen.bundle import export_pair, export_single
from edgeadapt.codegen.memory import ModelPlan, plan_memory
from edgeadapt.codegen.targets import load_target
from edgeadapt.codegen.validate import validate_export

__all__ = ["ModelPlan", "export_pair", "export_single", "load_target", "plan_memory", "validate_export"]
