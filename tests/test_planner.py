"""The static memory planner: exact on small cases, never worse than greedy-by-size, never unsafe."""

import itertools
import random

import pytest

from edgeadapt.codegen.planner import (
    Buffer,
    Plan,
    greedy_by_size,
    lower_bound,
    place_in_order,
    plan_buffers,
    sum_of_buffers,
    verify_plan,
)
from edgeadapt.errors import EdgeadaptError


def brute_force(buffers, align):
    """The optimum: lowest-fit over every order (an optimal packing is lowest-fit in its offset order)."""
    return min(place_in_order(order, align)[1] for order in itertools.permutations(buffers))


def random_buffers(rng, n):
    out = []
    for i in range(n):
        first = rng.randint(0, 6)
        out.append(Buffer(f"b{i}", rng.choice([1, 3, 8, 16, 24, 40, 64, 100]), first, first + rng.randint(0, 4)))
    return out


def test_matches_brute_force_and_beats_or_ties_greedy_on_random_lifetimes():
    rng = random.Random(7)
    for _ in range(120):
        buffers = random_buffers(rng, rng.randint(2, 6))
        ours = plan_buffers(buffers, 4)
        greedy = greedy_by_size(buffers, 4)
        best = brute_force(buffers, 4)
        verify_plan(ours, 4)
        verify_plan(greedy, 4)
        assert ours.arena_bytes == best
        assert ours.arena_bytes <= greedy.arena_bytes
        assert lower_bound(buffers, 4) <= best <= sum_of_buffers(buffers, 4)


def test_constructed_case_where_greedy_by_size_wastes_memory():
    # greedy (biggest first, ties in order) puts A at 0, B at 20, D back at 0, and then the
    # long-lived C collides with both B and D: 50 B. C at 0 with A, D stacked above it: 40 B.
    buffers = [
        Buffer("A", 20, 1, 1),
        Buffer("B", 20, 1, 2),
        Buffer("C", 10, 2, 4),
        Buffer("D", 20, 3, 3),
    ]
    greedy = greedy_by_size(buffers, 1)
    ours = plan_buffers(buffers, 1)
    assert greedy.arena_bytes == 50
    assert ours.arena_bytes == brute_force(buffers, 1) == 40
    verify_plan(ours, 1)


def test_chain_reaches_the_lower_bound_and_reuses_memory():
    # a plain CNN chain: each buffer lives while it is produced and consumed
    sizes = [15360, 30720, 7680, 7680, 3840, 3840, 1920, 1920, 16]
    buffers = [Buffer(f"t{i}", s, i, i + 1) for i, s in enumerate(sizes)]
    plan = plan_buffers(buffers, 8)
    assert plan.arena_bytes == lower_bound(buffers, 8) == 15360 + 30720
    assert plan.offsets["t2"] != plan.offsets["t1"]  # live together at step 2
    verify_plan(plan, 8)


def test_offsets_are_aligned_and_sizes_rounded():
    buffers = [Buffer("a", 5, 0, 1), Buffer("b", 3, 1, 2), Buffer("c", 7, 0, 2)]
    plan = plan_buffers(buffers, 8)
    assert all(off % 8 == 0 for off in plan.offsets.values())
    assert plan.arena_bytes == 24  # three 8-byte slots, all live at step 1
    verify_plan(plan, 8)


def test_verify_plan_rejects_overlapping_live_buffers():
    buffers = [Buffer("a", 16, 0, 1), Buffer("b", 16, 1, 2)]
    with pytest.raises(AssertionError, match="overlap"):
        verify_plan(Plan({"a": 0, "b": 8}, 32, "bad", buffers))
    verify_plan(Plan({"a": 0, "b": 16}, 32, "ok", buffers))
    verify_plan(Plan({"a": 0, "b": 0}, 16, "ok", [Buffer("a", 16, 0, 0), Buffer("b", 16, 1, 1)]))


def test_bad_buffers_are_refused():
    with pytest.raises(EdgeadaptError, match="'x'"):
        plan_buffers([Buffer("x", 4, 3, 1)])
    with pytest.raises(EdgeadaptError, match="planned twice"):
        plan_buffers([Buffer("x", 4, 0, 1), Buffer("x", 4, 2, 3)])


@pytest.mark.slow
def test_memory_benchmark_never_worse_than_greedy(tmp_path):
    """benchmarks/memory.py on every registered model, the pair and random sets: exit 0 means
    ours <= greedy everywhere; the pair's shared arena fits the 96 KiB budget."""
    import importlib.util
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "memory.py"
    spec = importlib.util.spec_from_file_location("memory_benchmark", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    code = bench.main(["--big", "mobilenet-160x16", "--small", "frontnet-160x16", "--random", "40",
                       "--out", str(tmp_path / "memory.md"), "--json", str(tmp_path / "memory.json")])
    assert code == 0
    result = json.loads((tmp_path / "memory.json").read_text())
    for rows in result["tables"].values():
        pair = rows[-1]
        assert pair["model"] == "pair (shared arena)" and pair["ours_bytes"] <= 96 * 1024
        assert all(r["ours_bytes"] <= r["greedy_bytes"] <= r["sum_bytes"] for r in rows)
    assert "| frontnet-160x32 |" in (tmp_path / "memory.md").read_text()
