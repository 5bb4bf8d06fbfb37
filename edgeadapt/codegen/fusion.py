"""The layer schedule of a quantized graph: which IR nodes become one runtime layer.

Fusion rules (each saves RAM and none changes a bit, docs/fixed-point.md 4.3 and 4.7):
- a convolution whose only consumer is a max pool runs as one `conv_maxpool` layer, so the
  convolution's full output is never stored;
- `flatten` is no operation on HWC data: its output is another name for its input buffer.
Every other node is one layer. A node the runtime has no kernel for fails here, naming it.
"""

from dataclasses import dataclass, field

from edgeadapt.errors import EdgeadaptError

# IR op -> layer kind the runtime executes (flatten is aliased away, see above)
RUNTIME_OPS = {"conv", "fc", "maxpool", "avgpool", "gap", "add", "concat", "flatten", "lut", "resize"}
WEIGHT_BITS = (8, 4, 2)
ACTS = ("none", "relu", "relu6")


@dataclass
class Layer:
    index: int
    kind: str  # conv, conv_maxpool, fc, maxpool, avgpool, gap, add, concat
    nodes: list  # IR nodes executed by this layer (conv_maxpool: [conv, pool])
    inputs: list  # activation tensor names read (flatten aliases resolved)
    output: str  # activation tensor name written
    attrs: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return "+".join(n.name for n in self.nodes)

    @property
    def main(self):
        """The node holding the weights (the conv of a fused pair)."""
        return self.nodes[0]


def check_supported(graph) -> None:
    """Refuse a graph the runtime cannot run, naming the node and the problem."""
    where = graph.meta.get("path", graph.name)
    for node in graph.nodes:
        if node.op not in RUNTIME_OPS:
            raise EdgeadaptError(
                f"{where}: node '{node.name}' has op '{node.op}', which the runtime has no kernel for "
                f"(supported: {', '.join(sorted(RUNTIME_OPS))})"
            )
        act = node.attrs.get("act", "none")
        if act not in ACTS:
            raise EdgeadaptError(f"{where}: node '{node.name}' has activation '{act}', not one of {', '.join(ACTS)}")
        if node.op in ("conv", "fc"):
            if node.weight_bits not in WEIGHT_BITS:
                raise EdgeadaptError(f"{where}: node '{node.name}' has {node.weight_bits}-bit weights (runtime: 8, 4 or 2)")
            if node.qweight is None or node.qbias is None or node.weight_fl is None:
                raise EdgeadaptError(f"{where}: node '{node.name}' is not quantized (integer weights missing)")
        if node.op in ("avgpool", "maxpool", "conv") and "kernel" not in node.attrs:
            raise EdgeadaptError(f"{where}: node '{node.name}' lacks its kernel size")
        out = graph.tensors[node.output]
        if out.dtype == "int32" and not (node.op == "fc" and node.output in graph.outputs):
            raise EdgeadaptError(f"{where}: node '{node.name}': only a final fully-connected layer may output int32")
    if not graph.quantized:
        missing = [t.name for t in graph.tensors.values() if t.fl is None]
        raise EdgeadaptError(f"{where}: tensor '{missing[0]}' has no fixed-point format: quantize the model first")


def build_schedule(graph, fuse: bool = True) -> list:
    """The runtime layers of `graph`, in execution order."""
    check_supported(graph)
    alias = {}  # flatten output -> the buffer it names

    def real(name):
        while name in alias:
            name = alias[name]
        return name

    layers = []
    fused_pools = set()
    for node in graph.nodes:
        if node.name in fused_pools:
            continue
        if node.op == "flatten":
            alias[node.output] = real(node.inputs[0])
            continue
        inputs = [real(t) for t in node.inputs]
        pool = _fusable_pool(graph, node) if fuse else None
        if pool is not None:
            fused_pools.add(pool.name)
            layers.append(Layer(len(layers), "conv_maxpool", [node, pool], inputs, pool.output))
        else:
            layers.append(Layer(len(layers), node.op, [node], inputs, node.output))
    for out in graph.outputs:
        if real(out) != out and real(out) == graph.input:
            raise EdgeadaptError(f"{graph.name}: output '{out}' is the network input itself")
    return layers


def output_alias(graph, name: str) -> str:
    """The buffer a tensor name resolves to once flatten nodes are aliased away."""
    producers = {n.output: n for n in graph.nodes}
    while name in producers and producers[name].op == "flatten":
        name = producers[name].inputs[0]
    return name


def _fusable_pool(graph, node):
    if node.op != "conv" or node.output in graph.outputs or tuple(node.attrs.get("dilation", (1, 1))) != (1, 1):
        return None
    consumers = graph.consumers(node.output)
    if len(consumers) == 1 and consumers[0].op == "maxpool":
        return consumers[0]
    return None
