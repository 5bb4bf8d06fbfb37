"""Memory benchmark: activation-arena bytes from edgeadapt's planner vs its peers, same run.

For every registered model, the shipped pair (zoo:big + zoo:small, or --big/--small), and seeded
random lifetime sets, it plans the same buffers (the schedule after fusion: int8 activations,
the recentred input, the raw outputs, per-core scratch) three ways:

- ours: edgeadapt.codegen.planner.plan_buffers (several orderings + best fit + bounded search);
- greedy: TFLite Micro's GreedyMemoryPlanner (biggest first, lowest offset that fits);
- sum: every buffer its own bytes (no reuse);

plus, for context, ours without conv + max-pool fusion. Prints the tables and writes
benchmarks/results/memory.md (and --json). Usage:

    python benchmarks/memory.py [--big zoo:big|big.eaq|<model name>] [--small ...] [--cores 1]
"""

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgeadapt.codegen.memory import plan_memory  # noqa: E402
from edgeadapt.codegen.planner import (  # noqa: E402
    Buffer,
    greedy_by_size,
    lower_bound,
    plan_buffers,
    sum_of_buffers,
)
from edgeadapt.errors import EdgeadaptError  # noqa: E402
from edgeadapt.textio import format_table, write_json  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "memory.md"
ALIGN = 8


def load_graph(spec: str):
    """A quantized graph from a .eaq file, a checkpoint / zoo spec, or a registered model name.

    The arena does not depend on weight values, so float models get a plain min/max quantization.
    """
    from edgeadapt.codegen.quickquant import quick_quantize
    from edgeadapt.ir.onnx_import import import_torch
    from edgeadapt.models import registry

    if spec.endswith(".eaq"):
        from edgeadapt.quant.artifact import load_eaq

        return load_eaq(spec), spec
    if spec in registry.names():
        model, name, hw = registry.build(spec).eval(), spec, registry.input_hw(spec)
    else:
        from edgeadapt.models.checkpoint import load_checkpoint

        model, info = load_checkpoint(spec)
        name, hw = f"{spec} ({info['name']})", info["input"]
    return quick_quantize(import_torch(model, hw, name.split(" ")[0])), name


def plan_row(label, graph, cores):
    ours = plan_memory(graph, num_cores=cores, align=ALIGN)
    greedy = plan_memory(graph, num_cores=cores, align=ALIGN, planner="greedy")
    naive = plan_memory(graph, num_cores=cores, align=ALIGN, planner="naive")
    unfused = plan_memory(graph, num_cores=cores, align=ALIGN, fuse=False)
    return {
        "model": label,
        "layers": len(ours.layers),
        "buffers": len(ours.buffers),
        "sum_bytes": naive.arena_bytes,
        "greedy_bytes": greedy.arena_bytes,
        "ours_bytes": ours.arena_bytes,
        "lower_bound": lower_bound(ours.buffers, ALIGN),
        "unfused_ours_bytes": unfused.arena_bytes,
        "ours_strategy": ours.plan.strategy,
    }


def pair_row(big_row, small_row):
    """Both models share one arena (one runs at a time): each planner's arena is the max of the two."""
    return {
        "model": "pair (shared arena)",
        "layers": big_row["layers"] + small_row["layers"],
        "buffers": big_row["buffers"] + small_row["buffers"],
        "sum_bytes": big_row["sum_bytes"] + small_row["sum_bytes"],  # no reuse at all, not even across models
        "greedy_bytes": max(big_row["greedy_bytes"], small_row["greedy_bytes"]),
        "ours_bytes": max(big_row["ours_bytes"], small_row["ours_bytes"]),
        "lower_bound": max(big_row["lower_bound"], small_row["lower_bound"]),
        "unfused_ours_bytes": max(big_row["unfused_ours_bytes"], small_row["unfused_ours_bytes"]),
        "ours_strategy": "max of the two",
    }


