"""The TFLite flatbuffer schema: the generated object API that ai-edge-litert ships.

We never hand-roll the binary format: models are built as schema objects (ModelT, TensorT, ...)
and packed with the flatbuffers builder; files are read back with the same generated classes.
"""

from edgeadapt.errors import EdgeadaptError

FILE_IDENTIFIER = b"TFL3"


def schema():
    """The generated schema module (tflite namespace) of ai-edge-litert."""
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError:
        raise EdgeadaptError("TFLite support needs the ai-edge-litert package (pip install ai-edge-litert)") from None
    return schema_py_generated


def pack(model) -> bytes:
    """A ModelT as .tflite bytes."""
    import flatbuffers

    builder = flatbuffers.Builder(1 << 16)
    builder.Finish(model.Pack(builder), file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())


def unpack(data: bytes, where: str = "model"):
    """A ModelT from .tflite bytes, or a one-line error for anything that is not a TFLite model."""
    fb = schema()
    if len(data) < 8 or data[4:8] != FILE_IDENTIFIER:
        raise EdgeadaptError(f"{where}: not a TFLite flatbuffer (no TFL3 identifier)")
    try:
        model = fb.ModelT.InitFromObj(fb.Model.GetRootAs(data, 0))
    except Exception as exc:  # a truncated or damaged buffer fails anywhere inside the generated code
        raise EdgeadaptError(f"{where}: damaged or truncated TFLite flatbuffer ({type(exc).__name__})") from None
    for buf in model.buffers or []:  # a cut file can still parse up to offsets that point past its end
        if buf.offset and buf.offset + buf.size > len(data):
            raise EdgeadaptError(f"{where}: truncated TFLite flatbuffer (a buffer ends past the file)")
    return model


def op_names() -> dict:
    """builtin code -> name (CONV_2D, ...)."""
    fb = schema()
    return {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}


def type_names() -> dict:
    fb = schema()
    return {v: k for k, v in vars(fb.TensorType).items() if not k.startswith("_")}
