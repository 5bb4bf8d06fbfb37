"""Static memory planning: offsets of buffers with known lifetimes inside one arena.

A buffer is live over an inclusive range of schedule steps; two buffers may share bytes only if
their lifetimes do not overlap. Finding the smallest arena is NP-hard (dynamic storage
allocation), so `plan_buffers` tries several orderings and two placement rules, adds TFLite
Micro's greedy-by-size result as one of the candidates (so it is never worse than greedy), runs a
bounded branch-and-bound search on top, and stops early when the lower bound (the largest sum of
simultaneously live sizes) is reached.
"""

from dataclasses import dataclass, field

from edgeadapt.errors import EdgeadaptError


@dataclass(frozen=True)
class Buffer:
    name: str
    size: int  # bytes
    first: int  # first schedule step where it is live (inclusive)
    last: int  # last schedule step where it is live (inclusive)

    def overlaps(self, other: "Buffer") -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass
class Plan:
    offsets: dict  # buffer name -> byte offset
    arena_bytes: int
    strategy: str
    buffers: list = field(default_factory=list)

    def offset(self, name: str) -> int:
        return self.offsets[name]


def align_up(n: int, align: int) -> int:
    return (n + align - 1) // align * align


def lower_bound(buffers, align: int = 1) -> int:
    """No plan can beat the largest total (aligned) size live at one step."""
    steps = {s for b in buffers for s in (b.first, b.last)}
    best = 0
    for step in steps:
        live = sum(align_up(b.size, align) for b in buffers if b.first <= step <= b.last)
        best = max(best, live)
    return best


def sum_of_buffers(buffers, align: int = 1) -> int:
    """The naive arena: every buffer gets its own bytes."""
    return sum(align_up(b.size, align) for b in buffers)


def _check(buffers):
    names = set()
    for b in buffers:
        if b.size < 0 or b.first > b.last:
            raise EdgeadaptError(f"buffer '{b.name}': bad size {b.size} or lifetime [{b.first}, {b.last}]")
        if b.name in names:
            raise EdgeadaptError(f"buffer '{b.name}' is planned twice")
        names.add(b.name)


def _lowest_fit(buf, placed, align):
    """Lowest aligned offset where buf does not collide with placed buffers live at the same time."""
    conflicts = sorted((off, b.size) for b, off in placed if b.overlaps(buf) and b.size > 0)
    candidate = 0
    for off, size in conflicts:
        if candidate + buf.size <= off:
            break
        candidate = max(candidate, align_up(off + size, align))
    return candidate


def _best_fit(buf, placed, align):
    """The smallest free gap (among live conflicts) that holds buf; above everything if none."""
    conflicts = sorted((off, b.size) for b, off in placed if b.overlaps(buf) and b.size > 0)
    best_off, best_gap = None, None
    candidate = 0
    for off, size in conflicts:
        gap = off - candidate
        if gap >= buf.size and (best_gap is None or gap < best_gap):
            best_off, best_gap = candidate, gap
        candidate = max(candidate, align_up(off + size, align))
    return best_off if best_off is not None else candidate


def place_in_order(buffers, align: int = 4, rule=_lowest_fit):
    """Place buffers one by one in the given order; returns (offsets, arena bytes)."""
    placed = []
    offsets = {}
    top = 0
    for b in buffers:
        off = rule(b, placed, align) if b.size > 0 else 0
        placed.append((b, off))
        offsets[b.name] = off
        top = max(top, off + b.size)
    return offsets, align_up(top, align)


def greedy_by_size(buffers, align: int = 4) -> Plan:
    """TFLite Micro's GreedyMemoryPlanner: biggest first, each at the lowest offset that fits."""
    _check(buffers)
    order = sorted(buffers, key=lambda b: -b.size)  # stable: ties keep schedule order
    offsets, arena = place_in_order(order, align)
    return Plan(offsets, arena, "greedy-by-size", list(buffers))


# orderings tried by plan_buffers: name -> sort key
_ORDERS = {
    "size": lambda b: (-b.size, b.first),
    "start": lambda b: (b.first, -b.size),
    "area": lambda b: (-b.size * (b.last - b.first + 1), b.first),
    "duration": lambda b: (-(b.last - b.first), -b.size),
    "end": lambda b: (-b.last, -b.size),
}
_RULES = {"lowest": _lowest_fit, "best": _best_fit}


def plan_buffers(buffers, align: int = 4, search_nodes: int = 20000) -> Plan:
    """Our planner: best of several heuristics and a bounded exact search; never worse than greedy."""
    buffers = list(buffers)
    _check(buffers)
    bound = lower_bound(buffers, align)
    best = greedy_by_size(buffers, align)
    for order_name, key in _ORDERS.items():
        for rule_name, rule in _RULES.items():
            if best.arena_bytes <= bound:
                break
            offsets, arena = place_in_order(sorted(buffers, key=key), align, rule)
            if arena < best.arena_bytes:
                best = Plan(offsets, arena, f"{order_name}/{rule_name}-fit", buffers)
    if best.arena_bytes > bound and search_nodes > 0:
        found = _branch_and_bound(buffers, align, best.arena_bytes, bound, search_nodes)
        if found is not None:
            best = Plan(found[0], found[1], "branch-and-bound", buffers)
    verify_plan(best, align)
    return best


def _branch_and_bound(buffers, align, incumbent, bound, budget):
    """Depth-first over placement orders (lowest fit), pruning branches already >= the incumbent.

    Any optimal packing is reproduced by lowest-fit in the order of its offsets, so an exhausted
    search is exact; the node budget keeps big graphs fast (the result is then only improved).
    """
    order = sorted(buffers, key=_ORDERS["size"])
    best = [None, incumbent]
    nodes = [0]

    def dfs(placed, remaining, top):
        if nodes[0] >= budget or best[1] <= bound:
            return
        if not remaining:
            arena = align_up(top, align)
            if arena < best[1]:
                best[0] = {b.name: off for b, off in placed}
                best[1] = arena
            return
        tried_shapes = set()
        for i, b in enumerate(remaining):
            shape = (b.size, b.first, b.last)
            if shape in tried_shapes:  # identical buffers: one order is enough
                continue
            tried_shapes.add(shape)
            nodes[0] += 1
            off = _lowest_fit(b, placed, align) if b.size > 0 else 0
            new_top = max(top, off + b.size)
            if align_up(new_top, align) >= best[1]:
                continue
            dfs(placed + [(b, off)], remaining[:i] + remaining[i + 1 :], new_top)

    dfs([], order, 0)
    return None if best[0] is None else (best[0], best[1])


def verify_plan(plan: Plan, align: int = 1) -> None:
    """Raise if two simultaneously live buffers share a byte or a buffer leaves the arena."""
    items = [(b, plan.offsets[b.name]) for b in plan.buffers]
    for i, (a, off_a) in enumerate(items):
        if off_a % align or off_a < 0 or off_a + a.size > plan.arena_bytes:
            raise AssertionError(f"buffer '{a.name}' at {off_a} (+{a.size}) breaks the arena of {plan.arena_bytes}")
        for b, off_b in items[i + 1 :]:
            if a.overlaps(b) and a.size and b.size and off_a < off_b + b.size and off_b < off_a + a.size:
                raise AssertionError(f"buffers '{a.name}' and '{b.name}' are live together and overlap")
