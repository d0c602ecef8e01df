"""Faults in a layout of several instances (workers issue): Redis going away under traffic, and
an events writer killed with SIGKILL while clients send. Each test builds its own layout (main +
worker1 over its own Redis) on PostgreSQL; run_e2e.py runs them with --engine postgres."""

import hashlib
import os
import signal
import subprocess
import threading
import time

from harness import (expect, expect_eq, expect_ok, free_port, layout_test, q, register,
                     timeline_bodies, workers_layout)


class Redis:
    """A redis-server of the test's own, restartable on the same port."""

    def __init__(self, directory):
        self.directory, self.port, self.proc = directory, free_port(), None
        os.makedirs(directory, exist_ok=True)

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.directory],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            r = subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True,
                               text=True)
            if r.stdout.strip() == "PONG":
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


BIG_TIMELINE = {"room": {"timeline": {"limit": 1000}}}


class Collector(threading.Thread):
    """Long-polls /sync for `user` from `since` while traffic runs, as a client would, and keeps
    the message bodies of `room` in the order /sync delivered them (duplicates kept). A timeline
    limit above the traffic means no response may be `limited`."""

    def __init__(self, user, room, since):
        super().__init__(daemon=True)
        self.user, self.room, self.since = user, room, since
        self.seen, self.limited, self.errors = [], 0, []
        self.want, self.done = None, threading.Event()

    def run(self):
        deadline = None
        while True:
            if self.want is not None:
                if len(set(self.seen) & self.want) == len(self.want):
                    break
                deadline = deadline or time.monotonic() + 30
                if time.monotonic() > deadline:
                    break
            try:
                resp = self.user.sync(since=self.since, timeout=1000, filter=BIG_TIMELINE)
            except Exception as e:  # the instance may be restarting
                self.errors.append(str(e))
                time.sleep(0.2)
                continue
            self.since = resp["next_batch"]
            entry = resp["rooms"]["join"].get(self.room)
            if entry:
                self.limited += bool(entry["timeline"].get("limited"))
                self.seen += timeline_bodies(entry["timeline"]["events"])
        self.done.set()

    def finish(self, want):
        self.want = set(want)
        self.done.wait(60)
        return self.seen


@layout_test
def redis_outage_under_traffic(ctx):
    redis = Redis(os.path.join(ctx.server.directory, "..", "faults-redis"))
    redis.start()
    main = worker = None
    try:
        main, worker = ctx.start_layout("redis-outage", workers_layout("127.0.0.1", redis.port))
        alice, bob = register(main.api), register(worker.api)  # alice on main, bob on worker1
        room = alice.create_room(preset="public_chat")
        bob.join(room)
        head = bob.sync()["next_batch"]
        collector = Collector(bob, room, head)
        collector.start()
        sent, stop = [], threading.Event()

        def send_loop():
            i = 0
            while not stop.is_set():
                body = f"m{i}"
                alice.send(room, body)  # the events writer is main: Redis plays no part
                sent.append(body)
                i += 1
                time.sleep(0.05)

        sender = threading.Thread(target=send_loop)
        sender.start()
        time.sleep(1.0)
        redis.stop()  # 5 s without Redis under traffic
        time.sleep(5.0)
        redis.start()
        time.sleep(1.0)
        stop.set()
        sender.join()
        expect(len(sent) > 50, f"only {len(sent)} messages sent")
        seen = collector.finish(sent)
        expect_eq(seen, sent, "bob's /sync on worker1 saw every message once, in order")
        expect_eq(collector.limited, 0, "no limited timeline")
        # Every instance follows the streams again: a receipt and typing written by worker1's
        # writers reach alice's /sync on main.
        head_a = alice.sync()["next_batch"]
        expect_ok(bob.post(f"/rooms/{q(room)}/receipt/m.read/{q(alice.messages(room)['chunk'][0]['event_id'])}", {}),
                  "receipt after the outage")
        deadline = time.monotonic() + 10
        got = False
        while time.monotonic() < deadline and not got:
            resp = alice.sync(since=head_a, timeout=1000)
            head_a = resp["next_batch"]
            eph = resp["rooms"]["join"].get(room, {}).get("ephemeral", {}).get("events", [])
            got = any(e["type"] == "m.receipt" for e in eph)
        expect(got, "bob's receipt reached alice's /sync on main after Redis came back")
        # Each instance's own view: alice (main) sees all messages once as well.
        bodies = [e["content"]["body"] for e in reversed(alice.messages(room, limit=1000)["chunk"])
                  if e["type"] == "m.room.message"]
        expect_eq(bodies, sent, "/messages on main")
    finally:
        for s in (worker, main):
            if s:
                s.stop()
        redis.stop()


