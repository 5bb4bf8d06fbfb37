"""`edgeadapt profile`: per-layer counts from the firmware's ea-layers, joined with the manifest."""

import json
import shutil

import pytest

from test_harness_support import tiny_export


def run_profile(tmp_path, target, emulator):
    from click.testing import CliRunner

    from edgeadapt.cli import cli

    export_dir = tiny_export(target, tmp_path)
    out = tmp_path / f"profile-{target}.json"
    result = CliRunner().invoke(cli, ["profile", "--export", str(export_dir), "--target", target, "--emulator",
                                      emulator, "--json", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text()), json.loads((export_dir / "manifest.json").read_text()), result.output


def check_against_manifest(doc, manifest):
    assert set(doc["models"]) == {"big", "small"}
    for role, model in doc["models"].items():
        layers = manifest["models"][role]["layers"]
        assert [r["name"] for r in model["layers"]] == [layer["name"] for layer in layers]
        assert [r["kernel"] for r in model["layers"]] == [layer["kernel"] for layer in layers]
        assert all(r["cycles"] > 0 for r in model["layers"])
        # the layers are inside the timed model run: their sum cannot exceed it, and is most of it
        assert 0.5 * model["run_cycles"] <= model["total_cycles"] <= model["run_cycles"]
        assert model["macs"] == sum(layer["macs"] for layer in layers)
        assert sum(r["share"] for r in model["layers"]) == pytest.approx(1.0)


def test_profile_on_the_host_program(tmp_path):
    doc, manifest, output = run_profile(tmp_path, "host", "host")
    assert doc["unit"] == "ns" and not doc["emulated"]
    check_against_manifest(doc, manifest)
    assert "ea_conv2d_s8" in output and "kernel" in output


@pytest.mark.qemu
@pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
                    reason="needs qemu-system-arm and arm-none-eabi-gcc")
def test_profile_on_qemu_counts_instructions(tmp_path):
    doc, manifest, output = run_profile(tmp_path, "stm32", "qemu")
    assert doc["unit"] == "instructions" and doc["emulated"]
    check_against_manifest(doc, manifest)
    # instruction counts are deterministic under -icount: a second profile gives the same figures
    again, _, _ = run_profile(tmp_path, "stm32", "qemu")
    assert [r["cycles"] for r in again["models"]["big"]["layers"]] == [r["cycles"] for r in doc["models"]["big"]["layers"]]
    assert "instructions/MAC" in output
