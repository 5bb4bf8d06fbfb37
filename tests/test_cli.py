"""The command line's common behaviour: --quiet/--verbose, `--json -`, frame picking, one-line errors."""

import json
import subprocess
import sys

import numpy as np
import pytest

from edgeadapt.data.frames import Frames


def edgeadapt(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "edgeadapt", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def frames_with(sequence_lengths):
    seq = np.concatenate([np.full(n, i, dtype=np.int32) for i, n in enumerate(sequence_lengths)])
    n = len(seq)
    return Frames(np.zeros((n, 2, 2), np.uint8), np.zeros((n, 4), np.float32), seq, seq.copy())


def test_pick_first_frames_or_spread_over_sequences():
    frames = frames_with([10, 10, 10, 10, 10])
    first, desc = frames.pick(12)
    assert first.tolist() == list(range(12)) and desc == "first 12 frames"
    spread, desc = frames.pick(12, sequences=3)
    # sequences 0, 2 and 4 (evenly spaced), the first 4 frames of each, in order
    assert spread.tolist() == [0, 1, 2, 3, 20, 21, 22, 23, 40, 41, 42, 43]
    assert desc == "12 frames from 3 sequences"
    assert len(np.unique(frames.sequence[spread])) == 3
    everything, _ = frames.pick(None, sequences=99)  # more sequences than there are: all of them
    assert len(np.unique(frames.sequence[everything])) == 5


def test_json_dash_writes_clean_json_on_stdout_and_the_table_on_stderr():
    r = edgeadapt("models", "--json", "-")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert any(entry["name"] == "frontnet-160x32" for entry in doc)
    assert "frontnet-160x32" in r.stderr and "params" in r.stderr  # the human table, moved aside


def test_quiet_prints_nothing_and_verbose_is_accepted():
    quiet = edgeadapt("--quiet", "models")
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""
    loud = edgeadapt("--verbose", "models")
    assert loud.returncode == 0 and "frontnet-160x32" in loud.stdout
    both = edgeadapt("-q", "-v", "models")
    assert both.returncode == 2 and both.stderr.strip() == "edgeadapt: error: --quiet and --verbose exclude each other"


def test_quiet_keeps_json_on_stdout():
    r = edgeadapt("-q", "models", "--json", "-")
    assert r.returncode == 0 and r.stderr == ""
    assert isinstance(json.loads(r.stdout), list)


@pytest.mark.parametrize("args, message", [
    (["eval", "--model", "zoo:big", "--data", "NOWHERE"], "NOWHERE"),
    (["quantize", "nothing.onnx", "--calib", "NOWHERE", "--out", "x.eaq"], "nothing.onnx"),
    (["export", "--target", "nosuch", "--big", "a.eaq", "--small", "b.eaq"], "unknown target 'nosuch'"),
])
def test_bad_input_is_one_line(args, message, tmp_path):
    r = edgeadapt(*args, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in r.stderr, r.stderr
