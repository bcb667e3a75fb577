#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Check `hetmem demo`: the shape of its output and its exit status.

Usage: check-demo.py HETMEM DEFAULT_INI

On the default machine with small sizes, the demo must exit 0 and show,
in order, every step's section; the NVMe read must land the checksum that
was written, switch-locally (gpu0's link got every byte, the root complex
no peer traffic); the summary must list every step as ok (the
device-private steps may be skipped when userfaultfd is unavailable).
The device-private step, on the emulated GPU when the GPU driver is
built, must bind it to gpu0, have the GPU's checksum of its input be the
CPU's of what it wrote and its checksum of the result be the CPU's
computation, fault everything home and verify every byte. A machine
without GPUs skips that step and exits 1 (the NVMe read has no GPU).
With --corrupt the P2P read's verification must fail and the exit be 1; a
machine without an NVMe controller must exit 1; a bad --size exits 2.
Speed is not checked. Exit 0 when all holds, 1 with the reasons when not.
"""
import re
import subprocess
import sys
import tempfile

SIZE_MIB = 16
HMM_MIB = 8
ARGS = ["demo", "--size", str(SIZE_MIB), "--hmm-size", str(HMM_MIB)]

SECTIONS = [
    "== Topology ==",
    "== NVMe driver on nvme0 ==",
    "== Peer-to-peer memory: providers ==",
    "== Peer-to-peer distance and map type",
    "== NVMe read into GPU memory: nvme0 -> gpu0 ==",
    "== Link counters",
    "== Checks: NVMe read into GPU memory",
    "== Device-private memory",
    "== Summary ==",
]

NVME_ROWS = ["topology", "P2P matrix", "NVMe write (pattern)", "NVMe -> gpu0 P2P read",
             "bounce path read", "link counters"]
HMM_ROWS = ["migrate to device memory", "device kernel", "CPU fault-back",
            "verify every byte"]

ROW = re.compile(r"^  (.{32}) (ok|FAIL|skipped) +(.*)$")


class Checker:
    def __init__(self):
        self.errors = []

    def expect(self, ok, what):
        if not ok:
            self.errors.append(what)


def run(hetmem, args):
    return subprocess.run([hetmem] + args, capture_output=True, text=True, check=False,
                          timeout=300)


def summary(out):
    """The summary's rows, {step: (result, figure)}."""
    rows = {}
    lines = out.split("== Summary ==", 1)[-1].splitlines()
    for line in lines:
        m = ROW.match(line)
        if m:
            rows[m.group(1).strip()] = (m.group(2), m.group(3))
    return rows


def counter_row(out, link):
    """The numbers of a link's row in the counter table."""
    for line in out.split("== Link counters", 1)[-1].splitlines():
        fields = line.split()
        if fields and fields[0] == link:
            return [int(x) for x in fields[2:]]
    return None


def check_default(c, hetmem):
    r = run(hetmem, ARGS)
    out = r.stdout
    c.expect(r.returncode == 0, f"demo exited {r.returncode}: {r.stderr.strip()}")

    at = 0
    for s in SECTIONS:
        i = out.find(s, at)
        c.expect(i >= 0, f"section '{s}' missing or out of order")
        at = i if i >= 0 else at

    # A progress line (or bar) that finished, with a rate, for each transfer.
    for label in ["write pattern", "P2P read", "bounce read"]:
        c.expect(re.search(rf"{label} .*100%.* of {SIZE_MIB} MiB in [0-9.]+ ms, [0-9.]+ GB/s",
                           out), f"no finished progress line for '{label}'")

    sums = dict(re.findall(r"checksum of (what was written|gpu0 +after the P2P read|"
                           r"gpu0 +after the bounce read) +(0x[0-9a-f]{16})", out))
    c.expect(len(sums) == 3, f"expected three checksums, found {sums}")
    c.expect(len(set(sums.values())) == 1, f"checksums differ: {sums}")
    c.expect(re.search(r"peer-to-peer [0-9.]+ GB/s, bounce path [0-9.]+ GB/s: "
                       r"peer-to-peer is [0-9.]+x", out), "no throughput comparison")

    # Columns: write up/down, P2P up/down, bounce up/down.
    gpu0, rp0 = counter_row(out, "gpu0"), counter_row(out, "rp0")
    size = SIZE_MIB << 20
    c.expect(gpu0 is not None and gpu0[3] == size,
             f"gpu0's link did not get {size} bytes from the P2P read: {gpu0}")
    c.expect(rp0 is not None and rp0[2] + rp0[3] < size // 64,
             f"the P2P read's data went through rp0: {rp0}")
    c.expect(rp0 is not None and rp0[4] >= size,
             f"the bounce read's data did not go up rp0: {rp0}")
    c.expect(re.search(r"peer-to-peer bytes +0 +0 +0$", out, re.M),
             "peer-to-peer bytes through the root complex")

    c.expect("FAIL" not in out, "a check failed:\n" + "\n".join(
        line for line in out.splitlines() if "FAIL" in line))
    c.expect(re.search(r"^hetmem demo: [1-9][0-9]* checks passed, 0 failed$", out, re.M),
             "no closing line with 0 failed")

    rows = summary(out)
    for step in NVME_ROWS:
        c.expect(rows.get(step, ("missing",))[0] == "ok", f"summary row '{step}': "
                 f"{rows.get(step)}")
    if rows.get("device-private memory", ("",))[0] == "skipped":
        print("device-private steps skipped: no userfaultfd here")
    else:
        for step in HMM_ROWS:
            c.expect(rows.get(step, ("missing",))[0] == "ok", f"summary row '{step}': "
                     f"{rows.get(step)}")
        c.expect(re.search(r"CPU fault-back +ok +[1-9][0-9]* faults \+ [0-9]+ prefetched",
                           out), "the CPU touch did not fault")
        check_hmm(c, out)
    c.expect(re.search(r"^  total +ok +[0-9.]+ s, ", out, re.M), "no total row")


