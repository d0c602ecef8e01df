#!/usr/bin/python3
"""Federation between two Axon servers on PostgreSQL (federation issue's benchmark):

  throughput: one user on A sends --messages messages into a room shared with a user on B
              (--senders requests in flight at once), as fast as A takes them and then paced at
              --rate a second; events/s from the first send to the last arrival in B's /sync, and
              the latency from each send to its arrival there (p50, p99);
  join:       a room on A with --members members and --state other state events; a user on B
              joins it: time from the client's /join to its answer, and to the first /sync on B
              that shows the room.

    federation_bench.py --binary build/axon [--messages 2000] [--senders 8] [--members 1000]

The throughput runs are driven by axon-bench (`--only f`, next to --binary): the C++ client's
sends and /syncs cost a fraction of what this script's threads do, and on two cores that CPU
would otherwise be taken from the servers (at 1,000 messages/s the Python client used about half
a core). `--python` runs them from here instead.
Needs AXON_TEST_PG (a libpq conninfo), as scripts/bench --federation provides. Both servers are
named localhost:PORT and talk TLS with a CA made here (tests/e2e/fedlib.py), all on loopback.
"""
import argparse
import subprocess
import concurrent.futures
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import fedlib  # noqa: E402
import harness  # noqa: E402
from harness import expect_ok, q  # noqa: E402
from run_e2e import Postgres  # noqa: E402


class Context:
    def __init__(self, binary, tmp, pg):
        self.binary, self.tmp, self.pg, self.servers = binary, tmp, pg, []

    def make_server(self, name, overrides=None):
        directory = os.path.join(self.tmp, name)
        os.makedirs(directory, exist_ok=True)
        s = harness.Server(self.binary, directory, self.pg.new_database(name), overrides, name=name)
        self.servers.append(s)
        return s


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def throughput(a, b, messages, senders, rate=0.0):
    alice, bob = harness.register(a.api), harness.register(b.api)
    room = alice.create_room(preset="public_chat", room_version="10")
    # server_name: Synapse needs to be told where the room is (Axon also tries the room id's server).
    expect_ok(bob.post(f"/join/{q(room)}", {}, query={"server_name": a.server_name}), "join")
    harness.wait_until(lambda: len(expect_ok(alice.get(f"/rooms/{q(room)}/joined_members"))["joined"]) == 2,
                       timeout=20)
    since = bob.sync()["next_batch"]
    arrivals = {}
    done = threading.Event()
    filt = '{"room":{"timeline":{"limit":1000}},"presence":{"not_types":["*"]}}'

    def follow():
        nonlocal since
        while not done.is_set():
            body = bob.sync(since=since, timeout=5000, filter=filt)
            now = time.monotonic()
            since = body["next_batch"]
            for e in body.get("rooms", {}).get("join", {}).get(room, {}).get("timeline", {}).get("events", []):
                text = e.get("content", {}).get("body", "")
                if text.startswith("bench "):
                    arrivals.setdefault(int(text.split()[1]), now)
            if len(arrivals) >= messages:
                done.set()

    sent_at = {}
    follower = threading.Thread(target=follow, daemon=True)
    follower.start()

    t0 = time.monotonic()

    def send(i):
        if rate:
            # Paced: message i goes at t0 + i / rate.
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        sent_at[i] = time.monotonic()
        r = alice.put(f"/rooms/{q(room)}/send/m.room.message/b{i}", {"msgtype": "m.text", "body": f"bench {i}"})
        if r.status != 200:
            raise RuntimeError(f"send {i}: {r}")

    with concurrent.futures.ThreadPoolExecutor(senders) as pool:
        list(pool.map(send, range(messages)))
    sent_all = time.monotonic()
    if not done.wait(120):
        raise RuntimeError(f"only {len(arrivals)} of {messages} arrived on B")
    last = max(arrivals.values())
    latencies = [(arrivals[i] - sent_at[i]) * 1000 for i in range(messages)]
    return {
        "messages": messages,
        "send_rate": messages / (sent_all - t0),
        "events_per_s": messages / (last - t0),
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
    }


