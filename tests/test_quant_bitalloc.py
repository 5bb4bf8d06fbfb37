"""The MILP bit allocator, its budget errors, and the size/cycle parsers."""

import pytest

from edgeadapt.errors import EdgeadaptError
from edgeadapt.quant import bitalloc
from edgeadapt.quant.budget import parse_cycles, parse_size

# A knapsack trap for the greedy allocator: A has the best loss per byte but saves too little,
# so greedy takes A and then still needs B; the optimum is B alone.
OPTIONS = {"A": (8, 4), "B": (8, 4), "C": (8,)}
DLOSS = {"A": {8: 0.0, 4: 5.0}, "B": {8: 0.0, 4: 10.0}, "C": {8: 0.0}}
NBYTES = {"A": {8: 120, 4: 60}, "B": {8: 200, 4: 100}, "C": {8: 50}}


def test_milp_respects_the_budget_and_beats_greedy():
    budget = 270  # all-8-bit is 370: 100 bytes must go
    milp = bitalloc.allocate_bits(OPTIONS, DLOSS, NBYTES, budget)
    greedy = bitalloc.greedy_allocation(OPTIONS, DLOSS, NBYTES, budget)
    assert bitalloc.allocation_bytes(milp, NBYTES) <= budget
    assert bitalloc.allocation_bytes(greedy, NBYTES) <= budget
    assert milp == {"A": 8, "B": 4, "C": 8}
    assert greedy == {"A": 4, "B": 4, "C": 8}
    assert bitalloc.allocation_loss(milp, DLOSS) == 10.0 < bitalloc.allocation_loss(greedy, DLOSS) == 15.0


def test_generous_budget_keeps_everything_at_8_bits():
    assert bitalloc.allocate_bits(OPTIONS, DLOSS, NBYTES, 10_000) == {"A": 8, "B": 8, "C": 8}


def test_infeasible_budget_names_the_smallest_achievable_size():
    with pytest.raises(EdgeadaptError, match=r"flash budget 100 B cannot be met: the smallest achievable weight size is 210 B"):
        bitalloc.allocate_bits(OPTIONS, DLOSS, NBYTES, 100)


def test_cycle_budget_is_a_second_constraint():
    # 4-bit kernels are slower here: a tight cycle budget forbids the 4-bit B
    cycles = {"A": {8: 10, 4: 12}, "B": {8: 10, 4: 30}, "C": {8: 10}}
    chosen = bitalloc.allocate_bits(OPTIONS, DLOSS, NBYTES, 10_000, cycles, cycle_budget=35)
    assert chosen == {"A": 8, "B": 8, "C": 8}
    with pytest.raises(EdgeadaptError, match=r"smallest achievable weight size within 35 cycles is 310 B"):
        bitalloc.allocate_bits(OPTIONS, DLOSS, NBYTES, 270, cycles, cycle_budget=35)
    with pytest.raises(EdgeadaptError, match=r"latency budget 20 cycles cannot be met: the fastest allocation needs 30 cycles"):
        bitalloc.allocate_bits(OPTIONS, DLOSS, NBYTES, 10_000, cycles, cycle_budget=20)


@pytest.mark.parametrize(
    "text, expected",
    [("200KiB", 204800), ("200K", 204800), ("150000", 150000), ("1.5MiB", 1572864), ("64kB", 64000), ("12 B", 12)],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


def test_parse_size_percentage_of_the_int8_size():
    assert parse_size("50%", reference_bytes=1000) == 500
    with pytest.raises(EdgeadaptError, match="reference"):
        parse_size("50%")


@pytest.mark.parametrize("text", ["lots", "200 parsecs", "-5KiB", "0", "KiB", "150%"])
def test_bad_sizes_are_one_line_errors(text):
    with pytest.raises(EdgeadaptError, match=r"bad size"):
        parse_size(text, reference_bytes=1000)


def test_parse_cycles():
    assert parse_cycles("2.5M") == 2.5e6
    assert parse_cycles("1e5") == 1e5
    with pytest.raises(EdgeadaptError, match="bad cycle budget"):
        parse_cycles("fast")
