"""`edgeadapt firmware`: build the shipped firmware on an export bundle, or say where it lives.

The firmware tree is package data (edgeadapt.resources), so an installed edgeadapt builds for a
board from any folder: paths given here are relative to the caller, and the build output goes
beside the bundle, never into the installation."""

import subprocess
from pathlib import Path

import click

from edgeadapt.errors import EdgeadaptError


@click.group("firmware")
def command():
    """The C runtime shipped with edgeadapt: build it on an export, or print its location."""


@command.command("build")
@click.option("--target", required=True, help="Target description (stm32, gap8, host, mps2-an386).")
@click.option("--export", "export_dir", required=True, type=click.Path(file_okay=False), help="Export bundle.")
@click.option("--build", "build_dir", type=click.Path(file_okay=False),
              help="Build folder [default: <export>/build-<port>].")
@click.option("--size/--no-size", default=True, show_default=True,
              help="Print text/data/bss against the target's memories (fails on an overflow).")
def build_command(target, export_dir, build_dir, size):
    """Compile the firmware for TARGET with the bundle's models; prints the ELF path."""
    from edgeadapt.codegen.targets import load_target
    from edgeadapt.harness.qemu import build_firmware, firmware_port, make_command

    desc = load_target(target)
    export_dir = Path(export_dir).resolve()
    if not (export_dir / "ea_models.h").is_file():
        raise EdgeadaptError(f"{export_dir}: no ea_models.h (run `edgeadapt export --target {target} --out DIR` first)")
    port = firmware_port(desc)
    build_dir = Path(build_dir).resolve() if build_dir else export_dir / f"build-{port}"
    elf = build_firmware(desc, export_dir, build_dir)
    click.echo(f"built {elf}")
    if size:
        r = subprocess.run(make_command(port, export_dir, build_dir) + ["size"], capture_output=True, text=True)
        click.echo(r.stdout.rstrip())
        if r.returncode != 0:
            raise EdgeadaptError(f"{elf.name} does not fit {desc['name']}: {r.stdout.strip().splitlines()[-1]}")


@command.command("path")
def path_command():
    """Print the firmware tree (Makefile, include/, kernels/, ...) to build or link against."""
    from edgeadapt.resources import firmware_dir

    click.echo(str(firmware_dir()))