@layout_test
def events_writer_killed_while_clients_send(ctx):
    redis = Redis(os.path.join(ctx.server.directory, "..", "faults-redis-2"))
    redis.start()
    main = worker = None
    try:
        # worker1 writes the events stream (and nothing else); clients talk to main and worker1.
        layout = workers_layout("127.0.0.1", redis.port, writer_of=[], events="worker1")
        main, worker = ctx.start_layout("writer-kill", layout)
        alice, bob = register(main.api), register(worker.api)
        room = alice.create_room(preset="public_chat")
        bob.join(room)
        head = bob.sync()["next_batch"]
        collector = Collector(alice, room, alice.sync()["next_batch"])  # alice syncs on main
        collector.start()
        acked, failed = [], 0
        stop = threading.Event()

        def send_loop():
            nonlocal failed
            i = 0
            while not stop.is_set():
                body, txn = f"k{i}", f"kill-{i}"
                path = f"/rooms/{q(room)}/send/m.room.message/{txn}"
                content = {"msgtype": "m.text", "body": body}
                # Retry the same transaction id until it is acknowledged: a send that was
                # persisted before the crash must not appear twice.
                while not stop.is_set():
                    resp = alice.put(path, content, timeout=10)
                    if resp.status == 200:
                        acked.append(body)
                        break
                    failed += 1
                    expect(resp.status in (502, 503, 504), f"send failed with {resp.status}")
                    time.sleep(0.1)
                i += 1
                time.sleep(0.02)

        sender = threading.Thread(target=send_loop)
        sender.start()
        time.sleep(1.0)
        worker.proc.send_signal(signal.SIGKILL)
        worker.proc.wait()
        time.sleep(1.0)
        worker.stop()
        worker.start()
        time.sleep(1.5)
        stop.set()
        sender.join()
        expect(failed > 0, "no send failed while the events writer was down")
        expect(len(acked) > 20, f"only {len(acked)} sends acknowledged")
        # Every acknowledged event exactly once, in one order, for every reader.
        stored = [e["content"]["body"] for e in reversed(bob.messages(room, limit=1000)["chunk"])
                  if e["type"] == "m.room.message"]
        expect_eq(stored, acked, "/messages on worker1: each acknowledged send once, in order")
        seen = collector.finish(acked)
        expect_eq(seen, acked, "alice's /sync on main saw each once, in order")
        expect_eq(collector.limited, 0, "no limited timeline")
        after = bob.sync(since=head, filter=BIG_TIMELINE)["rooms"]["join"][room]["timeline"]
        expect_eq(timeline_bodies(after["events"]), acked, "bob's /sync on worker1 after restart")
        on_main = [e["content"]["body"]
                   for e in reversed(alice.messages(room, limit=1000)["chunk"])
                   if e["type"] == "m.room.message"]
        expect_eq(on_main, acked, "/messages on main")
    finally:
        for s in (worker, main):
            if s:
                s.stop()
        redis.stop()


def _writer_of(room, writers):
    """Synapse's shard function: which of `writers` writes `room` (the SHA-256 digest read as a
    little-endian integer, modulo the number of writers)."""
    digest = hashlib.sha256(room.encode()).digest()
    return writers[int.from_bytes(digest, "little") % len(writers)]


