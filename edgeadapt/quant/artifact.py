"""The .eaq artifact: a quantized Graph on disk, versioned, self-describing and checked on load.

A .eaq file is a zip archive (docs/artifacts.md, "Quantized model (.eaq)"):
- `graph.json`: format "edgeadapt-eaq", version, the graph (tensors with their FL and type:
  int8, uint8 or int32; nodes with attrs and weight bits), a per-layer formats summary, the
  provenance (Graph.meta) and the quantizer's report;
- `arrays/<node>.<field>.npy`: float weight / bias and the integer qweight (int8 storage),
  weight_fl (int32) and qbias (int32) of every conv / fc node.
Zip CRCs catch corruption; the file is written atomically, so a crash never leaves half of one.

Version 2 added uint8 activation tensors (docs/fixed-point.md section 1.3). A version 1 file has
only int8 and int32 tensors, which mean the same in version 2, so it is still read as it is.
"""

import io
import json
import os
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from edgeadapt.errors import EdgeadaptError
from edgeadapt.ir.graph import Graph, Node, Tensor
from edgeadapt.quant import intops

FORMAT = "edgeadapt-eaq"
VERSION = 2
ZIP_COMMENT = f"{FORMAT} {VERSION}".encode()
TENSOR_DTYPES = {1: ("int8", "int32"), 2: ("int8", "uint8", "int32")}  # per format version
ARRAY_FIELDS = {  # Node field -> dtype stored
    "weight": np.float32, "bias": np.float32, "qweight": np.int8, "weight_fl": np.int32, "qbias": np.int32,
}
LAYOUT = {
    "value": "q * 2^-fl",
    "activations": "HWC, int8 or uint8 per tensor dtype (int32 for raw accumulator outputs, one FL per channel)",
    "conv_weight": "OHWI",
    "fc_weight": "[C_out][K], K in HWC flatten order",
    "accumulator_fl": "FL_in + weight_fl[c]",
}


# ----------------------------------------------------------------------------- validation


def check_bounds(graph, where=None) -> dict:
    """Check every quantized layer against docs/fixed-point.md (sections 1, 3, 4).

    Weight bits in {8, 4, 2}, weights in their bit range, |bias[c]| + X * sum|w[c]| < 2^30 (X = 128
    for an int8 input, 255 for uint8), requantization shifts in [-8, 30], pooling / add / concat
    format rules, activation types (int8 input, max pool and flatten keep their input's type, int32
    only for a raw fc output). Raises EdgeadaptError naming the node and value; returns
    {node name: worst accumulator bound} for conv/fc nodes.
    """
    where = where or graph.meta.get("path", graph.name)
    worst = {}
    t = graph.tensors
    for name, tensor in t.items():
        if tensor.dtype not in TENSOR_DTYPES[VERSION]:
            raise EdgeadaptError(f"{where}: tensor '{name}' has dtype {tensor.dtype!r} (allowed: int8, uint8, int32)")
    if graph.input in t and t[graph.input].dtype != "int8":
        raise EdgeadaptError(f"{where}: input tensor '{graph.input}' must be int8 (p - 128), not {t[graph.input].dtype}")
    for node in graph.nodes:
        def fail(msg, node=node):
            raise EdgeadaptError(f"{where}: node '{node.name}': {msg}")

        fls = [t[n].fl for n in node.inputs]
        fl_out = t[node.output].fl
        in_types = [t[n].dtype for n in node.inputs]
        if "int32" in in_types:
            fail("an int32 tensor (raw accumulators) cannot be the input of another node")
        if t[node.output].dtype == "int32" and not (node.op == "fc" and node.attrs.get("out_dtype") == "int32"):
            fail("only a raw-accumulator fc (out_dtype int32) may output an int32 tensor")
        if node.op in ("maxpool", "flatten", "resize") and in_types[0] != t[node.output].dtype:
            fail(f"{node.op} changes the type {in_types[0]} -> {t[node.output].dtype}")
        if node.has_weights and node.qweight is not None:
            worst[node.name] = _check_weighted(graph, node, fail, in_types[0] == "uint8")
        if node.attrs.get("out_dtype", "int8") == "int32" and node.act != "none":
            fail(f"a raw int32 output cannot have the activation '{node.act}' (section 4.2)")
        if any(fl is None for fl in fls) or fl_out is None:
            continue  # not quantized yet: nothing more to check
        if node.op == "conv" or (node.op == "fc" and node.attrs.get("out_dtype", "int8") == "int8"):
            shift = fls[0] + np.asarray(node.weight_fl, dtype=np.int64) - int(fl_out)
            _check_shift_range(shift, fail)
        elif node.op in ("avgpool", "gap"):
            s = intops.AVGPOOL_FRAC_BITS + fls[0] - fl_out
            if not 1 <= s <= 30:
                fail(f"average pool shift 16 + {fls[0]} - {fl_out} = {s} outside [1, 30]")
        elif node.op == "add":
            f = max(fls)
            if f - min(fls) > 16:
                fail(f"add input FLs {fls} differ by more than 16")
            _check_shift_range(np.array([f - fl_out]), fail)
        elif node.op == "concat":
            _check_shift_range(np.array(fls) - fl_out, fail)
        elif node.op in ("maxpool", "flatten", "resize") and fls[0] != fl_out:
            fail(f"{node.op} changes the format FL {fls[0]} -> {fl_out}")
        elif node.op == "lut":
            table = np.asarray(node.attrs.get("table", ()), dtype=np.int64)
            lo, hi = intops.act_range(t[node.output].dtype == "uint8")
            if table.shape != (256,) or table.min() < lo or table.max() > hi:
                fail(f"lookup table must hold 256 codes of the output type [{lo}, {hi}]")
    return worst