def join_big_room(a, b, members, state_events):
    owner = harness.register(a.api)
    room = owner.create_room(preset="public_chat", room_version="10")
    for i in range(state_events):
        expect_ok(owner.put(f"/rooms/{q(room)}/state/io.axon.bench/{i}", {"i": i}), "state")

    def member(_):
        u = harness.register(a.api)
        while True:
            r = u.post(f"/join/{q(room)}", {})
            if r.status != 429:  # Synapse's per-room join limit: wait as told
                expect_ok(r, "join")
                return
            time.sleep(r.json.get("retry_after_ms", 100) / 1000)

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(member, range(members - 1)))
    made = time.monotonic() - t0
    joiner = harness.register(b.api)
    since = joiner.sync()["next_batch"]
    filt = '{"room":{"timeline":{"limit":10}}}'
    t_join = time.monotonic()
    r = joiner.post(f"/join/{q(room)}", {}, query={"server_name": a.server_name})
    t_answer = time.monotonic()
    if r.status != 200:
        raise RuntimeError(f"join: {r}")
    while True:
        body = joiner.sync(since=since, timeout=10000, filter=filt)
        since = body["next_batch"]
        if room in body.get("rooms", {}).get("join", {}):
            break
        if time.monotonic() - t_join > 60:
            raise RuntimeError("the room never showed in /sync")
    t_sync = time.monotonic()
    count = len(expect_ok(joiner.get(f"/rooms/{q(room)}/joined_members"))["joined"])
    return {
        "members": count,
        "state_events": state_events,
        "join_ms": (t_answer - t_join) * 1000,
        "first_sync_ms": (t_sync - t_join) * 1000,
        "setup_s": made,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--senders", type=int, default=8)
    ap.add_argument("--rate", type=float, default=1000.0,
                    help="the paced run's messages/s (the unpaced run sends as fast as A takes them)")
    ap.add_argument("--members", type=int, default=1000)
    ap.add_argument("--state", type=int, default=100)
    ap.add_argument("--only", default="tj", help="t: throughput, j: join")
    ap.add_argument("--keep", action="store_true", help="keep the servers' folder (logs)")
    ap.add_argument("--python", action="store_true", help="throughput from this script, not axon-bench")
    args = ap.parse_args()
    pg = Postgres(os.environ["AXON_TEST_PG"])
    tmp = tempfile.mkdtemp(prefix="axon-fedbench-")
    ctx = Context(os.path.abspath(args.binary), tmp, pg)
    high = dict(harness.HIGH)
    limits = {"rc_message": high, "rc_registration": high, "rc_joins": {"local": high, "remote": high},
              "rc_federation": {"window_size": 1000, "sleep_limit": 100000, "sleep_delay": 0,
                                "reject_limit": 100000, "concurrent": 1000}}
    a = fedlib.federating_server(ctx, "fed-a", **limits)
    b = fedlib.federating_server(ctx, "fed-b", **limits)
    try:
        a.start()
        b.start()
        if "t" in args.only and not args.python:
            bench = os.path.join(os.path.dirname(os.path.abspath(args.binary)), "axon-bench")
            r = subprocess.run([bench, "--hs", a.url, "--remote", b.url, "--only", "f",
                                "--messages", str(args.messages), "--senders", str(args.senders),
                                "--rate", str(int(args.rate))])
            if r.returncode != 0:
                raise RuntimeError(f"axon-bench exited with {r.returncode}")
        if "t" in args.only and args.python:
            t = throughput(a, b, args.messages, args.senders)
            print(f"federation throughput A -> B, unpaced: {t['messages']} messages, {args.senders} in flight: "
                  f"{t['events_per_s']:.0f} events/s from send to B's /sync (A took them at "
                  f"{t['send_rate']:.0f}/s); latency send -> B's /sync p50 {t['p50_ms']:.1f} ms, "
                  f"p99 {t['p99_ms']:.1f} ms")
            t = throughput(a, b, args.messages, args.senders, args.rate)
            print(f"federation A -> B paced at {args.rate:.0f}/s: {t['messages']} messages, "
                  f"{t['events_per_s']:.0f} events/s arrived in B's /sync; latency send -> B's /sync "
                  f"p50 {t['p50_ms']:.1f} ms, p99 {t['p99_ms']:.1f} ms")
        if "j" in args.only:
            j = join_big_room(a, b, args.members, args.state)
            print(f"join from B of a room on A with {j['members'] - 1} members and {j['state_events']} other "
                  f"state events: /join answered in {j['join_ms']:.0f} ms, first /sync with the room at "
                  f"{j['first_sync_ms']:.0f} ms (room built in {j['setup_s']:.0f} s)")
    finally:
        for s in ctx.servers:
            s.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
