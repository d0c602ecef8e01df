#!/usr/bin/python3
"""Parked /sync long-polls woken by one send (issue 13's long-poll scenario).

    longpoll.py --hs URL --pid PID --polls N [--users 20] [--procs P] [--wait 90]
                [--client PATH/axon-longpoll-client]

Against a fresh server (scripts/bench --longpoll starts one per N): registers --users users in
one room, parks N incremental `/sync?since=<next_batch>&timeout=60000` long-polls (N/users per
user, each on its own TCP connection, spread over --procs client processes so that no process
needs more than ~5,000 sockets), waits until the server is quiet, sends one message and records
for every poll the time from just before the send until its whole response arrived and whether
it carried the event (in rooms.join[room].timeline.events). Polls still outstanding --wait
seconds after the send count as late. Reads the server's VmRSS from /proc: idle (users
registered, nothing parked), parked, and after every poll has ended.

Syncs pass set_presence=offline, so that one user's first poll does not wake the others with a
presence change (only the send should wake them).

With --client, axon-longpoll-client processes (one per 15,000 polls) (tests/bench/longpoll_client.cpp: C++, one Asio
thread each) hold the polls instead of the aiohttp processes: a Python client spends about 0.1 ms
of CPU per answer on the server's cores, which shows up as wake-up time that is not the
server's.

Prints one result line per run, `longpoll: {json}`, that scripts/bench turns into a table.
Needs aiohttp (Debian's python3-aiohttp); use /usr/bin/python3.
"""

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import queue
import resource
import subprocess
import sys
import threading
import time
import urllib.parse

import aiohttp

POLL_TIMEOUT_MS = 60000
API = "/_matrix/client/v3"


