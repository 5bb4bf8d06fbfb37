"""edgeadapt: embedded edge-inference toolchain for nano-drones and microcontrollers."""

__version__ = "0.1.0"
