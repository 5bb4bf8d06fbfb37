"""README's commands run as written: every ```sh block, line by line, from the repository root.

Lines that start QEMU are not run (the QEMU tests cover them), nor blocks under a
`<!-- readme-test: skip (why) -->` comment (a board, the demo, an hour of training); the
edgeadapt commands in those are still checked against the CLI: `... --help` fails on any option
that does not exist. ```c blocks whose first line is `/* PATH */` are written to PATH first, so a
block that compiles them compiles exactly what the README shows. The operator table must be the
one onnx_support.py generates."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(r"(?P<skip><!-- readme-test: skip[^>]*-->\s*\n)?```(?P<lang>\w*)\n(?P<body>.*?)```", re.S)
pytestmark = pytest.mark.slow


def blocks():
    return [(m.group("lang"), m.group("body"), bool(m.group("skip"))) for m in BLOCK.finditer(README.read_text())]


def is_qemu(line: str) -> bool:
    words = shlex.split(line, comments=True) if line.strip() else []
    return "--emulator" in words and "qemu" in words or (words[:1] == ["make"] and "run" in words)


def command_lines(body):
    return [line for line in body.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def environment():
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def run(line, env):
    r = subprocess.run(["bash", "-euo", "pipefail", "-c", line], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, f"README command failed ({r.returncode}): {line}\n{r.stderr[-2000:]}"
    assert "Traceback" not in r.stderr, r.stderr[-2000:]


def test_readme_sh_blocks_run_as_written():
    env = environment()
    ran = 0
    for lang, body, _ in blocks():
        if lang == "c":
            first = body.splitlines()[0]
            m = re.fullmatch(r"/\* (\S+) \*/", first.strip())
            if m:
                path = ROOT / m.group(1)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(body)
    for lang, body, skip in blocks():
        if lang != "sh" or skip:
            continue
        for line in command_lines(body):
            if is_qemu(line):
                continue
            run(line, env)
            ran += 1
    assert ran >= 8, f"only {ran} README commands ran"


def test_skipped_and_qemu_commands_exist_in_the_cli():
    """What cannot run here still names real sub-commands and options."""
    env = environment()
    checked = 0
    for lang, body, skip in blocks():
        if lang != "sh":
            continue
        for line in command_lines(body):
            words = shlex.split(line, comments=True)
            if words[:1] != ["edgeadapt"] or not (skip or is_qemu(line)):
                continue
            r = subprocess.run([sys.executable, "-m", "edgeadapt", *words[1:], "--help"], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=120)
            assert r.returncode == 0 and "Usage:" in r.stdout, f"{line}\n{r.stderr}"
            checked += 1
    assert checked >= 4


def test_operator_table_is_generated_from_onnx_support():
    from edgeadapt.ir.onnx_support import SUPPORTED, ops_table_markdown

    text = README.read_text()
    table = text.split("<!-- ops:begin -->\n", 1)[1].split("\n<!-- ops:end -->", 1)[0]
    assert table == ops_table_markdown()
    assert all(f"`{op}`" in table for op in SUPPORTED)
