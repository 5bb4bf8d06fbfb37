"""Fuzzing the command parser of the protocol core (host build, with the address and undefined-
behaviour sanitizers when the compiler has them): 10,000 random and malformed command lines, a raw
random byte stream, truncated binary loads and damaged chunk records of the chunked load. The
firmware must answer every non-blank command with exactly one m-ready, write only well-formed
lines, and never crash or hang."""

import random
import re
import zlib

import pytest

from test_protocol_host import SANITIZE, FirmwareHost, build_host_firmware, sanitizers_available

pytestmark = pytest.mark.timeout(300)

WHITESPACE = b" \t\r\n"
FRAME_BYTES = 96 * 160
BASES = [
    "name", "profile", "help", "timestamp", "results", "db load 16", "db 0011aabbccddeeff", "db 8899",
    "db 00112233445566778899aabbccddeeff", "infer 1 0", "infer 2 1", "ea-info", "ea-select small",
    "ea-select big", "ea-select policy", "ea-policy", "ea-policy temporal n=4 w0=512 w1=512 t=100000 k=2",
    "ea-policy temporal w=1,2,3,4 rerun=1", "ea-policy aux aux=4 at=0 k=1", "ea-policy random seed=3 p=100",
    "ea-policy default", "ea-policy always-big", "ea-reset", "ea-step", "ea-layers", "ea-crc on", "ea-crc", "ea-crc off",
    "ea-decide 0 1,2,3,4,5", "ea-decide 1 -5,6,7,8", "ldc", "ldc 15360 1234abcd 64", "ldc 100 0 16",
    "ea-step 0", "ea-step 3", "ea-sync 17",
]
ODD_VALUES = ["0", "1", "-1", "4294967295", "4294967296", "18446744073709551616", "9" * 30, "0x", "0xFFFFFFFFF",
              "", "=", "==", "w=", "w9=1", "w7=-1", ",,,", "1,", "-", "+5", "1e3", "\x7f", "f" * 24, "%%", "k=",
              "t=-9223372036854775808", "t=9223372036854775808", "p=16777216", "aux=8", "n=0", "n=9"]


