"""The one exception type the CLI turns into a one-line error message."""


class EdgeadaptError(Exception):
    """A user-facing problem (bad file, unknown name, budget that cannot be met...).

    The message must name the problem in one line: the file, node, byte or value at fault.
    """
