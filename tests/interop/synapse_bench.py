#!/usr/bin/env python3
"""The federation benchmark of tests/bench/federation_bench.py with Synapse 1.67 on both sides,
for README's side-by-side figures: two Synapse processes, each on its own database of one
PostgreSQL (AXON_TEST_PG), federating over TLS on loopback with fedlib's CA. Not part of
scripts/test; exits 77 without Synapse (SYN_ROOT, default /opt/synapse-1.67).

    scripts/interop --bench [-- --messages 1000 --members 1000 --state 100 --rate 1000 --only tj]
"""

import argparse
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, os.path.join(HERE, "..", "bench"))

from federation_bench import join_big_room, throughput  # noqa: E402
from harness import to_yaml  # noqa: E402
from run_e2e import Postgres  # noqa: E402
from run_interop import SKIPPED, Synapse  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--senders", type=int, default=8)
    ap.add_argument("--rate", type=float, default=1000.0)
    ap.add_argument("--members", type=int, default=1000)
    ap.add_argument("--state", type=int, default=100)
    ap.add_argument("--only", default="tj")
    args = ap.parse_args()
    root = os.environ.get("SYN_ROOT", "/opt/synapse-1.67")
    if not os.path.exists(os.path.join(root, "bin", "synapse")):
        print(f"synapse bench: no Synapse at {root}: skipped")
        return SKIPPED
    pg = Postgres(os.environ["AXON_TEST_PG"])
    tmp = tempfile.mkdtemp(prefix="synapse-bench-")
    servers = []
    try:
        for name in ("syn-a", "syn-b"):
            s = Synapse(root, os.path.join(tmp, name), name=name)
            s.config["database"] = pg.new_database(name.replace("-", "_"))
            high = {"per_second": 100000, "burst_count": 100000}
            s.config.update({"rc_message": high, "rc_registration": high, "rc_joins": {"local": high, "remote": high},
                             "rc_joins_per_room": high,
                             "rc_login": {"address": high, "account": high, "failed_attempts": high},
                             "rc_federation": {"window_size": 1000, "sleep_limit": 100000, "sleep_delay": 0,
                                               "reject_limit": 100000, "concurrent": 1000}})
            with open(s.config_path, "w") as f:
                f.write(to_yaml(s.config) + "\n")
            servers.append(s)
        for s in servers:
            s.start()
        a, b = servers
        if "t" in args.only:
            t = throughput(a, b, args.messages, args.senders)
            print(f"Synapse federation A -> B, unpaced: {t['messages']} messages, {args.senders} in flight: "
                  f"{t['events_per_s']:.0f} events/s from send to B's /sync (A took them at {t['send_rate']:.0f}/s); "
                  f"latency p50 {t['p50_ms']:.1f} ms, p99 {t['p99_ms']:.1f} ms")
            t = throughput(a, b, args.messages, args.senders, args.rate)
            print(f"Synapse federation A -> B paced at {args.rate:.0f}/s: {t['events_per_s']:.0f} events/s arrived; "
                  f"latency p50 {t['p50_ms']:.1f} ms, p99 {t['p99_ms']:.1f} ms")
        if "j" in args.only:
            j = join_big_room(a, b, args.members, args.state)
            print(f"Synapse join from B of a room on A with {j['members'] - 1} members and {j['state_events']} other "
                  f"state events: /join answered in {j['join_ms']:.0f} ms, first /sync with the room at "
                  f"{j['first_sync_ms']:.0f} ms (room built in {j['setup_s']:.0f} s)")
    finally:
        for s in servers:
            s.stop()
        if os.environ.get("KEEP"):
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
