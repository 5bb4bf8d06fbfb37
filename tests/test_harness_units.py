"""Harness parts on their own: energy model and power traces, reply parsing, fault injection."""

import zlib

import numpy as np
import pytest

from edgeadapt.codegen.targets import load_target
from edgeadapt.errors import EdgeadaptError
from edgeadapt.harness.device import LinkError, parse_policy_line, parse_step, same_policy
from edgeadapt.harness.energy import align_offset, load_power_trace, operating_point, trace_frame_energies_mj
from edgeadapt.harness.faults import FaultyTransport
from edgeadapt.harness.transport import Transport
from edgeadapt.policy import quantize_policy

# ------------------------------------------------------------------ power model


def test_operating_points_turn_cycles_into_time_and_energy():
    gap8 = operating_point(load_target("gap8"))
    assert gap8.name == "max-performance" and gap8.clock_hz == 170e6  # the cluster clock
    assert gap8.active_mw == 88.3 and gap8.idle_mw is None
    t = gap8.latency_s(3_700_000)  # M1.0's published cycles: 21.8 ms
    assert float(t) == pytest.approx(0.0217647, rel=1e-5)
    assert float(gap8.frame_energy_mj(t)) == pytest.approx(88.3 * 0.0217647, rel=1e-5)
    with pytest.raises(EdgeadaptError, match="no idle power figure"):
        gap8.frame_energy_mj(t, period_s=0.05)
    low = operating_point(load_target("gap8"), "min-power")
    assert low.clock_hz == 25e6 and low.active_mw == 10.0

    stm = operating_point(load_target("stm32"))
    assert stm.clock_hz == 168e6 and stm.active_mw == pytest.approx(132.0)
    assert stm.idle_mw == pytest.approx(12.0 * 3.3)  # sleep current x supply
    # E = P_active t + P_idle (T - t): 10 ms active in a 33.3 ms frame
    e = stm.frame_energy_mj(np.array([0.010]), period_s=1 / 30)
    assert float(e[0]) == pytest.approx(132.0 * 0.010 + 39.6 * (1 / 30 - 0.010))
    with pytest.raises(EdgeadaptError, match="shorter than a frame's active time"):
        stm.frame_energy_mj(np.array([0.05]), period_s=1 / 30)
    with pytest.raises(EdgeadaptError, match="no operating point 'turbo'"):
        operating_point(load_target("stm32"), "turbo")
    host = operating_point(load_target("host"), device_hz=1e9)
    assert host.clock_hz == 1e9 and host.frame_energy_mj(0.001) is None


# ------------------------------------------------------------------ traces


def _square_wave(offset, windows, idle_w, active_w, rate=20000.0, length=1.0):
    t = np.arange(0, length, 1 / rate)
    p = np.full_like(t, idle_w)
    for s, d in windows:
        p[(t >= s + offset) & (t < s + offset + d)] = active_w
    return t, p


WINDOWS = [(0.100, 0.020), (0.180, 0.045), (0.300, 0.020), (0.350, 0.045), (0.520, 0.020)]


def test_ppk2_trace_is_aligned_and_integrated(tmp_path):
    """PPK2 exports ms timestamps and uA currents; the supply voltage comes from the user."""
    t, p = _square_wave(0.137, WINDOWS, 0.010, 0.090)
    current_ua = p / 3.0 * 1e6
    lines = ["Timestamp(ms),Current(uA),D0-D7"] + [f"{a * 1e3:.3f},{c:.3f},00000000" for a, c in zip(t, current_ua)]
    (tmp_path / "ppk2.csv").write_text("\n".join(lines) + "\n")
    trace = load_power_trace(tmp_path / "ppk2.csv", voltage_v=3.0)
    assert trace.power_w.max() == pytest.approx(0.090)
    offset = align_offset(trace, WINDOWS)
    assert offset == pytest.approx(0.137, abs=2e-4)
    energy = trace_frame_energies_mj(trace, WINDOWS, offset)
    expected = [0.090 * d * 1e3 for _, d in WINDOWS]
    assert energy == pytest.approx(expected, rel=0.02)
    with pytest.raises(EdgeadaptError, match="current without voltage"):
        load_power_trace(tmp_path / "ppk2.csv")


def test_joulescope_style_trace_with_power_and_comment_header(tmp_path):
    t, p = _square_wave(0.05, WINDOWS, 0.002, 0.050)
    text = "#time,current,voltage,power\n" + "".join(f"{a:.6f},{b / 1.8:.6e},1.8,{b:.6e}\n" for a, b in zip(t, p))
    (tmp_path / "js.csv").write_text(text)
    trace = load_power_trace(tmp_path / "js.csv")
    energy = trace_frame_energies_mj(trace, WINDOWS, 0.05)
    assert energy == pytest.approx([50.0 * d for _, d in WINDOWS], rel=0.02)
    with pytest.raises(EdgeadaptError, match="outside the trace"):
        trace_frame_energies_mj(trace, [(2.0, 0.01)], 0.0)


