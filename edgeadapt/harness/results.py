"""results.jsonl: the run's record, one JSON object per line, appended and synced frame by frame.

Line 1 is the run header ({"kind": "run", ...}: what was run, on what, with which policy); then
an optional {"kind": "calibration"} line; then one {"kind": "frame"} line per finished frame, in
order. Each line is flushed and fsync'ed before the next frame starts, so a crash, Ctrl-C or a
killed emulator loses at most the frame in flight. A resumed run checks that its header describes
the same run, drops a torn last line, and continues after the last complete frame.
"""

import json
import os
from pathlib import Path

from edgeadapt.errors import EdgeadaptError
from edgeadapt.textio import atomic_write_text

FORMAT = "edgeadapt-hil-results"
VERSION = 1
# header keys that must agree for --resume to continue a run (the rest is informative)
IDENTITY = ("target", "models", "frames", "frames_sha256", "policy_int", "operating_point", "frame_period_s")


class ResultsLog:
    def __init__(self, path):
        self.path = Path(path)
        self.header = None
        self.calibration = None
        self.frames = []
        self._file = None

    # ------------------------------------------------------------------ reading

    @classmethod
    def read(cls, path) -> "ResultsLog":
        """Parse an existing log (a torn last line is ignored; anything else malformed is an error)."""
        log = cls(path)
        try:
            text = log.path.read_text()
        except OSError as exc:
            raise EdgeadaptError(f"{path}: cannot read ({exc.strerror})") from None
        complete = text.split("\n")[:-1]  # after the last newline: nothing, or a line torn mid-write
        for n, line in enumerate(complete, 1):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                raise EdgeadaptError(f"{path}:{n}: not a JSON line") from None
            log._take(obj, n)
        if log.header is None:
            raise EdgeadaptError(f"{path}: no run header (not a results.jsonl of `edgeadapt hil run`)")
        return log

    def _take(self, obj, n):
        kind = obj.get("kind") if isinstance(obj, dict) else None
        if n == 1:
            if kind != "run" or obj.get("format") != FORMAT:
                raise EdgeadaptError(f"{self.path}:1: not a results.jsonl of `edgeadapt hil run`")
            if obj.get("version", 0) > VERSION:
                raise EdgeadaptError(f"{self.path}: format version {obj['version']} is newer than this edgeadapt")
            self.header = obj
        elif kind == "calibration":
            self.calibration = obj
        elif kind == "frame":
            if obj.get("frame") != len(self.frames):
                raise EdgeadaptError(f"{self.path}:{n}: frame {obj.get('frame')} where {len(self.frames)} was due")
            self.frames.append(obj)
        else:
            raise EdgeadaptError(f"{self.path}:{n}: unknown record kind {kind!r}")

    # ------------------------------------------------------------------ writing

    @classmethod
    def create(cls, path, header: dict) -> "ResultsLog":
        log = cls(path)
        log.header = {"kind": "run", "format": FORMAT, "version": VERSION, **header}
        atomic_write_text(log.path, json.dumps(log.header) + "\n")
        return log

    @classmethod
    def resume(cls, path, header: dict) -> "ResultsLog":
        """Continue an existing log whose header matches; rewrite it without a torn last line."""
        log = cls.read(path)
        for key in IDENTITY:
            if log.header.get(key) != header.get(key):
                raise EdgeadaptError(f"{path}: cannot resume: this run's {key} differs from the recorded one "
                                     f"({_short(header.get(key))} vs {_short(log.header.get(key))})")
        lines = [log.header] + ([log.calibration] if log.calibration else []) + log.frames
        expected = "".join(json.dumps(obj) + "\n" for obj in lines)
        if log.path.read_text() != expected:
            atomic_write_text(log.path, expected)  # drops the torn line (and normalizes the rest)
        return log

    def append(self, obj: dict) -> None:
        if self._file is None:
            self._file = open(self.path, "a")
        self._file.write(json.dumps(obj) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        if obj.get("kind") == "frame":
            self.frames.append(obj)
        elif obj.get("kind") == "calibration":
            self.calibration = obj

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
