"""Byte links to a device: a serial port (pyserial, also `socket://` to QEMU) or a child's stdio.

A transport moves raw bytes and nothing else: `write(data)`, `read(max_bytes, timeout)` (returns
b"" when nothing arrived in time), `close()`. Framing, retries and resynchronization live in
edgeadapt.harness.device; fault injection wraps a transport (edgeadapt.harness.faults).
"""

import os
import select
import time

from edgeadapt.errors import EdgeadaptError


class LinkClosed(Exception):
    """The other end went away (the emulator exited, the cable was pulled)."""


class Transport:
    """The interface every link implements."""

    name = "link"

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def read(self, max_bytes: int, timeout: float) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SerialTransport(Transport):
    """A pyserial port: a device path (`/dev/ttyUSB0`) or any pyserial URL (`socket://host:port`)."""

    def __init__(self, port, baudrate=115200, connect_timeout=0.0, alive=None):
        """connect_timeout > 0 retries the open until then (QEMU listens a moment after its start);
        alive() -> bool stops the retry early when the process that should listen has died."""
        import serial

        self.name = str(port)
        self._serial_exc = serial.SerialException
        deadline = time.monotonic() + connect_timeout
        while True:
            try:
                self.port = serial.serial_for_url(str(port), baudrate=baudrate, timeout=0.1, write_timeout=30)
                break
            except (serial.SerialException, OSError, ValueError) as exc:
                if time.monotonic() >= deadline or (alive is not None and not alive()):
                    raise EdgeadaptError(f"cannot open serial link {port}: {_first_line(exc)}") from None
                time.sleep(0.05)

    def write(self, data: bytes) -> None:
        try:
            self.port.write(data)
            self.port.flush()
        except (self._serial_exc, OSError) as exc:
            raise LinkClosed(f"{self.name}: write failed ({_first_line(exc)})") from None

    def read(self, max_bytes: int, timeout: float) -> bytes:
        try:
            self.port.timeout = max(0.0, timeout)
            first = self.port.read(1)
            if not first:
                return b""
            waiting = self.port.in_waiting
            rest = self.port.read(min(waiting, max_bytes - 1)) if waiting and max_bytes > 1 else b""
            return first + rest
        except (self._serial_exc, OSError) as exc:
            raise LinkClosed(f"{self.name}: read failed ({_first_line(exc)})") from None

    def close(self) -> None:
        try:
            self.port.close()
        except Exception:  # closing a dead socket must not mask the error being reported
            pass


class PipeTransport(Transport):
    """The stdin/stdout of a child process (the firmware's host build serves the protocol there)."""

    def __init__(self, process, name="stdio"):
        self.process = process
        self.name = name
        self._out = process.stdout.fileno()
        os.set_blocking(self._out, False)

    def write(self, data: bytes) -> None:
        try:
            self.process.stdin.write(data)
            self.process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as exc:
            raise LinkClosed(f"{self.name}: the program closed its input ({_first_line(exc)})") from None

    def read(self, max_bytes: int, timeout: float) -> bytes:
        ready, _, _ = select.select([self._out], [], [], max(0.0, timeout))
        if not ready:
            return b""
        try:
            data = os.read(self._out, max_bytes)
        except BlockingIOError:
            return b""
        if not data:
            raise LinkClosed(f"{self.name}: the program exited (code {self.process.poll()})")
        return data

    def close(self) -> None:
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except Exception:  # already closed or broken: nothing left to release
                pass


def _first_line(exc) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