def test_bad_traces_are_one_line_errors(tmp_path):
    (tmp_path / "a.csv").write_text("when,amps\n0,1\n1,2\n")
    with pytest.raises(EdgeadaptError, match="no time column"):
        load_power_trace(tmp_path / "a.csv")
    (tmp_path / "b.csv").write_text("time (s),power (W)\n0,1\n0,2\n")
    with pytest.raises(EdgeadaptError, match="not strictly increasing"):
        load_power_trace(tmp_path / "b.csv")
    (tmp_path / "c.csv").write_text("time (s),power (V)\n0,1\n1,2\n")
    with pytest.raises(EdgeadaptError, match="not a power unit"):
        load_power_trace(tmp_path / "c.csv")
    with pytest.raises(EdgeadaptError, match="cannot read"):
        load_power_trace(tmp_path / "missing.csv")


# ------------------------------------------------------------------ replies


def test_step_replies_are_parsed_strictly():
    good = ["m-step-[frame=3,model=2,next=1,cycles=123456,policy_cycles=77]", "m-outputs-[-5,17,0,2147483647]",
            "m-core-cycles-[100,200]"]
    s = parse_step(good)
    assert (s.frame, s.model, s.next_model, s.cycles, s.policy_cycles) == (3, 2, 1, 123456, 77)
    assert s.outputs == (-5, 17, 0, 2147483647) and s.out_model == 1 and s.core_cycles == (100, 200)
    for bad in (good[:2], [good[0].replace("model=2", "model=3")] + good[1:], [good[0], "m-outputs-[-5,,0]", good[2]],
                [good[0], "m-outputs-[-5,17]x", good[2]], [good[0][:-1]] + good[1:]):
        with pytest.raises(LinkError) as err:
            parse_step(bad)
        assert err.value.executed is True  # a step reply means the step ran
    assert s.checked is False  # firmware without the checksum line: the harness reads it twice


def test_step_checksum_line_vouches_for_the_reply():
    lines = ["m-step-[frame=3,model=0,next=1,cycles=123456,policy_cycles=77]", "m-outputs-[-5,17,0,2147483647]",
             "m-core-cycles-[100,200]"]
    crc = zlib.crc32("".join(line + "\n" for line in lines).encode())
    s = parse_step(lines + [f"m-step-crc-[{crc:08x}]"])
    assert s.checked and s == parse_step(lines) and s.outputs == (-5, 17, 0, 2147483647)
    damaged = [lines[0], "m-outputs-[-5,17,0,2147483646]", lines[2]]  # one digit off, still parses
    for bad in (damaged + [f"m-step-crc-[{crc:08x}]"], lines + [f"m-step-crc-[{crc ^ 1:08x}]"],
                lines + ["m-step-crc-[12345]"], lines + ["m-stepXcrc-[00000000]"]):
        with pytest.raises(LinkError, match="checksum"):
            parse_step(bad)


def test_policy_line_round_trip():
    cfg = quantize_policy({"policy": "temporal", "weights": [1, 1, 0.5, 1], "threshold": 0.5, "k": 2},
                          [15, 15, 16, 15, 14])
    line = (f"m-policy-[kind=temporal,n=4,w={':'.join(map(str, cfg.weight))},t={cfg.threshold},k=2,rerun=0,"
            f"aux=4,at=0,seed=1,p=0]")
    assert same_policy(parse_policy_line(line), cfg)
    assert not same_policy(parse_policy_line(line.replace("k=2", "k=3")), cfg)
    with pytest.raises(LinkError):
        parse_policy_line(line.replace("kind=temporal", "kind=tempora1"))


# ------------------------------------------------------------------ fault injection


class Loopback(Transport):
    """Writes come back as reads, so both directions can be checked."""

    def __init__(self):
        self.buf = b""

    def write(self, data):
        self.buf += data

    def read(self, max_bytes, timeout):
        out, self.buf = self.buf[:max_bytes], self.buf[max_bytes:]
        return out


