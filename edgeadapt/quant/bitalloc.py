"""Per-layer weight bit widths by integer programming (CalibTIP's IP, solved with HiGHS).

Each layer l gets exactly one width b from its options. The loss increase of a choice is measured
alone (only layer l drops to b, every other layer stays at 8 bits) and assumed additive, so

    minimize   sum_l,b  x[l,b] * dloss[l][b]
    subject to sum_b x[l,b] = 1                         for every layer
               sum_l,b x[l,b] * bytes[l][b] <= flash budget
               sum_l,b x[l,b] * cycles[l][b] <= cycle budget   (optional)
               x binary.
"""

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from edgeadapt.errors import EdgeadaptError


def _variables(options):
    return [(name, bits) for name, widths in options.items() for bits in sorted(widths, reverse=True)]


def allocate_bits(options, dloss, nbytes, flash_budget, cycles=None, cycle_budget=None):
    """Solve the MILP. options: name -> allowed widths; dloss, nbytes, cycles: name -> {bits: value}.

    Returns name -> bits. Raises EdgeadaptError, naming the smallest achievable size, when the
    budgets cannot be met.
    """
    variables = _variables(options)
    names = list(options)
    n = len(variables)
    cost = np.array([max(float(dloss[name][bits]), 0.0) for name, bits in variables])
    one_hot = np.zeros((len(names), n))
    for j, (name, _) in enumerate(variables):
        one_hot[names.index(name), j] = 1.0
    size_row = np.array([[float(nbytes[name][bits]) for name, bits in variables]])
    constraints = [LinearConstraint(one_hot, 1, 1), LinearConstraint(size_row, -np.inf, float(flash_budget))]
    if cycle_budget is not None:
        cycle_row = np.array([[float(cycles[name][bits]) for name, bits in variables]])
        constraints.append(LinearConstraint(cycle_row, -np.inf, float(cycle_budget)))
    # a tiny size term breaks ties between equal-loss solutions toward fewer bytes, deterministically
    tie = size_row[0] / max(size_row.sum(), 1.0) * 1e-9 * max(cost.max(initial=0.0), 1e-12)
    result = milp(cost + tie, constraints=constraints, integrality=np.ones(n), bounds=Bounds(0, 1))
    if result.status != 0 or result.x is None:
        raise EdgeadaptError(_infeasible_message(options, nbytes, flash_budget, cycles, cycle_budget))
    chosen = {}
    for j, (name, bits) in enumerate(variables):
        if result.x[j] > 0.5:
            chosen[name] = bits
    return chosen


def smallest_size(options, nbytes, cycles=None, cycle_budget=None):
    """The fewest weight bytes any allocation reaches (under the cycle budget, if given); None if none."""
    if cycle_budget is None:
        return sum(min(nbytes[name][b] for b in widths) for name, widths in options.items())
    variables = _variables(options)
    names = list(options)
    one_hot = np.zeros((len(names), len(variables)))
    for j, (name, _) in enumerate(variables):
        one_hot[names.index(name), j] = 1.0
    size = np.array([float(nbytes[name][bits]) for name, bits in variables])
    cycle_row = np.array([[float(cycles[name][bits]) for name, bits in variables]])
    result = milp(
        size,
        constraints=[LinearConstraint(one_hot, 1, 1), LinearConstraint(cycle_row, -np.inf, float(cycle_budget))],
        integrality=np.ones(len(variables)),
        bounds=Bounds(0, 1),
    )
    return None if result.x is None else int(round(result.fun))


def _infeasible_message(options, nbytes, flash_budget, cycles, cycle_budget):
    smallest = smallest_size(options, nbytes, cycles, cycle_budget)
    if smallest is None:
        fastest = sum(min(cycles[name][b] for b in widths) for name, widths in options.items())
        return (
            f"latency budget {cycle_budget:.0f} cycles cannot be met: the fastest allocation needs "
            f"{fastest:.0f} cycles"
        )
    where = "" if cycle_budget is None else f" within {cycle_budget:.0f} cycles"
    return (
        f"flash budget {int(flash_budget)} B cannot be met: the smallest achievable weight size{where} "
        f"is {smallest} B ({smallest / 1024:.1f} KiB)"
    )


def greedy_allocation(options, dloss, nbytes, flash_budget):
    """The obvious baseline: repeatedly take the cheapest loss per byte saved until the budget fits.

    Used by the tests to show what the MILP buys; returns name -> bits or None if it cannot fit.
    """
    chosen = {name: max(widths) for name, widths in options.items()}
    total = sum(nbytes[name][bits] for name, bits in chosen.items())
    while total > flash_budget:
        best = None
        for name, widths in options.items():
            for bits in widths:
                if bits >= chosen[name]:
                    continue
                saved = nbytes[name][chosen[name]] - nbytes[name][bits]
                extra = dloss[name][bits] - dloss[name][chosen[name]]
                if saved > 0 and (best is None or extra / saved < best[0]):
                    best = (extra / saved, name, bits)
        if best is None:
            return None
        _, name, bits = best
        total -= nbytes[name][chosen[name]] - nbytes[name][bits]
        chosen[name] = bits
    return chosen


def allocation_loss(chosen, dloss):
    return float(sum(dloss[name][bits] for name, bits in chosen.items()))


def allocation_bytes(chosen, nbytes):
    return int(sum(nbytes[name][bits] for name, bits in chosen.items()))