def random_instances(count, seed):
    """Seeded random lifetime sets (branchy graphs: long-lived skips, mixed sizes)."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        n = rng.randint(6, 14)
        buffers = []
        for j in range(n):
            first = rng.randint(0, 10)
            size = rng.choice([512, 1024, 1536, 2048, 4096, 6144, 8192, 12288, 16384])
            buffers.append(Buffer(f"b{j}", size, first, first + rng.choice([0, 1, 1, 2, 3, 5])))
        ours, greedy = plan_buffers(buffers, ALIGN), greedy_by_size(buffers, ALIGN)
        rows.append({"instance": i, "buffers": n, "sum": sum_of_buffers(buffers, ALIGN), "greedy": greedy.arena_bytes,
                     "ours": ours.arena_bytes, "lower_bound": lower_bound(buffers, ALIGN)})
    return rows


def pct(a, b):
    return f"{100.0 * a / b:.1f}" if b else "-"


def model_table(rows):
    headers = ["model", "layers", "sum B", "greedy B", "ours B", "lower bound B", "ours/greedy %", "ours/sum %",
               "no fusion (ours) B"]
    body = [[r["model"], r["layers"], r["sum_bytes"], r["greedy_bytes"], r["ours_bytes"], r["lower_bound"],
             pct(r["ours_bytes"], r["greedy_bytes"]), pct(r["ours_bytes"], r["sum_bytes"]), r["unfused_ours_bytes"]]
            for r in rows]
    return headers, body


def random_summary(rows):
    better = [r for r in rows if r["ours"] < r["greedy"]]
    worse = [r for r in rows if r["ours"] > r["greedy"]]
    at_bound = [r for r in rows if r["ours"] == r["lower_bound"]]
    saving = [1 - r["ours"] / r["greedy"] for r in rows]
    return {
        "instances": len(rows),
        "ours_better": len(better),
        "ours_worse": len(worse),
        "ours_at_lower_bound": len(at_bound),
        "greedy_at_lower_bound": sum(r["greedy"] == r["lower_bound"] for r in rows),
        "mean_saving_vs_greedy_pct": round(100 * sum(saving) / len(saving), 2),
        "max_saving_vs_greedy_pct": round(100 * max(saving), 2),
        "total_greedy_bytes": sum(r["greedy"] for r in rows),
        "total_ours_bytes": sum(r["ours"] for r in rows),
        "total_sum_bytes": sum(r["sum"] for r in rows),
    }


def markdown(tables, pair_note, summary, seconds):
    lines = [
        "# Memory benchmark: activation arena",
        "",
        "Generated by `python benchmarks/memory.py`; rerun to refresh. Bytes of the one activation arena",
        f"each planner needs for the same buffers (offsets aligned to {ALIGN} B): int8 activations",
        "after conv + max-pool fusion, the recentred input frame, the raw int32 outputs and per-core kernel scratch.",
        "",
        "- **ours**: `edgeadapt.codegen.planner.plan_buffers` (best of five orderings x lowest/best fit,",
        "  TFLite Micro's greedy among the candidates, a bounded branch-and-bound on top);",
        "- **greedy**: TFLite Micro's GreedyMemoryPlanner strategy (sort by size, lowest offset that fits);",
        "- **sum**: every buffer its own bytes (no reuse; for the pair, no sharing between the models);",
        "- **lower bound**: the largest total of buffers live at one step (no plan can do better);",
        "- **no fusion**: ours on the schedule where a conv feeding a max pool stores its full output.",
        "",
        f"Shipped pair: {pair_note}. Weights are irrelevant to the arena: float models are quantized with a",
        "plain min/max pass (`edgeadapt.codegen.quickquant`) just to obtain a quantized graph.",
        "",
    ]
    for cores, rows in tables.items():
        headers, body = model_table(rows)
        where = "STM32 / Cortex-M4 / host" if cores == 1 else f"GAP8 cluster: {cores} scratch slices"
        lines += [f"## Per model and the pair, {cores} core(s) ({where})", "",
                  "| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        for row in body:
            lines.append("| " + " | ".join(f"{v:,}" if isinstance(v, int) else str(v) for v in row) + " |")
        lines.append("")
    lines += [
        "On these CNNs the buffers form chains, so greedy is already at the lower bound (as is ours);",
        "fusion is what changes the figure (Frontnet 160x32: 153,600 B -> under 48 KiB).",
        "",
        "## Random lifetime sets (branchy graphs)",
        "",
        f"{summary['instances']} seeded instances of 6-14 buffers of 0.5-16 KiB with random lifetimes:",
        "",
        "| instances | ours better | ours worse | ours at bound | greedy at bound | mean saving vs greedy | max saving | total greedy B | total ours B | total sum B |",
        "|---|---|---|---|---|---|---|---|---|---|",
        f"| {summary['instances']} | {summary['ours_better']} | {summary['ours_worse']} | {summary['ours_at_lower_bound']} "
        f"| {summary['greedy_at_lower_bound']} | {summary['mean_saving_vs_greedy_pct']} % | {summary['max_saving_vs_greedy_pct']} % "
        f"| {summary['total_greedy_bytes']:,} | {summary['total_ours_bytes']:,} | {summary['total_sum_bytes']:,} |",
        "",
        f"Run time: {seconds:.1f} s.",
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--big", default="zoo:big", help="big model: .eaq, zoo:big, a checkpoint or a model name")
    parser.add_argument("--small", default="zoo:small", help="small model, as --big")
    parser.add_argument("--cores", default="1,8", help="core counts whose scratch slices are planned (8 = GAP8)")
    parser.add_argument("--random", type=int, default=200, help="random lifetime sets")
    parser.add_argument("--out", default=str(RESULTS), help="markdown results file")
    parser.add_argument("--json", default=None, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    from edgeadapt.models import registry

    started = time.time()
    models = [(name, *load_graph(name)) for name in registry.names()]
    try:
        big, big_name = load_graph(args.big)
        small, small_name = load_graph(args.small)
        pair_note = f"big = {big_name}, small = {small_name}"
    except EdgeadaptError as exc:
        # the zoo is not installed yet: the pair the zoo is sized for
        print(f"note: {exc}; using mobilenet-160x16 + frontnet-160x16", file=sys.stderr)
        (big, big_name), (small, small_name) = load_graph("mobilenet-160x16"), load_graph("frontnet-160x16")
        pair_note = f"zoo not installed, measured on big = {big_name}, small = {small_name}"
    tables = {}
    for cores in (int(c) for c in args.cores.split(",")):
        rows = [plan_row(name, graph, cores) for name, graph, _ in models]
        big_row, small_row = plan_row(f"big: {big_name}", big, cores), plan_row(f"small: {small_name}", small, cores)
        rows += [big_row, small_row, pair_row(big_row, small_row)]
        tables[cores] = rows
        print(f"{cores} core(s):")
        print(format_table(*model_table(rows)))
        print()
    summary = random_summary(random_instances(args.random, seed=1))
    seconds = time.time() - started
    print(format_table(list(summary), [list(summary.values())]))
    text = markdown(tables, pair_note, summary, seconds)
    from edgeadapt.textio import atomic_write_text

    atomic_write_text(args.out, text)
    if args.json:
        write_json(args.json, {"align": ALIGN, "tables": {str(c): r for c, r in tables.items()}, "random": summary,
                               "pair": pair_note})
    rows = [r for table in tables.values() for r in table]
    worse = [r["model"] for r in rows if r["ours_bytes"] > r["greedy_bytes"]]
    if worse or summary["ours_worse"]:
        print(f"ours is worse than greedy on: {worse or 'random sets'}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