def _check_weighted(graph, node, fail, unsigned_input=False) -> int:
    if node.weight_bits not in intops.WEIGHT_RANGES:
        fail(f"weight bits {node.weight_bits} (allowed: 8, 4, 2)")
    lo, hi = intops.WEIGHT_RANGES[node.weight_bits]
    q = np.asarray(node.qweight, dtype=np.int64)
    c_out = q.shape[0]
    if node.weight is not None and q.shape != np.shape(node.weight):
        fail(f"qweight shape {q.shape} differs from weight shape {np.shape(node.weight)}")
    if q.size and (q.min() < lo or q.max() > hi):
        fail(f"weights {q.min()}..{q.max()} outside the {node.weight_bits}-bit range [{lo}, {hi}]")
    if node.weight_fl is None or np.shape(node.weight_fl) != (c_out,):
        fail(f"weight_fl must hold {c_out} per-channel FLs, got shape {np.shape(node.weight_fl)}")
    bias = np.zeros(c_out, np.int64) if node.qbias is None else np.asarray(node.qbias, dtype=np.int64)
    if bias.shape != (c_out,):
        fail(f"qbias must hold {c_out} values, got shape {bias.shape}")
    peak = intops.input_peak(unsigned_input)
    bound = np.abs(bias) + peak * np.abs(q.reshape(c_out, -1)).sum(axis=1)
    c = int(np.argmax(bound)) if c_out else 0
    if c_out and bound[c] >= intops.ACC_BOUND:
        fail(f"channel {c}: |bias| + {peak} * sum|w| = {int(bound[c])} breaks the accumulator bound 2^30")
    return int(bound.max(initial=0))


def _check_shift_range(shift, fail):
    s = np.asarray(shift)
    if s.size and (s.min() < intops.SHIFT_MIN or s.max() > intops.SHIFT_MAX):
        fail(f"requantization shift {int(s.min())}..{int(s.max())} outside [{intops.SHIFT_MIN}, {intops.SHIFT_MAX}]")


# ----------------------------------------------------------------------------- save


