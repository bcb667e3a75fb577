# SPDX-License-Identifier: MIT
"""What the stock-tool tests share: running a command under `hetmem run`,
reading the test machine's config, failing with a message, skipping.

Exit codes: 0 pass, 1 fail, 77 skip (a stock tool is not installed)."""

import configparser
import os
import shutil
import subprocess
import sys
import tempfile

SKIP = 77


class Failed(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failed(msg)


def need(tool):
    """The path of a stock tool, or exit 77 when it is not installed."""
    path = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin:/usr/bin")
    if not path:
        print(f"{tool} is not installed: skipped")
        sys.exit(SKIP)
    return path


def size(text):
    """A machine-config size: 256M, 16K, 0x1000, 4096."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    text = text.strip()
    if text[-1].upper() in units:
        return int(text[:-1], 0) * units[text[-1].upper()]
    return int(text, 0)


def machine(path):
    """The config's sections, "[endpoint nvme0]" as "endpoint nvme0"."""
    cfg = configparser.ConfigParser(inline_comment_prefixes=(";",), interpolation=None)
    cfg.optionxform = str
    with open(path) as f:
        cfg.read_file(f)
    return cfg


class Run:
    """`hetmem run` of one machine, in a scratch directory the caller removes."""

    def __init__(self, hetmem, machine_path):
        self.hetmem = os.path.abspath(hetmem)
        self.machine = os.path.abspath(machine_path)
        self.tmp = tempfile.mkdtemp(prefix="hetmem-interpose-test.")

    def path(self, name):
        return os.path.join(self.tmp, name)

    def run(self, argv, rundir=None, counters=None, check_rc=True, opts=()):
        cmd = [self.hetmem, "run", "--machine", self.machine, *opts]
        if rundir:
            cmd += ["--dir", self.path(rundir)]
        if counters:
            cmd += ["--counters-json", self.path(counters)]
        cmd += ["--", *argv]
        r = subprocess.run(cmd, cwd=self.tmp, capture_output=True, text=True)
        if check_rc and r.returncode:
            raise Failed(f"{' '.join(argv)}: exit {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
        return r

    def sysfs(self):
        """A copy of the machine's sysfs tree (hetmem sysfs), its root."""
        root = self.path("sysfs")
        if not os.path.isdir(root):
            subprocess.run([self.hetmem, "sysfs", "--machine", self.machine, root], check=True)
        return root

    def functions(self):
        """{class: [bdf, ...]} of the machine, from its sysfs tree."""
        devs = os.path.join(self.sysfs(), "bus/pci/devices")
        out = {}
        for bdf in sorted(os.listdir(devs)):
            with open(os.path.join(devs, bdf, "class")) as f:
                out.setdefault(int(f.read(), 16), []).append(bdf)
        return out

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def main(name, body):
    """Run @body(); report a Failed check and exit 1, else 0."""
    try:
        body()
    except Failed as e:
        print(f"{name}: FAILED: {e}", file=sys.stderr)
        sys.exit(1)
    print(f"{name}: passed")
    sys.exit(0)
