#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""interpose-nvme-cli: Debian's nvme-cli 2.3 decodes the emulated controller,
through `hetmem run`, the way the machine config made it.

Every command's JSON (or text, where nvme-cli 2.3 has no JSON) is checked
against the test machine's config: serial, model number, namespaces with
their sizes and LBA sizes, the queues. The commands reach the controller
itself (Identify, Get Log Page, Get Features, Read, Write, its registers
through resource0), so SMART counters move with I/O: one 4 KiB write is one
more Host Write Command and one more Data Unit Written, one failed read one
more error log entry, across processes, as SMART data is non-volatile.

    nvme-cli.py HETMEM MACHINE"""

import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stock  # noqa: E402
from stock import check  # noqa: E402


def body():
    hetmem, machine_path = sys.argv[1:3]
    stock.need("nvme")
    cfg = stock.machine(machine_path)["endpoint nvme0"]
    serial, model = cfg["serial"], cfg["model-number"]
    namespaces = []
    for n in range(1, 17):
        if f"ns{n}" not in cfg:
            break
        namespaces.append((n, stock.size(cfg[f"ns{n}"]), int(cfg.get(f"ns{n}-lba", "512"))))
    queues = int(cfg["queues"])
    r = stock.Run(hetmem, machine_path)

    def nvme(*args, rc=True):
        return r.run(["nvme", *args], rundir="run", check_rc=rc)

    def js(*args):
        out = nvme(*args, "-o", "json").stdout
        return json.loads(out[out.find("{"):])

    try:
        # list: every namespace, its size and format, the controller's identity.
        devs = {d["NameSpace"]: d for d in js("list")["Devices"]}
        check(sorted(devs) == [n for n, _, _ in namespaces], f"namespaces {sorted(devs)}")
        for n, size, lba in namespaces:
            d = devs[n]
            check(d["DevicePath"] == f"/dev/nvme0n{n}", d["DevicePath"])
            check(d["SerialNumber"] == serial and d["ModelNumber"] == model, str(d))
            check(d["PhysicalSize"] == size and d["SectorSize"] == lba, str(d))
            check(d["MaximumLBA"] == size // lba, str(d))
            check(d["Firmware"] == "1.0", d["Firmware"])

        # id-ctrl: identity, namespace count, the queues and transfer size limits.
        idc = js("id-ctrl", "/dev/nvme0")
        check(idc["sn"].strip() == serial and idc["mn"].strip() == model, str(idc)[:200])
        check(idc["nn"] == len(namespaces), f"nn {idc['nn']}")
        check(idc["vid"] == 0x4854 and idc["ver"] == 0x10400, f"vid {idc['vid']:#x}")
        check(serial in idc["subnqn"], idc["subnqn"])

        # id-ns: size and the LBA format in use.
        for n, size, lba in namespaces:
            ns = js("id-ns", f"/dev/nvme0n{n}")
            fmt = ns["lbafs"][ns["flbas"] & 0xf]
            check(ns["nsze"] == size // lba and ns["ncap"] == size // lba, f"ns{n}: {ns['nsze']}")
            check(1 << fmt["ds"] == lba, f"ns{n}: LBA data size {fmt['ds']}")

        # show-regs: the controller's live registers through resource0. nvme-cli 2.3
        # exits 1 after printing them as JSON (its return value is the output format):
        # the text form's exit status is the one to check.
        out = nvme("show-regs", "/dev/nvme0").stdout
        check(re.search(r"^version\s*:\s*10400", out, re.M), "show-regs:\n" + out[:500])
        out = nvme("show-regs", "/dev/nvme0", "-o", "json", rc=False).stdout
        regs = json.loads(out[out.find("{"):])
        check(regs["vs"] == 0x10400, f"VS {regs['vs']:#x}")
        check(regs["cc"] & 1 and regs["csts"] & 1, f"CC {regs['cc']:#x} CSTS {regs['csts']:#x}")
        check(regs["cap"] & 0xffff == 1023, f"CAP.MQES {regs['cap'] & 0xffff}")
        check(regs["cmbsz"] >> 12 and regs["cmbloc"] & 7 == 2, "no CMB in BAR2")

        # get-feature: Number of Queues as configured; the write cache the run turned off.
        out = nvme("get-feature", "/dev/nvme0", "-f", "7").stdout
        m = re.search(r"Current value:\s*(0x[0-9a-f]+)", out)
        check(m and int(m.group(1), 16) == ((queues - 1) << 16 | (queues - 1)), out)
        out = nvme("get-feature", "/dev/nvme0", "-f", "6").stdout
        m = re.search(r"Current value:\s*(0x)?([0-9a-f]+)", out)
        check(m and int(m.group(2), 16) == 0, out)

        # fw-log: slot 1 active, revision 1.0.
        fw = js("fw-log", "/dev/nvme0")["nvme0"]
        check(fw["Active Firmware Slot (afi)"] == 1, str(fw))
        check("1.0" in fw["Firmware Rev Slot 1"], str(fw))

        # smart-log moves with I/O, and nvme read gives back what nvme write wrote.
        s0 = js("smart-log", "/dev/nvme0")
        data = bytes((i * 37 + 11) & 0xff for i in range(4096))
        with open(r.path("in"), "wb") as f:
            f.write(data)
        nvme("write", "/dev/nvme0n1", "-s", "100", "-c", "7", "-z", "4096", "-d", r.path("in"))
        s1 = js("smart-log", "/dev/nvme0")
        check(int(s1["host_write_commands"]) == int(s0["host_write_commands"]) + 1,
              f"host writes {s0['host_write_commands']} -> {s1['host_write_commands']}")
        check(int(s1["data_units_written"]) == int(s0["data_units_written"]) + 1,
              f"data units written {s0['data_units_written']} -> {s1['data_units_written']}")
        check(int(s1["power_cycles"]) > int(s0["power_cycles"]), "one process, one power cycle")
        nvme("read", "/dev/nvme0n1", "-s", "100", "-c", "7", "-z", "4096", "-d", r.path("out"))
        with open(r.path("out"), "rb") as f:
            check(f.read() == data, "nvme read did not give back what nvme write wrote")
        s2 = js("smart-log", "/dev/nvme0")
        check(int(s2["host_read_commands"]) == int(s1["host_read_commands"]) + 1, "host reads")

        # A read past the end fails with the controller's status and leaves an error entry.
        n1_blocks = namespaces[0][1] // namespaces[0][2]
        out = nvme("read", "/dev/nvme0n1", "-s", str(n1_blocks), "-c", "0", "-z", "512",
                   "-d", r.path("x"), rc=False)
        check(out.returncode != 0, "a read past the end succeeded")
        s3 = js("smart-log", "/dev/nvme0")
        check(int(s3["num_err_log_entries"]) > int(s2["num_err_log_entries"]), "no error counted")
        errs = js("error-log", "/dev/nvme0", "-e", "64")["errors"]
        check(len(errs) == 64, f"{len(errs)} error log entries, ELPE+1 = 64 expected")
        check(all("status_field" in e and "error_count" in e for e in errs), "error entries")
    finally:
        r.close()


if __name__ == "__main__":
    stock.main("interpose-nvme-cli", body)