def test_faults_are_seeded_one_byte_per_faulty_transfer():
    def run(seed):
        link = FaultyTransport(Loopback(), rate=0.2, seed=seed)
        sent = [f"line {i:03d} payload\n".encode() for i in range(200)]
        for s in sent:
            link.write(s)
        got = b""
        while chunk := link.read(64, 0):
            got += chunk
        return link, b"".join(sent), got

    a, sent, got = run(7)
    b, _, got_b = run(7)
    assert got == got_b and a.events == b.events  # reproducible
    assert 0.1 < len(a.events) / 400 < 0.3  # tx writes and rx lines, each faulted with p = 0.2
    drops = sum(e.kind == "drop" for e in a.events)
    assert len(got) == len(sent) - drops  # a drop removes one byte, a corruption keeps the length
    assert {e.direction for e in a.events} == {"tx", "rx"}
    clean = FaultyTransport(Loopback(), rate=0.0, seed=1)
    clean.write(b"abc\n")
    assert clean.read(10, 0) == b"abc\n" and clean.events == []
    with pytest.raises(ValueError):
        FaultyTransport(Loopback(), rate=1.5)


def test_per_byte_faults_hit_each_byte_independently_and_reproducibly():
    def run(seed, schedule=None):
        link = FaultyTransport(Loopback(), rate=0.01, seed=seed, per="byte", schedule=schedule)
        sent = bytes(range(256)) * 200
        for i in range(0, len(sent), 1000):
            link.write(sent[i:i + 1000])
        got = b""
        while chunk := link.read(777, 0):
            got += chunk
        return link, sent, got

    a, sent, got = run(5)
    b, _, got_b = run(5)
    assert got == got_b and a.events == b.events  # reproducible
    c, _, got_c = run(6)
    assert got_c != got
    s = a.summary()
    assert s["per"] == "byte" and s["bytes"]["tx"] == len(sent)
    for d in ("tx", "rx"):
        hits = [e for e in a.events if e.direction == d]
        assert 0.008 < len(hits) / len(sent) < 0.012, (d, len(hits))
        assert {e.kind for e in hits} == {"corrupt", "drop"}
        positions = [e.position for e in hits]
        assert positions == sorted(set(positions))  # one event per damaged byte, in stream order
    assert len(got) == len(sent) - sum(e.kind == "drop" for e in a.events)
    tx = [e for e in a.events if e.direction == "tx"]
    assert all(e.offset == e.position - 1000 * e.transfer and e.size == min(1000, len(sent) - 1000 * e.transfer)
               for e in tx)
    forced, _, _ = run(5, schedule={("tx", 3): "drop", ("rx", 10): "corrupt"})
    assert ("tx", 3, "drop") in {(e.direction, e.position, e.kind) for e in forced.events}
    assert ("rx", 10, "corrupt") in {(e.direction, e.position, e.kind) for e in forced.events}
    with pytest.raises(ValueError):
        FaultyTransport(Loopback(), per="line")


@pytest.fixture(scope="module")
def host_fw(tmp_path_factory):
    from test_protocol_host import build_host_firmware

    return build_host_firmware(tmp_path_factory.mktemp("fw"), name="test-fw-host-units")


def _device_on(exe, rate, seed, **kw):
    import subprocess

    from edgeadapt.harness.device import Device
    from edgeadapt.harness.transport import PipeTransport

    proc = subprocess.Popen([str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    link = FaultyTransport(PipeTransport(proc), rate=rate, seed=seed, per="byte")
    dev = Device(link, timeout=0.5, **kw)
    return proc, link, dev


def test_chunked_load_through_a_noisy_link_in_small_windows(host_fw):
    import zlib

    proc, link, dev = _device_on(host_fw, 0.02, 3, chunk=64, window=8)
    try:
        dev.wait_banner()
        dev.resync()
        frame = bytes((i * 7 + (i >> 8)) % 256 for i in range(96 * 160))
        dev.load_frame(frame)
        crc = zlib.crc32(frame)
        state = dev.confirmed(lambda: dev.exchange("ldc"))
        assert state == [f"m-ldc-[crc={crc:08x},left=0,loaded=1]"]
        assert dev.ldc_stats["records"] > 96 * 160 // 64  # some chunks went twice
        assert {e.direction for e in link.events} == {"tx", "rx"}
    finally:
        proc.stdin.close()
        proc.wait(10)


def test_chunked_load_gives_up_with_a_one_line_link_error(host_fw):
    from edgeadapt.harness.device import LinkError

    proc, link, dev = _device_on(host_fw, 0.0, 1, chunk=256, ldc_passes=2, ldc_opens=3, ldc_loads=2,
                                 adapt=False)
    try:
        dev.wait_banner()
        link.rate = 0.2  # from now on a record of 256 bytes essentially never arrives whole
        link._next = {d: link._gap(d, link._bytes[d]) for d in ("tx", "rx")}
        with pytest.raises(LinkError) as info:
            dev.load_frame(bytes(96 * 160))
        assert "\n" not in str(info.value)
        assert str(info.value).startswith(("ldc: frame not loaded (", "link does not resynchronize"))
    finally:
        proc.stdin.close()
        proc.wait(10)