def now():
    # CLOCK_MONOTONIC is one clock for every process of the machine: the workers' arrival times
    # and the parent's send time compare directly.
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def proc_status(pid):
    """VmRSS and VmHWM in KiB and the thread count of a process, from /proc."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                out[key] = int(value.split()[0])
    return out


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def log(line):
    print(f"longpoll: {line}", file=sys.stderr, flush=True)


def percentile(sorted_values, p):
    """Nearest-rank percentile; math.inf stands for a poll that was not woken with the event."""
    if not sorted_values:
        return math.inf
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


# ---- worker process: holds its share of the polls -----------------------------------------

async def worker_main(conn, hs, room, polls):
    """polls: [(access_token, since)]. Reports ("status", sent, done) every 0.2 s until the parent
    sends ("deadline", t_send, t_deadline), then ("results", [(kind, arrival or None)])."""
    sent = 0
    done = 0
    trace = aiohttp.TraceConfig()

    async def on_headers_sent(_session, _ctx, _params):
        nonlocal sent
        sent += 1
    trace.on_request_headers_sent.append(on_headers_sent)

    # limit=0: no cap on connections; force_close: never reuse one, so each poll has its own.
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=None, connect=None, sock_connect=None, sock_read=None)
    results = [None] * len(polls)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout,
                                     trace_configs=[trace]) as session:
        async def poll(i, token, since):
            nonlocal done
            query = urllib.parse.urlencode({"since": since, "timeout": str(POLL_TIMEOUT_MS),
                                            "set_presence": "offline"})
            try:
                async with session.get(f"{hs}{API}/sync?{query}",
                                       headers={"Authorization": f"Bearer {token}"}) as resp:
                    body = await resp.read()
                    arrived = now()
                    if resp.status != 200:
                        results[i] = (f"status {resp.status}", arrived, None)
                    else:
                        events = (json.loads(body).get("rooms", {}).get("join", {})
                                  .get(room, {}).get("timeline", {}).get("events", []))
                        results[i] = ("body", arrived, [e.get("event_id") for e in events])
            except asyncio.CancelledError:
                results[i] = ("late", None, None)
                raise
            except (aiohttp.ClientError, OSError, ValueError) as e:
                results[i] = (f"error {type(e).__name__}", now(), None)
            finally:
                done += 1

        tasks = []
        # Opened in batches: thousands of SYNs at once overflow the listen backlog and cost
        # retransmission seconds, which only slows the parking (not measured) down.
        for start in range(0, len(polls), 250):
            for i in range(start, min(start + 250, len(polls))):
                tasks.append(asyncio.ensure_future(poll(i, *polls[i])))
            await asyncio.sleep(0.05)
        deadline = None
        while deadline is None:
            conn.send(("status", sent, done))
            while conn.poll():
                msg = conn.recv()
                if msg[0] == "deadline":
                    t_send, deadline = msg[1], msg[2]
            await asyncio.sleep(0.2)
        pending = [t for t in tasks if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=max(0.0, deadline - now()))
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    conn.send(("results", results, t_send))


def worker_entry(conn, hs, room, polls):
    asyncio.run(worker_main(conn, hs, room, polls))


# Polls one axon-longpoll-client holds (one Asio thread handles many more; this keeps each process
# inside a 20,000 file-descriptor limit).
CPP_SOCKETS = 15000


class CppWorker:
    """The axon-longpoll-client process behind the interface the parent uses for a worker
    process and its pipe (poll/recv/send, is_alive/exitcode/join)."""

    def __init__(self, binary, hs, polls):
        url = urllib.parse.urlsplit(hs)
        self.proc = subprocess.Popen([binary, url.hostname, str(url.port)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        self.messages = queue.Queue()
        self.t_send = None
        self.proc.stdin.write(f"{len(polls)}\n" + "".join(f"{t} {s}\n" for t, s in polls))
        self.proc.stdin.flush()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        results = []
        for line in self.proc.stdout:
            words = line.split()
            if not words:
                continue
            if words[0] == "status":
                self.messages.put(("status", int(words[1]), int(words[2])))
            elif words[0] == "end":
                self.messages.put(("results", results, self.t_send))
                return
            else:
                kind, arrival, ids = words[0], words[1], words[2:]
                at = None if arrival == "-" else float(arrival)
                if kind == "body":
                    results.append(("body", at, ids))
                elif kind == "late":
                    results.append(("late", None, None))
                else:
                    results.append((kind.replace("-", " "), at, None))

    def poll(self):
        return not self.messages.empty()

    def recv(self):
        return self.messages.get()

    def send(self, msg):
        if msg[0] == "deadline":
            self.t_send = msg[1]
            self.proc.stdin.write(f"deadline {msg[1]:.6f} {msg[2]:.6f}\n")
            self.proc.stdin.flush()

    def is_alive(self):
        return self.proc.poll() is None

    @property
    def exitcode(self):
        return self.proc.poll()

    def join(self, timeout=None):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# ---- parent: setup, measurements, the send ------------------------------------------------

async def call(session, method, url, token=None, body=None, ok=(200,)):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with session.request(method, url, json=body, headers=headers) as resp:
        data = await resp.json(content_type=None)
        if resp.status not in ok:
            raise RuntimeError(f"{method} {url}: {resp.status} {data}")
        return resp.status, data


async def register(session, hs, name):
    password = "correct horse battery"
    _, first = await call(session, "POST", f"{hs}{API}/register",
                          body={"username": name, "password": password}, ok=(401,))
    _, body = await call(session, "POST", f"{hs}{API}/register", body={
        "username": name, "password": password,
        "auth": {"type": "m.login.dummy", "session": first.get("session")}})
    return body["access_token"]


async def wait_quiet(pid, quiet_s, limit_s):
    """Waits until the server has used (almost) no CPU and kept its thread count for quiet_s
    (at most limit_s). Returns the seconds waited."""
    start = now()
    hz = os.sysconf("SC_CLK_TCK")
    last_ticks, last_threads, quiet_since = cpu_ticks(pid), proc_status(pid)["Threads"], now()
    while now() - start < limit_s:
        await asyncio.sleep(0.5)
        ticks, threads = cpu_ticks(pid), proc_status(pid)["Threads"]
        if ticks - last_ticks > 0.02 * hz or threads != last_threads:  # > 4% of a core
            quiet_since = now()
        last_ticks, last_threads = ticks, threads
        if now() - quiet_since >= quiet_s:
            break
    return now() - start


async def run(args):
    hs = args.hs.rstrip("/")
    n = args.polls
    procs = args.procs or max(1, math.ceil(n / (CPP_SOCKETS if args.client else 5000)))
    deadline_wait = args.wait
    async with aiohttp.ClientSession() as session:
        for _ in range(int(args.server_wait * 10)):
            try:
                async with session.get(f"{hs}/_matrix/client/versions") as resp:
                    if resp.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        stamp = f"{os.getpid()}x{int(time.time())}"
        tokens = [await register(session, hs, f"lp{stamp}u{u}") for u in range(args.users)]
        _, created = await call(session, "POST", f"{hs}{API}/createRoom", tokens[0],
                                {"preset": "public_chat", "name": "long-poll bench"})
        room = created["room_id"]
        for t in tokens[1:]:
            await call(session, "POST", f"{hs}{API}/join/{urllib.parse.quote(room)}", t, {})
        since = []
        for t in tokens:  # after every join: a join is not news for anyone's parked poll
            _, body = await call(session, "GET",
                                 f"{hs}{API}/sync?timeout=0&set_presence=offline", t)
            since.append(body["next_batch"])
        await wait_quiet(args.pid, 2.0, 30)
        idle = proc_status(args.pid)
        log(f"N={n}: {args.users} users in {room}; idle VmRSS {idle['VmRSS'] // 1024} MiB; "
            f"parking over {procs} client process(es)")

        polls = [(tokens[i % args.users], since[i % args.users]) for i in range(n)]
        shares = [polls[p::procs] for p in range(procs)]
        ctx = multiprocessing.get_context("spawn")
        workers = []
        if args.client:
            for share in shares:
                worker = CppWorker(args.client, hs, share)
                workers.append((worker, worker))
        for share in ([] if args.client else shares):
            parent_end, child_end = ctx.Pipe()
            proc = ctx.Process(target=worker_entry, args=(child_end, hs, room, share), daemon=True)
            proc.start()
            workers.append((proc, parent_end))
        status = [(0, 0)] * procs

        def drain():
            for k, (_, c) in enumerate(workers):
                while c.poll():
                    msg = c.recv()
                    if msg[0] == "status":
                        status[k] = msg[1:]

        t_park = now()
        while now() - t_park < args.park_limit:
            await asyncio.sleep(0.2)
            drain()
            if sum(s[0] for s in status) + sum(s[1] for s in status) >= n:
                break
        sent_all = sum(s[0] for s in status)
        settle = await wait_quiet(args.pid, args.quiet, args.park_limit)
        await asyncio.sleep(args.settle)
        drain()
        parked_s = now() - t_park
        sent_all, early = sum(s[0] for s in status), sum(s[1] for s in status)
        parked = proc_status(args.pid)
        log(f"N={n}: {sent_all} requests sent, {early} already returned; server threads "
            f"{parked['Threads']}, VmRSS {parked['VmRSS'] // 1024} MiB; sending")

        t_send = now()
        _, sent_body = await call(session, "PUT",
                                  f"{hs}{API}/rooms/{urllib.parse.quote(room)}/send/"
                                  f"m.room.message/lp{stamp}", tokens[0],
                                  {"msgtype": "m.text", "body": "wake up"})
        send_ms = (now() - t_send) * 1000
        event_id = sent_body["event_id"]
        for _, c in workers:
            c.send(("deadline", t_send, t_send + deadline_wait))
        log(f"N={n}: sent {event_id} in {send_ms:.1f} ms; waiting up to {deadline_wait:.0f} s")
        results = []
        for (proc, c), share in zip(workers, shares):
            while True:
                while not c.poll() and proc.is_alive():
                    await asyncio.sleep(0.1)
                if not c.poll():  # it died without results: its polls count as errors
                    results.extend([(f"error client process exit {proc.exitcode}", None, None)]
                                   * len(share))
                    break
                msg = c.recv()
                if msg[0] == "results":
                    results.extend(msg[1])
                    break
            proc.join(30)

    kinds = {}
    waits = []
    for kind, arrived, events in results:
        if kind == "body":
            if arrived < t_send:
                kind = "early"
            elif event_id in events:
                kind = "woken"
                waits.append((arrived - t_send) * 1000)
            else:
                kind = "no event"
        kinds[kind] = kinds.get(kind, 0) + 1
    waits.sort()
    everyone = waits + [math.inf] * (n - len(waits))  # not woken counts as never
    # Let the server finish with polls the client gave up on, then read its memory again.
    await asyncio.sleep(2)
    await wait_quiet(args.pid, args.quiet, max(30, args.wait))
    after = proc_status(args.pid)

    def ms(v):
        return None if math.isinf(v) else round(v, 1)
    out = {
        "n": n, "procs": procs, "users": args.users,
        "parked": sent_all - early, "early": early, "woken": kinds.get("woken", 0),
        "errors": n - kinds.get("woken", 0), "kinds": kinds,
        "idle_kib": idle["VmRSS"], "parked_kib": parked["VmRSS"], "after_kib": after["VmRSS"],
        "peak_kib": after["VmHWM"], "threads": [idle["Threads"], parked["Threads"],
                                                after["Threads"]],
        # per poll the server held at the send (N when every poll parked)
        "per_poll_kib": round((parked["VmRSS"] - idle["VmRSS"]) / max(1, sent_all - early), 2),
        "p50_ms": ms(percentile(everyone, 50)), "p99_ms": ms(percentile(everyone, 99)),
        "max_ms": ms(everyone[-1]) if everyone else None,
        "woken_max_ms": round(waits[-1], 1) if waits else None,
        "send_ms": round(send_ms, 1), "park_s": round(parked_s, 1), "settle_s": round(settle, 1),
        "wait_s": deadline_wait,
    }
    print("longpoll: " + json.dumps(out), flush=True)  # the result, on stdout
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hs", required=True)
    ap.add_argument("--pid", type=int, required=True, help="the server's pid (for /proc)")
    ap.add_argument("--polls", type=int, required=True)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--procs", type=int, default=0, help="client processes (default N/5000)")
    ap.add_argument("--wait", type=float, default=90.0,
                    help="seconds after the send after which outstanding polls count as late")
    ap.add_argument("--park-limit", type=float, default=120.0,
                    help="at most this long to open the polls and for the server to settle")
    ap.add_argument("--quiet", type=float, default=2.0,
                    help="the server counts as settled after this long without CPU use")
    ap.add_argument("--settle", type=float, default=1.0, help="then this much longer")
    ap.add_argument("--server-wait", type=float, default=30.0)
    ap.add_argument("--client", default="",
                    help="axon-longpoll-client binary: holds every poll (instead of aiohttp)")
    args = ap.parse_args()
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    per_proc = math.ceil(args.polls / (args.procs or max(
        1, math.ceil(args.polls / (CPP_SOCKETS if args.client else 5000)))))
    if soft < per_proc + 100:
        print(f"longpoll: the file-descriptor limit ({soft}) is below the {per_proc + 100} one "
              f"client process needs; raise ulimit -n or pass more --procs", file=sys.stderr)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