def save_eaq(graph, path, report=None) -> Path:
    """Write `graph` (float or quantized) as a .eaq file, atomically. Returns the path."""
    path = Path(path)
    check_bounds(graph, where=str(path))
    if report is None:
        report = graph.meta.get("report")
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "layout": LAYOUT,
        "name": graph.name,
        "input": graph.input,
        "outputs": list(graph.outputs),
        "tensors": [{"name": t.name, "shape": list(t.shape), "fl": _jsonable(t.fl), "dtype": t.dtype}
                    for t in graph.tensors.values()],
        "nodes": [],
        "formats": formats_summary(graph),
        "provenance": _jsonable({k: v for k, v in graph.meta.items() if k != "report"}),
        "report": _jsonable(report),
    }
    arrays = {}
    for node in graph.nodes:
        entry = {"name": node.name, "op": node.op, "inputs": list(node.inputs), "output": node.output,
                 "attrs": _jsonable(node.attrs), "weight_bits": int(node.weight_bits), "arrays": {}}
        for field, dtype in ARRAY_FIELDS.items():
            value = getattr(node, field)
            if value is not None:
                member = f"arrays/{node.name}.{field}.npy"
                arrays[member] = np.ascontiguousarray(value, dtype=dtype)
                entry["arrays"][field] = member
        doc["nodes"].append(entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                zf.comment = ZIP_COMMENT
                zf.writestr(_fixed_time_member("graph.json"), json.dumps(doc, indent=1))
                for member, value in arrays.items():
                    buf = io.BytesIO()
                    np.save(buf, value, allow_pickle=False)
                    zf.writestr(_fixed_time_member(member), buf.getvalue())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def formats_summary(graph) -> list:
    """Per node: op, weight bits, input/output FLs and per-channel weight FLs (for humans and tools)."""
    rows = []
    for node in graph.nodes:
        row = {"node": node.name, "op": node.op,
               "fl_in": [_jsonable(graph.tensors[n].fl) for n in node.inputs],
               "fl_out": _jsonable(graph.tensors[node.output].fl),
               "dtype_out": graph.tensors[node.output].dtype}
        if node.has_weights:
            row["weight_bits"] = int(node.weight_bits)
            row["weight_fl"] = _jsonable(node.weight_fl)
        rows.append(row)
    return rows


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


# ----------------------------------------------------------------------------- load


def _fixed_time_member(name):
    """A zip member stamped 1980-01-01, so the same graph always gives byte-identical files."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def load_eaq(path) -> Graph:
    """Read and check a .eaq file; any problem is one EdgeadaptError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise EdgeadaptError(f"{path}: no such .eaq file")
    with open(path, "rb") as f:
        head = f.read(4)
    if len(head) < 4:
        raise EdgeadaptError(f"{path}: truncated .eaq file ({len(head)} bytes)")
    if head != b"PK\x03\x04":
        raise EdgeadaptError(f"{path}: not an .eaq file (bad magic {head!r})")
    try:
        with zipfile.ZipFile(path) as zf:
            if zf.comment and zf.comment != ZIP_COMMENT and ZIP_COMMENT.startswith(zf.comment):
                # the archive ends with this comment: a shorter one means lost trailing bytes
                raise EdgeadaptError(f"{path}: truncated .eaq file (archive comment cut short)")
            bad = zf.testzip()
            if bad is not None:
                raise EdgeadaptError(f"{path}: corrupt .eaq file (CRC mismatch in {bad})")
            doc = _read_doc(zf, path)
            return _build_graph(zf, doc, path)
    except zipfile.BadZipFile as exc:
        raise EdgeadaptError(f"{path}: truncated or corrupt .eaq file ({exc})") from None
    except (zlib.error, EOFError, OSError) as exc:
        raise EdgeadaptError(f"{path}: corrupt .eaq file ({type(exc).__name__}: {exc})") from None


def _read_doc(zf, path) -> dict:
    if "graph.json" not in zf.namelist():
        raise EdgeadaptError(f"{path}: not an .eaq file (no graph.json)")
    try:
        doc = json.loads(zf.read("graph.json"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise EdgeadaptError(f"{path}: corrupt graph.json ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        fmt = doc.get("format") if isinstance(doc, dict) else None
        raise EdgeadaptError(f"{path}: not an .eaq file (format {fmt!r}, expected {FORMAT!r})")
    version = doc.get("version")
    if not isinstance(version, int) or version < 1:
        raise EdgeadaptError(f"{path}: invalid .eaq version {version!r}")
    if version > VERSION:
        raise EdgeadaptError(
            f"{path}: .eaq format version {version} is newer than this edgeadapt reads ({VERSION}); upgrade edgeadapt"
        )
    return doc


def _build_graph(zf, doc, path) -> Graph:
    allowed = TENSOR_DTYPES[doc["version"]]
    try:
        tensors = {}
        for t in doc["tensors"]:
            fl = t["fl"]
            dtype = t.get("dtype", "int8")
            if dtype not in allowed:
                raise EdgeadaptError(
                    f"{path}: tensor '{t['name']}' has dtype {dtype!r}, not allowed in .eaq version "
                    f"{doc['version']} (allowed: {', '.join(allowed)})"
                )
            tensors[t["name"]] = Tensor(t["name"], tuple(t["shape"]), fl, dtype)
        nodes = []
        for n in doc["nodes"]:
            node = Node(n["name"], n["op"], list(n["inputs"]), n["output"], _attrs_from_json(n["attrs"]),
                        weight_bits=int(n.get("weight_bits", 8)))
            for field, member in n.get("arrays", {}).items():
                if field not in ARRAY_FIELDS:
                    raise EdgeadaptError(f"{path}: node '{node.name}': unknown array field '{field}'")
                setattr(node, field, _read_array(zf, member, ARRAY_FIELDS[field], path))
            nodes.append(node)
        meta = dict(doc.get("provenance") or {})
        if doc.get("report") is not None:
            meta["report"] = doc["report"]
        meta["path"] = str(path)
        graph = Graph(doc["name"], doc["input"], list(doc["outputs"]), tensors, nodes, meta)
    except (KeyError, TypeError, ValueError) as exc:
        raise EdgeadaptError(f"{path}: malformed graph.json ({type(exc).__name__}: {exc})") from None
    _check_structure(graph, path)
    check_bounds(graph, where=str(path))
    return graph


def _read_array(zf, member, dtype, path):
    try:
        data = zf.read(member)
    except KeyError:
        raise EdgeadaptError(f"{path}: missing array {member}") from None
    try:
        value = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:
        raise EdgeadaptError(f"{path}: unreadable array {member} ({exc})") from None
    if value.dtype != dtype:
        raise EdgeadaptError(f"{path}: array {member} has dtype {value.dtype}, expected {np.dtype(dtype)}")
    return value


def _attrs_from_json(attrs) -> dict:
    """JSON lists back to the tuples the importer writes (kernel, stride, pads)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in attrs.items()}


def _check_structure(graph, path):
    known = set(graph.tensors)
    if graph.input not in known:
        raise EdgeadaptError(f"{path}: input tensor '{graph.input}' is not defined")
    for node in graph.nodes:
        for name in node.inputs + [node.output]:
            if name not in known:
                raise EdgeadaptError(f"{path}: node '{node.name}' refers to unknown tensor '{name}'")
    for name in graph.outputs:
        if name not in known:
            raise EdgeadaptError(f"{path}: output tensor '{name}' is not defined")
