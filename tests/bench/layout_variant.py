#!/usr/bin/python3
"""Writes a variant of the `small` layout template with N events writers (the benchmark of
throughput over 1, 2 and 4 events writers).

    layout_variant.py --events-writers N OUT_DIR

OUT_DIR gets homeserver.yaml and workers/ as in config/layouts/small, with events1..eventsN
(each a copy of events1 with its own ports) in instance_map and stream_writers.events; run it
with `scripts/layout up OUT_DIR DIR`. Text edits, so the ${...} placeholders stay as they are.
"""

import argparse
import os
import re
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SMALL = os.path.join(HERE, "..", "..", "config", "layouts", "small")


def instance_block(name):
    up = name.upper()
    return f"  {name}:\n    host: 127.0.0.1\n    port: ${{PORT_{up}_REPLICATION}}\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events-writers", type=int, required=True)
    ap.add_argument("out")
    args = ap.parse_args()
    n = args.events_writers
    if not 1 <= n <= 16:
        sys.exit("layout_variant.py: --events-writers must be 1..16")
    if os.path.exists(args.out):
        shutil.rmtree(args.out)
    shutil.copytree(SMALL, args.out)
    names = [f"events{i}" for i in range(1, n + 1)]
    with open(os.path.join(SMALL, "workers", "events1.yaml")) as f:
        events1 = f.read()
    workers = os.path.join(args.out, "workers")
    for f in os.listdir(workers):
        if re.fullmatch(r"events\d+\.yaml", f):
            os.remove(os.path.join(workers, f))
    for name in names:
        text = events1.replace("events1", name).replace("EVENTS1", name.upper())
        with open(os.path.join(workers, f"{name}.yaml"), "w") as f:
            f.write(text)

    path = os.path.join(args.out, "homeserver.yaml")
    with open(path) as f:
        hs = f.read()
    # instance_map: the events writers' entries replaced by events1..N.
    hs, count = re.subn(r"(  events\d+:\n    host: 127\.0\.0\.1\n    port: \$\{PORT_EVENTS\d+_REPLICATION\}\n)+",
                        "".join(instance_block(nm) for nm in names), hs)
    if count != 1:
        sys.exit("layout_variant.py: instance_map of the small template not as expected")
    hs, count = re.subn(r"^  events: \[[^\]]*\]$", "  events: [" + ", ".join(names) + "]", hs,
                        flags=re.M)
    if count != 1:
        sys.exit("layout_variant.py: stream_writers.events of the small template not as expected")
    with open(path, "w") as f:
        f.write(hs)


if __name__ == "__main__":
    main()
