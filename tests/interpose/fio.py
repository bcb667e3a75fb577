#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""interpose-fio: Debian's fio 3.33, unmodified, writes and verifies the
emulated NVMe namespace from buffers in GPU p2pmem, through `hetmem run`.

Each case writes with crc32c verification headers and reads back (in the
same job, or in a later run of its own over the same run directory), with
the psync, pvsync, pvsync2 and libaio engines, 4 KiB to 1 MiB blocks,
queue depths 1 to 16 and 1 to 4 jobs (fio forks one process per job, each
with a machine of its own, sharing the pool and the namespace image). The
fabric's counters, summed over the processes, must show the data moving
between the NVMe controller and the GPU's BAR below their switch: not
through the root complex, not through host memory.

Two checks that the checks bite: a verifying read of a device nobody wrote
fails, and io_uring is refused with the interposer's message.

    fio.py HETMEM MACHINE"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stock  # noqa: E402
from stock import check  # noqa: E402

MIB = 1 << 20


def fio_args(gpu, name, rw, engine, extra):
    return ["fio", "--name=" + name, "--filename=/dev/nvme0n1", "--direct=1",
            f"--iomem=mmapshared:/sys/bus/pci/devices/{gpu}/p2pmem/allocate",
            "--ioengine=" + engine, "--rw=" + rw, "--verify=crc32c",
            "--output-format=json", *extra]


def moved(out):
    """Bytes fio read and wrote, summed over its jobs."""
    start = out.find("{")
    check(start >= 0, "no JSON from fio:\n" + out[-1000:])
    jobs = json.loads(out[start:])["jobs"]
    for j in jobs:
        check(not j["error"], f"job {j['jobname']}: error {j['error']}")
    return sum(j["read"]["io_bytes"] + j["write"]["io_bytes"] for j in jobs)


def peer_to_peer(r, counters, data, procs):
    """The counters say the data went NVMe <-> GPU BAR inside the switch."""
    with open(r.path(counters)) as f:
        c = json.load(f)
    links = {link["name"]: link for link in c["links"]}
    rc = c["root_complexes"][0]
    gpu0 = links["gpu0"]["bytes_up"] + links["gpu0"]["bytes_down"]
    nvme0 = links["nvme0"]["bytes_up"] + links["nvme0"]["bytes_down"]
    host = rc["mem_bytes_written"] + rc["mem_bytes_read"]
    check(c["processes"] >= procs, f"{c['processes']} processes counted, {procs} expected")
    check(gpu0 >= data, f"gpu0's link carried {gpu0} bytes of {data} moved")
    check(nvme0 >= data, f"nvme0's link carried {nvme0} bytes of {data} moved")
    check(rc["p2p_bytes"] == 0, f"{rc['p2p_bytes']} peer bytes crossed the root complex")
    check(host < data // 10, f"{host} bytes to host memory for {data} of data: not peer-to-peer")
    check(links["gpu1"]["bytes_up"] + links["gpu1"]["bytes_down"] == 0, "gpu1 had traffic")
    for p in c["p2pmem"]:
        check(p["available"] == p["size"], f"{p['name']}: p2pmem not all returned: {p}")


def body():
    hetmem, machine = sys.argv[1:3]
    stock.need("fio")
    r = stock.Run(hetmem, machine)
    try:
        gpu = r.functions()[0x030200][0]

        # One job, 4 KiB blocks, psync: write then verify.
        out = r.run(fio_args(gpu, "psync-4k", "randwrite", "psync",
                             ["--bs=4k", "--size=16m", "--do_verify=1"]), counters="c1.json")
        peer_to_peer(r, "c1.json", moved(out.stdout), 1)

        # Four forked jobs, libaio at depth 16, 128 KiB, a quarter of the device each.
        out = r.run(fio_args(gpu, "libaio-4j", "randwrite", "libaio",
                             ["--bs=128k", "--iodepth=16", "--size=16m", "--numjobs=4",
                              "--offset_increment=16m", "--do_verify=1"]),
                    counters="c2.json")
        peer_to_peer(r, "c2.json", moved(out.stdout), 4)

        # Mixed block sizes up to 1 MiB, depth 4, two jobs.
        out = r.run(fio_args(gpu, "libaio-mixed", "randwrite", "libaio",
                             ["--bsrange=4k-1m", "--iodepth=4", "--size=32m", "--numjobs=2",
                              "--offset_increment=32m", "--do_verify=1"]),
                    counters="c3.json")
        peer_to_peer(r, "c3.json", moved(out.stdout), 2)

        # Written by one run, read and verified by another: the namespace is a file
        # of the run directory, so the data outlives the processes.
        common = ["--bs=64k", "--size=32m"]
        out = r.run(fio_args(gpu, "pvsync-write", "randwrite", "pvsync",
                             common + ["--do_verify=0"]), rundir="kept", counters="c4.json")
        written = moved(out.stdout)
        check(written == 32 * MIB, f"wrote {written}")
        out = r.run(fio_args(gpu, "verify-later", "randread", "libaio",
                             common + ["--iodepth=8"]), rundir="kept", counters="c5.json")
        peer_to_peer(r, "c5.json", moved(out.stdout), 1)
        out = r.run(fio_args(gpu, "verify-v2", "read", "pvsync2", common), rundir="kept")
        moved(out.stdout)

        # A verifying read of a device nobody wrote must fail: verification is real.
        out = r.run(fio_args(gpu, "fresh", "randread", "psync", ["--bs=4k", "--size=1m"]),
                    check_rc=False)
        check(out.returncode != 0, "verifying a fresh device passed")

        # io_uring: refused, and the interposer says why.
        out = r.run(fio_args(gpu, "uring", "randwrite", "io_uring", ["--bs=4k", "--size=1m"]),
                    check_rc=False)
        check(out.returncode != 0, "io_uring was not refused")
        check("io_uring cannot be interposed" in out.stderr, "no explanation:\n" + out.stderr)
    finally:
        r.close()


if __name__ == "__main__":
    stock.main("interpose-fio", body)
