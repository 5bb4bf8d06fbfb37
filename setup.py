"""Package layout that pyproject.toml alone cannot say: the firmware tree and the target
descriptions stay at the top of the repository (firmware/, hil/targets/) and go into the wheel as
package data, edgeadapt/_firmware and edgeadapt/_targets (edgeadapt/resources.py finds them)."""

from setuptools import find_namespace_packages, setup

DATA_PACKAGES = {"edgeadapt._firmware": "firmware", "edgeadapt._targets": "hil/targets"}

packages = find_namespace_packages(include=["edgeadapt", "edgeadapt.*"], exclude=["*.__pycache__"])
setup(
    packages=sorted(set(packages) | set(DATA_PACKAGES)),
    package_dir={"": ".", **DATA_PACKAGES},
    package_data={
        "edgeadapt": ["zoo/*.pt", "zoo/*.json", "zoo/*.md"],
        "edgeadapt._firmware": ["Makefile", "**/*.c", "**/*.h", "**/*.S", "**/*.ld", "**/*.mk", "**/Makefile",
                                "**/*.md"],
        "edgeadapt._targets": ["*.toml"],
    },
)
