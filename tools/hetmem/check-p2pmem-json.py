#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Check `hetmem p2pmem --json` on the default machine.

Usage: check-p2pmem-json.py HETMEM

The output must be valid JSON with the documented keys, and describe the
default machine: gpu0 and gpu1 each provide their whole 256 MiB BAR2,
published and unallocated; nvme0's closest provider is gpu0, four hops away
below their shared switch (BUS_ADDR); every GPU is its own closest provider.
Exit 0 when it does, 1 (with the reasons) when not.
"""
import json
import subprocess
import sys


def main():
    hetmem = sys.argv[1]
    run = subprocess.run([hetmem, "p2pmem", "--json"], capture_output=True, text=True,
                         check=False)
    if run.returncode != 0:
        print(f"hetmem p2pmem --json exited {run.returncode}: {run.stderr}")
        return 1
    try:
        doc = json.loads(run.stdout)
    except json.JSONDecodeError as e:
        print(f"not valid JSON: {e}\n{run.stdout}")
        return 1

    errors = []

    def expect(cond, what):
        if not cond:
            errors.append(what)

    provider_keys = {"name", "address", "bar", "size", "available", "published"}
    client_keys = {"name", "address", "provider", "provider_address", "distance", "map_type"}

    providers = {p.get("name"): p for p in doc.get("providers", [])}
    clients = {c.get("name"): c for c in doc.get("clients", [])}
    expect(set(providers) == {"gpu0", "gpu1"}, f"providers {sorted(providers)}")
    expect(set(clients) == {"nvme0", "gpu0", "gpu1"}, f"clients {sorted(clients)}")
    for name, p in providers.items():
        expect(provider_keys <= set(p), f"{name}: provider keys {sorted(p)}")
        expect(p.get("bar") == 2, f"{name}: bar {p.get('bar')}")
        expect(p.get("size") == 256 << 20, f"{name}: size {p.get('size')}")
        expect(p.get("available") == p.get("size"), f"{name}: available {p.get('available')}")
        expect(p.get("published") is True, f"{name}: published {p.get('published')}")
    for name, c in clients.items():
        expect(client_keys <= set(c), f"{name}: client keys {sorted(c)}")
        expect(c.get("map_type") != "BUS_ADDR" or "reason" not in c,
               f"{name}: a reason for BUS_ADDR")

    nvme = clients.get("nvme0", {})
    expect(nvme.get("provider") == "gpu0", f"nvme0's provider {nvme.get('provider')}")
    expect(nvme.get("distance") == 4, f"nvme0's distance {nvme.get('distance')}")
    expect(nvme.get("map_type") == "BUS_ADDR", f"nvme0's map type {nvme.get('map_type')}")
    for gpu in ("gpu0", "gpu1"):
        c = clients.get(gpu, {})
        expect(c.get("provider") == gpu and c.get("distance") == 0,
               f"{gpu}'s provider {c.get('provider')} at distance {c.get('distance')}")

    for e in errors:
        print(f"FAIL {e}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
