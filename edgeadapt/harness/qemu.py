"""Build the firmware for a target and start it: under QEMU (UART on a TCP socket) or as a host program.

The command line that runs a build is the port's own RUN_CMD (firmware/ports/<port>/port.mk), read
back with `make -n run SERIAL=tcp:127.0.0.1:<port>`, so the harness and `make run` can never
disagree about machine, icount or serial options. The process is started in its own session and
always stopped by its process id: on return, on error, on Ctrl-C, and at interpreter exit for
anything a crash left behind.
"""

import atexit
import ctypes
import fcntl
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path

from edgeadapt.errors import EdgeadaptError
from edgeadapt.resources import firmware_dir
from edgeadapt.harness.transport import PipeTransport, SerialTransport

BUILD_TIMEOUT_S = 900
ICOUNT = ["-icount", "shift=0"]  # one instruction = 1 ns of virtual time: cycles = instructions

PR_SET_PDEATHSIG = 1  # linux/prctl.h
_LIVE = {}  # pid -> Popen of every process started here and not yet reaped


def firmware_port(target: dict) -> str:
    """The firmware/ports/<name> folder (make TARGET=<name>) that builds for this target."""
    for name in [target["name"], *target.get("aliases", []), target["port"]]:
        if (firmware_dir() / "ports" / name / "port.mk").is_file():
            return name
    raise EdgeadaptError(f"target '{target['name']}': no firmware port (looked for ports/{target['port']}/port.mk)")


def build_firmware(target: dict, export_dir, build_dir=None) -> Path:
    """Build the firmware for target on the export bundle; returns the ELF path."""
    port = firmware_port(target)
    export_dir = Path(export_dir).resolve()
    build_dir = Path(build_dir).resolve() if build_dir else export_dir / f".build-hil-{port}"
    build_dir.mkdir(parents=True, exist_ok=True)
    cmd = make_command(port, export_dir, build_dir) + ["all"]
    with open(build_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time per folder
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
        except FileNotFoundError:
            raise EdgeadaptError("`make` is not installed: cannot build the firmware") from None
    if r.returncode != 0:
        lines = (r.stderr + r.stdout).strip().splitlines()
        errors = [line for line in lines if "error" in line.lower()] or lines[-1:]
        raise EdgeadaptError(f"firmware build for {port} on {export_dir} failed: {errors[0] if errors else '?'}")
    elf = build_dir / f"edgeadapt-{port}.elf"
    if not elf.is_file():
        raise EdgeadaptError(f"firmware build for {port} produced no {elf.name}")
    return elf


def run_command(target: dict, export_dir, build_dir, serial: str) -> list:
    """The port's RUN_CMD as an argument list, for SERIAL=serial (the ELF must be built)."""
    port = firmware_port(target)
    cmd = make_command(port, Path(export_dir).resolve(), Path(build_dir).resolve()) + ["-n", "run", f"SERIAL={serial}"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    lines = [line for line in r.stdout.splitlines() if line.strip()]
    if r.returncode != 0 or not lines:
        raise EdgeadaptError(f"cannot get the run command of port {port}: {(r.stderr or r.stdout).strip()[:200]}")
    return shlex.split(lines[-1])


def make_command(port, export_dir, build_dir) -> list:
    """make on the shipped firmware tree with absolute EXPORT and BUILD folders."""
    return ["make", "-s", "-C", str(firmware_dir()), f"TARGET={port}", f"EXPORT={export_dir}", f"BUILD={build_dir}"]


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FirmwareProcess:
    """A running firmware (QEMU or the host program) and the transport to its link.

    Use as a context manager: `with FirmwareProcess.qemu(...) as fw: fw.transport ...`; leaving
    the block stops the process whatever happened inside it.
    """

    def __init__(self, argv, transport_factory, log_path=None, stdio=False, label="firmware"):
        self.argv = list(argv)
        self.label = label
        self.log_path = Path(log_path) if log_path else None
        self._log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        pipe = subprocess.PIPE
        try:
            self.process = subprocess.Popen(
                self.argv,
                stdin=pipe if stdio else subprocess.DEVNULL,
                stdout=pipe if stdio else self._log,
                stderr=self._log,
                start_new_session=True,  # our own process group: a terminal's Ctrl-C reaches only us
                preexec_fn=_die_with_parent,
            )
        except OSError as exc:
            self._close_log()
            raise EdgeadaptError(f"cannot start {self.argv[0]}: {exc.strerror or exc}") from None
        _LIVE[self.process.pid] = self.process
        try:
            self.transport = transport_factory(self)
        except BaseException:
            self.stop()
            raise

    @classmethod
    def qemu(cls, target: dict, export_dir, build_dir=None, log_path=None, connect_timeout=30.0):
        """Build, start QEMU with the UART on a TCP server socket (it waits for us) and connect."""
        elf = build_firmware(target, export_dir, build_dir)
        for attempt in range(3):  # the free port may be taken between our probe and QEMU's bind
            port = free_tcp_port()
            argv = run_command(target, export_dir, elf.parent, f"tcp:127.0.0.1:{port}")
            if "-icount" not in argv:
                argv += list(target.get("qemu", {}).get("icount", ICOUNT))
            url = f"socket://127.0.0.1:{port}"
            try:
                return cls(argv, lambda fw: SerialTransport(url, connect_timeout=connect_timeout, alive=fw.alive),
                           log_path=log_path, label=f"QEMU ({Path(argv[0]).name})")
            except EdgeadaptError:
                if attempt == 2:
                    raise

    @classmethod
    def host(cls, target: dict, export_dir, build_dir=None, log_path=None):
        """The native build serving the protocol on its stdin/stdout."""
        elf = build_firmware(target, export_dir, build_dir)
        return cls([str(elf)], lambda fw: PipeTransport(fw.process, name=elf.name), log_path=log_path,
                   stdio=True, label="host program")

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace=2.0) -> int | None:
        """Terminate the process (SIGTERM, then SIGKILL) by its pid and reap it; returns its exit code."""
        transport = getattr(self, "transport", None)
        if transport is not None:
            transport.close()
        code = _stop_process(self.process, grace)
        self._close_log()
        return code

    def _close_log(self):
        if self._log not in (None, subprocess.DEVNULL):
            self._log.close()
            self._log = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _die_with_parent():
    """In the child: get SIGTERM if the harness dies without cleaning up (even by SIGKILL)."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        except (OSError, AttributeError):
            pass  # best effort: the normal stop paths still apply


def _stop_process(process, grace=2.0):
    try:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(grace)
        return process.returncode
    finally:
        _LIVE.pop(process.pid, None)


def live_processes() -> list:
    """Pids of firmware processes started by this interpreter and still running."""
    return [pid for pid, p in _LIVE.items() if p.poll() is None]


@atexit.register
def _stop_leftovers():
    for process in list(_LIVE.values()):
        _stop_process(process, grace=0.5)