@pytest.fixture(scope="module")
def fuzz_exe(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    if sanitizers_available(tmp):
        return build_host_firmware(tmp, name="test-fw-host-asan", cflags=SANITIZE + " -O1")
    return build_host_firmware(tmp)


def mutate(line: str, rng: random.Random) -> bytes:
    tokens = line.split(" ")
    choice = rng.randrange(9)
    if choice == 0:  # truncated anywhere
        return line[: rng.randrange(len(line) + 1)].encode()
    if choice == 1:  # a token replaced by an odd value
        tokens[rng.randrange(len(tokens))] = rng.choice(ODD_VALUES)
    elif choice == 2:  # an argument replaced inside a key=value
        tokens = [t.split("=")[0] + "=" + rng.choice(ODD_VALUES) if "=" in t and rng.random() < 0.5 else t
                  for t in tokens]
    elif choice == 3:  # too many arguments
        tokens += ["x"] * rng.randrange(10, 20)
    elif choice == 4:  # too long
        tokens.append("y" * rng.randrange(70, 300))
    elif choice == 5:  # separators mixed up
        return rng.choice(["\t", "  ", "\r", "\n", ",", ":"]).join(tokens).encode()
    elif choice == 6:  # random bytes spliced in
        raw = bytearray(line.encode())
        for _ in range(rng.randrange(1, 4)):
            raw.insert(rng.randrange(len(raw) + 1), rng.choice([0, 1, 0x7F, 0x80, 0xFF, 0x5D, rng.randrange(256)]))
        return bytes(raw.replace(b"%", b""))
    elif choice == 7:  # a verb's case or a letter changed
        i = rng.randrange(len(line))
        return (line[:i] + rng.choice("AZaz-_.0 ") + line[i + 1 :]).encode()
    return " ".join(tokens).replace("%", "").encode()


def random_line(rng: random.Random) -> bytes:
    kind = rng.random()
    if kind < 0.25:
        return bytes(rng.choice([b for b in range(256) if b != 0x25]) for _ in range(rng.randrange(0, 120)))
    if kind < 0.32:
        return bytes(rng.choice(WHITESPACE) for _ in range(rng.randrange(0, 10)))  # blank: no reply
    if kind < 0.40:
        return "".join(chr(rng.randrange(0x21, 0x7F)) for _ in range(rng.randrange(81, 400))).replace("%", "").encode()
    if kind < 0.45:
        return rng.choice(BASES).encode()
    return mutate(rng.choice(BASES), rng)


def device_tokens(line: bytes):
    """The firmware's view: None if the line is refused before dispatch, else its tokens."""
    body = line.lstrip(WHITESPACE)
    if not body or len(body) > 80 or any(not (0x20 <= b < 0x7F) and b not in WHITESPACE for b in body):
        return None
    return body.split()


def safe(line: bytes) -> bool:
    """Leave out valid long jobs (infer with a large count) and binary loads: they are commands
    working as designed, not malformed input, and a binary load would eat the following lines."""
    tokens = device_tokens(line)
    if not tokens:
        return True
    if tokens[0] == b"ld":
        return False
    if tokens[0] == b"infer":
        return not any(t.isdigit() and int(t) > 20 for t in tokens[1:])
    return True


def expected_readies(lines) -> int:
    return sum(1 for line in lines if line.lstrip(WHITESPACE))


def check_lines(lines):
    for line in lines:
        assert re.fullmatch(r"[me]-[\x20-\x7e]*", line), f"malformed reply line {line!r}"


def test_ten_thousand_random_and_malformed_command_lines(fuzz_exe):
    rng = random.Random(20240325)
    fw = FirmwareHost(fuzz_exe)
    errors = replies = 0
    try:
        sent = 0
        while sent < 10_000:
            batch = []
            while len(batch) < 250:
                line = random_line(rng)
                if safe(line):
                    batch.append(line)
            fw.send(b"".join(line + b"%" for line in batch))
            sent += len(batch)
            for _ in range(expected_readies(batch)):
                lines = fw.read_until_ready(timeout=20)
                check_lines(lines)
                errors += sum(line.startswith("e-") for line in lines)
                replies += sum(line.startswith("m-") for line in lines)
            assert fw.quiet(0.05), "more replies than non-blank commands"
        assert fw.command("name") == ["m-name-dut-[edgeadapt-host]"]
    finally:
        code = fw.close()
    assert code == 0
    assert errors > 3000 and replies > 1000  # both the error paths and real commands were exercised


def test_random_byte_stream_then_recovery(fuzz_exe):
    rng = random.Random(7)
    stream = bytes(rng.randrange(256) for _ in range(120_000))
    flush = b"\n" * FRAME_BYTES + b"%"  # the documented recovery: ends any pending load or line
    segments = (stream + flush).split(b"%")[:-1]
    assert all(safe(s) for s in segments)
    fw = FirmwareHost(fuzz_exe)
    try:
        for i in range(0, len(stream), 4096):
            fw.send(stream[i : i + 4096])
        fw.send(flush)
        for _ in range(expected_readies(segments)):
            check_lines(fw.read_until_ready(timeout=20))
        assert fw.quiet(0.2)
        assert fw.command("name") == ["m-name-dut-[edgeadapt-host]"]
    finally:
        assert fw.close() == 0


def test_truncated_and_corrupted_binary_loads(fuzz_exe):
    rng = random.Random(11)
    fw = FirmwareHost(fuzz_exe)
    try:
        for trial in range(60):
            n = rng.choice([1, 2, 17, 255, 1024, FRAME_BYTES]) if trial % 3 else rng.randrange(1, 4096)
            data = bytes(rng.randrange(256) for _ in range(n))
            fw.send(f"ld {n} {zlib.crc32(data):08x}%".encode())
            assert fw.read_line() == f"m-ld-ready-[bytes={n}]"
            case = rng.randrange(3)
            if case == 0:  # truncated: the host recovers with n newlines
                fw.send(data[: rng.randrange(n)])
                fw.send(b"\n" * n + b"%")
                reply = fw.read_until_ready()
                assert len(reply) == 1 and reply[0].startswith("e-[CRC mismatch"), reply
            elif case == 1:  # a flipped bit
                bad = bytearray(data)
                bad[rng.randrange(n)] ^= 1 << rng.randrange(8)
                fw.send(bytes(bad))
                assert fw.read_until_ready()[0].startswith("e-[CRC mismatch")
            else:  # intact, with '%' and text-like bytes inside the payload
                fw.send(data)
                assert fw.read_until_ready() == ["m-load-done"]
            assert fw.quiet(0.02)
            assert fw.command("name") == ["m-name-dut-[edgeadapt-host]"]
    finally:
        assert fw.close() == 0


def test_damaged_chunk_records_are_refused_and_the_good_ones_load_the_frame(fuzz_exe):
    """Chunk records with bytes flipped, dropped, inserted or cut off, mixed with intact ones: each
    record gets exactly one reply, only intact records are acknowledged, and the frame that ends
    up loaded is exactly the one sent."""
    from edgeadapt.harness.device import ldc_records

    rng = random.Random(23)
    frame = bytes(rng.randrange(256) for _ in range(FRAME_BYTES))
    crc = zlib.crc32(frame)
    chunk = 32
    records = ldc_records(frame, chunk)
    fw = FirmwareHost(fuzz_exe)
    try:
        assert fw.command(f"ldc {FRAME_BYTES} {crc:08x} {chunk}") == [f"m-ldc-ready-[{crc:08x}]"]
        acked, refused = set(), 0
        for i, (rec, ack) in enumerate(records):
            for _ in range(rng.randrange(1, 3)):  # one or two damaged copies first
                bad = bytearray(rec[:-2])  # without its '%%'
                how = rng.randrange(4)
                pos = rng.randrange(1, len(bad))
                if how == 0:
                    bad[pos] ^= rng.randrange(1, 256)
                elif how == 1:
                    del bad[pos]
                elif how == 2:
                    bad.insert(pos, rng.randrange(256))
                else:
                    bad = bad[:pos]
                if b"%" in bad or bytes(bad) == rec[:-2]:
                    continue  # a '%' would split it into two lines (covered by the stream test)
                fw.send(bytes(bad) + b"%")
                reply = fw.read_until_ready()
                assert len(reply) == 1 and reply[0].startswith("e-["), (i, how, reply)
                refused += 1
            fw.send(rec)
            reply = fw.read_until_ready()
            assert reply[0] == f"m-ldc-ok-{ack}"
            acked.add(i)
        assert reply[1:] == ["m-load-done"] and len(acked) == len(records)
        assert refused > len(records)
        assert fw.command("ldc") == [f"m-ldc-[crc={crc:08x},left=0,loaded=1]"]
        dump = fw.command("db print")
        assert bytes(int(b, 16) for line in dump for b in line.split("-")[2:]) == frame
        assert fw.quiet(0.05)
    finally:
        assert fw.close() == 0