@layout_test
def events_writer_down_other_rooms_go_on(ctx):
    redis = Redis(os.path.join(ctx.server.directory, "..", "faults-redis-3"))
    redis.start()
    main = worker = None
    writers = ["main", "worker1"]
    try:
        layout = workers_layout("127.0.0.1", redis.port, writer_of=[], events=writers)
        main, worker = ctx.start_layout("writer-down", layout)
        alice, bob = register(main.api), register(worker.api)
        rooms = {}
        while len(rooms) < 2:
            room = alice.create_room(preset="public_chat")
            rooms.setdefault(_writer_of(room, writers), room)
        room_m, room_w = rooms["main"], rooms["worker1"]
        for room in (room_m, room_w):
            bob.join(room)
        since = alice.sync()["next_batch"]
        bob_since = bob.sync()["next_batch"]

        worker.proc.send_signal(signal.SIGKILL)
        worker.proc.wait()
        # main's rooms go on: each send is acknowledged and seen, within a bound.
        started = time.monotonic()
        for i in range(5):
            resp = alice.put(f"/rooms/{q(room_m)}/send/m.room.message/down-{i}",
                             {"msgtype": "m.text", "body": f"d{i}"}, timeout=20)
            expect_eq(resp.status, 200, f"send {i} into main's room while worker1 is down")
        took = time.monotonic() - started
        expect(took < 15, f"five sends took {took:.1f} s while the other writer was down")
        got = []
        deadline = time.monotonic() + 10
        while len(got) < 5 and time.monotonic() < deadline:
            resp = alice.sync(since=since, timeout=2000, filter=BIG_TIMELINE)
            since = resp["next_batch"]
            entry = resp["rooms"]["join"].get(room_m)
            if entry:
                got += timeline_bodies(entry["timeline"]["events"])
        expect_eq(got, [f"d{i}" for i in range(5)], "alice's /sync on main while worker1 is down")
        # worker1's rooms fail with a clear error, at once.
        started = time.monotonic()
        resp = alice.put(f"/rooms/{q(room_w)}/send/m.room.message/down-w",
                         {"msgtype": "m.text", "body": "w0"}, timeout=20)
        expect(resp.status in (502, 503, 504), f"send into worker1's room: {resp.status}")
        expect(time.monotonic() - started < 5, "the refused send took more than 5 s")

        worker.stop()
        worker.start()
        resp = bob.put(f"/rooms/{q(room_w)}/send/m.room.message/back-w",
                       {"msgtype": "m.text", "body": "w1"}, timeout=20)
        expect_eq(resp.status, 200, "send into worker1's room after its restart")
        resp = alice.put(f"/rooms/{q(room_m)}/send/m.room.message/back-m",
                         {"msgtype": "m.text", "body": "d5"}, timeout=20)
        expect_eq(resp.status, 200, "send into main's room after worker1's restart")
        # Every reader sees both rooms complete, each event once: bob from before the kill,
        # alice from after what she already saw.
        for user, tok, want, where in (
                (bob, bob_since, {room_m: [f"d{i}" for i in range(6)], room_w: ["w1"]},
                 "bob's /sync on worker1"),
                (alice, since, {room_m: ["d5"], room_w: ["w1"]}, "alice's /sync on main")):
            seen = {room_m: [], room_w: []}
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and seen != want:
                resp = user.sync(since=tok, timeout=2000, filter=BIG_TIMELINE)
                tok = resp["next_batch"]
                for room in (room_m, room_w):
                    entry = resp["rooms"]["join"].get(room)
                    if entry:
                        seen[room] += timeline_bodies(entry["timeline"]["events"])
            expect_eq(seen, want, f"{where}: every event once")
    finally:
        for s in (worker, main):
            if s:
                s.stop()
        redis.stop()
