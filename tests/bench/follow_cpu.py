#!/usr/bin/python3
"""The CPU an instance spends only following replication (workers issue's benchmark).

    follow_cpu.py --binary build/axon [--rate 40] [--seconds 30]

Needs AXON_TEST_PG (a libpq conninfo) and AXON_TEST_REDIS (host:port), as scripts/bench --follow
provides. Starts main (the events writer and every other stream's) and worker1 (client listener,
no writer: it only follows the streams over Redis), one user on each in a shared room (with
--sync, worker1's user long-polls /sync the whole time). Sends --rate messages/s through main for
--seconds and reports the CPU time of each process from /proc (utime + stime) over that window.
"""

import argparse
import os
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import harness  # noqa: E402
from run_e2e import Postgres  # noqa: E402


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--rate", type=float, default=40.0)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--sync", action="store_true",
                    help="also keep a /sync long-polling on worker1 (it then serves a client too)")
    args = ap.parse_args()
    pg = Postgres(os.environ["AXON_TEST_PG"])
    host, port = os.environ["AXON_TEST_REDIS"].rsplit(":", 1)
    tmp = tempfile.mkdtemp(prefix="axon-follow-")
    layout = harness.workers_layout(host, port, writer_of=[], events="main")
    overrides = {k: v for k, v in layout.items() if not k.startswith("_")}
    for key in ("rc_message",):
        overrides[key] = dict(harness.HIGH)
    main_srv = harness.Server(args.binary, os.path.join(tmp, "main"), pg.new_database("follow"),
                              overrides, name="main")
    main_srv.config["listeners"].append({
        "port": layout["_replication_listener"], "bind_addresses": ["127.0.0.1"], "type": "http",
        "resources": [{"names": ["replication"]}]})
    main_srv.rewrite()
    worker = harness.Server(args.binary, os.path.join(tmp, "worker1"), None, name="worker1",
                            worker_of=main_srv, worker=layout["_worker1"])
    try:
        main_srv.start()
        worker.start()
        alice = harness.register(main_srv.api)
        bob = harness.register(worker.api)
        room = alice.create_room(preset="public_chat")
        bob.join(room)
        stop = threading.Event()
        since = [bob.sync()["next_batch"]]

        def poll():
            while not stop.is_set():
                try:
                    since[0] = bob.sync(since=since[0], timeout=30000)["next_batch"]
                except Exception:  # noqa: BLE001 - the server stops at the end
                    return

        if args.sync:
            threading.Thread(target=poll, daemon=True).start()
        time.sleep(1.0)
        c_main, c_worker = cpu_seconds(main_srv.proc.pid), cpu_seconds(worker.proc.pid)
        t0 = time.monotonic()
        n = 0
        while time.monotonic() - t0 < args.seconds:
            alice.send(room, f"follow {n}")
            n += 1
            next_at = t0 + n / args.rate
            time.sleep(max(0.0, next_at - time.monotonic()))
        elapsed = time.monotonic() - t0
        d_main = cpu_seconds(main_srv.proc.pid) - c_main
        d_worker = cpu_seconds(worker.proc.pid) - c_worker
        stop.set()
        print(f"{n} events in {elapsed:.1f} s ({n / elapsed:.1f}/s) through main; worker1 follows "
              f"over Redis" + (" and serves one long-polling /sync" if args.sync else ""))
        print(f"  main (events writer)  : {100 * d_main / elapsed:.2f}% of a core, "
              f"RSS {rss_mib(main_srv.proc.pid):.1f} MiB")
        print(f"  worker1               : {100 * d_worker / elapsed:.2f}% of a core, "
              f"RSS {rss_mib(worker.proc.pid):.1f} MiB")
    finally:
        worker.stop()
        main_srv.stop()
        pg.drop_all()


if __name__ == "__main__":
    main()
