"""Where the package's data lives: the firmware sources and Makefile, and the target descriptions.

Every path lookup goes through here. In a source checkout (and an editable install) they are the
repository's own firmware/ and hil/targets/ folders; in an installed wheel they are package data,
edgeadapt/_firmware and edgeadapt/_targets (pyproject.toml maps the two top-level folders there),
found through importlib.resources. $EDGEADAPT_FIRMWARE and $EDGEADAPT_TARGETS override both, for a
user who keeps a modified copy.
"""

import os
from importlib import resources
from pathlib import Path

from edgeadapt.errors import EdgeadaptError

_CHECKOUT = Path(__file__).resolve().parent.parent  # the repository root, when run from one
_LAYOUT = {  # what: (environment override, folder in a checkout, package-data folder, a file it must hold)
    "firmware": ("EDGEADAPT_FIRMWARE", _CHECKOUT / "firmware", "_firmware", "Makefile"),
    "targets": ("EDGEADAPT_TARGETS", _CHECKOUT / "hil" / "targets", "_targets", "host.toml"),
}


def firmware_dir() -> Path:
    """The firmware tree: Makefile, kernels/, include/, app/, protocol/, policy/, ports/."""
    return _locate("firmware")


def targets_dir() -> Path:
    """The folder of target descriptions (<name>.toml)."""
    return _locate("targets")


def _locate(what: str) -> Path:
    env, checkout, packaged, marker = _LAYOUT[what]
    if os.environ.get(env):
        path = Path(os.environ[env])
        if not (path / marker).is_file():
            raise EdgeadaptError(f"${env}={path}: no {marker} there")
        return path
    if (checkout / marker).is_file():
        return checkout
    path = Path(str(resources.files("edgeadapt") / packaged))
    if not (path / marker).is_file():
        raise EdgeadaptError(f"the edgeadapt installation has no {what} data (looked in {path}): reinstall it")
    return path