def check_hmm(c, out):
    """The device-private step's own lines: checksums, and the GPU's."""
    hmm = out.split("== Device-private memory", 1)[-1].split("== Summary ==", 1)[0]
    fill = re.search(r"CPU fill +%d MiB .*checksum (0x[0-9a-f]{16})$" % HMM_MIB, hmm, re.M)
    kern = re.search(r"device kernel +y = 3x \+ 1 over floats: [0-9.]+ ms; checksum read "
                     r"(0x[0-9a-f]{16}), written (0x[0-9a-f]{16});", hmm)
    ref = re.search(r"wrote what the CPU computes \(checksum (0x[0-9a-f]{16}), "
                    r"the CPU's (0x[0-9a-f]{16})\)", hmm)
    c.expect(fill and kern and fill.group(1) == kern.group(1),
             "the device kernel did not read the checksum the CPU wrote")
    c.expect(kern and ref and kern.group(2) == ref.group(1) == ref.group(2),
             "the device's checksum of its result is not the CPU's")
    c.expect(re.search(r"ok +verify: every byte is y = 3x \+ 1", hmm), "no verified bytes")
    c.expect(re.search(r"^  device kernel +ok +y = 3x \+ 1, [0-9.]+ ms, [0-9]+ device faults$",
                       out, re.M), "no device kernel row with its device faults")
    if "device: the emulated GPU" not in hmm:
        print("device-private step on the HMM test device: the GPU driver is not built")
        return
    c.expect("bound the GPU driver to gpu0 " in hmm, "the GPU driver was not bound to gpu0")
    m = re.search(r"GPU driver +([0-9]+) kernel launches, [0-9]+ commands; ([0-9]+) device "
                  r"faults in [0-9]+ batches,\n +([0-9]+) serviced, ([0-9]+) cancelled", hmm)
    # FILL, two CHECKSUMs, SAXPY in place and one SAXPY per 2 MiB.
    c.expect(m and int(m.group(1)) == 4 + HMM_MIB // 2,
             f"GPU driver line missing or not {4 + HMM_MIB // 2} launches: "
             f"{m.group(0) if m else None}")
    c.expect(m and m.group(2) == m.group(3) and m.group(4) == "0",
             "device faults not all serviced, or some cancelled")


def check_corrupt(c, hetmem):
    r = run(hetmem, ARGS + ["--corrupt"])
    rows = summary(r.stdout)
    c.expect(r.returncode == 1, f"--corrupt: exit {r.returncode}, not 1")
    c.expect(rows.get("NVMe -> gpu0 P2P read", ("",))[0] == "FAIL",
             f"--corrupt: the P2P read's row is {rows.get('NVMe -> gpu0 P2P read')}")
    c.expect(rows.get("bounce path read", ("",))[0] == "ok",
             "--corrupt: the bounce path's row is not ok")
    c.expect(re.search(r"^hetmem demo: [0-9]+ checks passed, 1 failed$", r.stdout, re.M),
             "--corrupt: not exactly one failed check")


def check_no_nvme(c, hetmem, default_ini):
    text = open(default_ini, encoding="utf-8").read()
    start, end = text.index("[endpoint nvme0]"), text.index("[endpoint gpu0]")
    with tempfile.NamedTemporaryFile("w", suffix=".ini") as f:
        f.write(text[:start] + text[end:])
        f.flush()
        r = run(hetmem, ARGS + ["--machine", f.name])
    c.expect(r.returncode == 1, f"no NVMe controller: exit {r.returncode}, not 1")
    c.expect("no emulated NVMe controller" in r.stderr,
             f"no NVMe controller: no reason given: {r.stderr.strip()}")
    c.expect(summary(r.stdout).get("NVMe driver probe", ("",))[0] == "FAIL",
             "no NVMe controller: no failed probe row")


def check_no_gpu(c, hetmem, default_ini):
    text = open(default_ini, encoding="utf-8").read()
    start = text.index("[endpoint gpu0]")
    mid, end = text.index("[root-port rp1]"), text.index("[endpoint gpu1]")
    with tempfile.NamedTemporaryFile("w", suffix=".ini") as f:
        f.write(text[:start] + text[mid:end])
        f.flush()
        r = run(hetmem, ARGS + ["--machine", f.name])
    rows = summary(r.stdout)
    c.expect(r.returncode == 1, f"no GPU: exit {r.returncode}, not 1")
    c.expect(rows.get("device-private memory", ("",))[0] == "skipped"
             or rows.get("verify every byte", ("",))[0] == "ok",
             f"no GPU: the device-private step neither skipped nor ran: {rows}")


def main():
    hetmem, default_ini = sys.argv[1], sys.argv[2]
    c = Checker()
    check_default(c, hetmem)
    check_corrupt(c, hetmem)
    check_no_nvme(c, hetmem, default_ini)
    check_no_gpu(c, hetmem, default_ini)
    r = run(hetmem, ["demo", "--size", "0"])
    c.expect(r.returncode == 2, f"--size 0: exit {r.returncode}, not 2")
    for e in c.errors:
        print(e)
    return 1 if c.errors else 0


if __name__ == "__main__":
    sys.exit(main())
