#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""interpose-lspci: Debian's lspci (pciutils 3.9, linux-sysfs access) decodes
the machine from its sysfs tree: under `hetmem run`, where the tree is at
/sys/bus/pci/devices beside the host's own functions, and from a copy
written by `hetmem sysfs DIR` (lspci -A linux-sysfs -O sysfs.path=DIR/bus/pci).

Both must agree with each other and with the machine config: the tree
(host bridge, root ports, the switch with the NVMe controller and gpu0
below it, gpu1 on its own root port), the IDs and classes, BAR sizes from
the resource files, the NVMe controller's driver, its capabilities.

    lspci.py HETMEM MACHINE"""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stock  # noqa: E402
from stock import check  # noqa: E402


def domain_tree(tv):
    """The [1000:00] part of `lspci -tv`."""
    lines = tv.splitlines()
    for i, line in enumerate(lines):
        if "[1000:00]" in line:
            return [line[line.index("[1000:00]"):]] + [
                re.sub(r"^[ |]*", "", x) for x in lines[i + 1:] if x.strip()]
    raise stock.Failed("no domain 1000 in lspci -tv:\n" + tv)


def device_blocks(vv):
    """`lspci -vv` as {bdf: text}, domain 1000 only."""
    out, cur = {}, None
    for line in vv.splitlines():
        m = re.match(r"^([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]) ", line)
        if m:
            cur = m.group(1) if m.group(1).startswith("1000:") else None
            if cur:
                out[cur] = ""
        if cur:
            out[cur] += line + "\n"
    return out


def check_decoded(blocks, fns, cfg):
    nvme = fns[0x010802][0]
    gpu0, gpu1 = fns[0x030200]
    nv = blocks[nvme]
    check("Non-Volatile memory controller: Device 4854:0001" in nv, nv[:200])
    check(re.search(r"Region 0: Memory at [0-9a-f]+ \(64-bit, non-prefetchable\) \[size=16K\]", nv),
          "nvme0 BAR0:\n" + nv)
    cmb = stock.size(cfg["endpoint nvme0"]["cmb"]) >> 20
    check(re.search(rf"Region 2: Memory at [0-9a-f]+ \(64-bit, prefetchable\) \[size={cmb}M\]", nv),
          "nvme0 BAR2 (the CMB):\n" + nv)
    check("Capabilities: [40] Express (v2) Endpoint" in nv, "no PCIe capability")
    check("Kernel driver in use: nvme" in nv, "no driver")
    for bdf, name in ((gpu0, "endpoint gpu0"), (gpu1, "endpoint gpu1")):
        g = blocks[bdf]
        bar2 = stock.size(cfg[name]["bar2"].split()[0]) >> 20
        check("3D controller: Device 4854:0002" in g, g[:200])
        check(re.search(rf"Region 2: Memory at [0-9a-f]+ \(64-bit, prefetchable\) \[size={bar2}M\]", g),
              f"{bdf} BAR2:\n" + g)
    bridges = [b for b, t in blocks.items() if "PCI bridge" in t]
    check(len(bridges) == 5, f"{len(bridges)} bridges: two root ports, a switch of three")
    for b in bridges:
        check("Bus: primary=" in blocks[b], "no bus numbers for " + b)


def check_tree(tree, fns):
    text = "\n".join(tree)
    check(text.count("Device 4854:0002") == 2 and text.count("Device 4854:0001") == 1, text)
    # nvme0 and gpu0 share the switch: one line with both of its downstream ports' branches.
    check(re.search(r"\+-00\.0-\[03\]----00\.0\s+Device 4854:0001", text), "nvme0 below sw0:\n" + text)
    check(re.search(r"\\-01\.0-\[04\]----00\.0\s+Device 4854:0002", text), "gpu0 below sw0:\n" + text)
    check(re.search(r"\\-02\.0-\[05\]----00\.0\s+Device 4854:0002", text), "gpu1 on rp1:\n" + text)


def body():
    hetmem, machine_path = sys.argv[1:3]
    lspci = stock.need("lspci")
    cfg = stock.machine(machine_path)
    r = stock.Run(hetmem, machine_path)
    try:
        fns = r.functions()
        copy = os.path.join(r.sysfs(), "bus/pci")
        sysfs = ["-A", "linux-sysfs", "-O", "sysfs.path=" + copy]

        tv_run = r.run([lspci, "-tv"]).stdout
        tv_copy = subprocess.run([lspci, *sysfs, "-tv"], capture_output=True, text=True,
                                 check=True).stdout
        check_tree(domain_tree(tv_run), fns)
        check_tree(domain_tree(tv_copy), fns)
        check(domain_tree(tv_run) == domain_tree(tv_copy), "the two trees differ")
        # The host's own functions are still there under hetmem run.
        host = subprocess.run([lspci, "-n"], capture_output=True, text=True).stdout
        run_n = r.run([lspci, "-n"]).stdout
        for line in host.splitlines():
            check(line in run_n, "host function missing under hetmem run: " + line)

        vv_run = device_blocks(r.run([lspci, "-D", "-vv"]).stdout)
        vv_copy = device_blocks(subprocess.run([lspci, *sysfs, "-D", "-vv"], capture_output=True,
                                               text=True, check=True).stdout)
        check(sorted(vv_run) == sorted(b for bdfs in fns.values() for b in bdfs),
              f"functions: {sorted(vv_run)}")
        check_decoded(vv_run, fns, cfg)
        check_decoded(vv_copy, fns, cfg)
        for bdf in vv_run:
            # Bus mastering differs: each process's driver turns it on in its own machine.
            strip = lambda t: re.sub(r"BusMaster[+-]", "", t)  # noqa: E731
            check(strip(vv_run[bdf]) == strip(vv_copy[bdf]), f"{bdf} decodes differently")
    finally:
        r.close()


if __name__ == "__main__":
    stock.main("interpose-lspci", body)
