"""The hardware-in-the-loop client: links, the protocol, QEMU, energy, runs and their reports.

    run_hil(RunSpec(...)) -> summary dict                 (edgeadapt.harness.runner)
    Device(transport).load_frame / step / decide / ...    (edgeadapt.harness.device)
    FirmwareProcess.qemu(target, export_dir) / .host(...) (edgeadapt.harness.qemu)
    SerialTransport, PipeTransport, FaultyTransport       (transport.py, faults.py)
    operating_point(target, name) -> OperatingPoint       (energy.py; load_power_trace, align_offset)
    summarize(header, frames) -> summary.json dict        (summary.py)
"""
