#!/usr/bin/env python3
"""Axon against Synapse 1.67 on loopback: the federation scenarios Axon supports so far, run in
both directions with one side Axon and the other Synapse (scripts/interop runs this).

Both servers are named localhost:PORT, serve federation over TLS with a certificate from a CA
made here (tests/e2e/fedlib.py) and trust only that CA with certificate checks on; both may
reach loopback (ip_range_whitelist). Synapse comes from ../shared/tools/synapse (SYN_ROOT); this
is not part of scripts/test (CI has no Synapse) and exits 77 (skipped) without it.

    tests/interop/run_interop.py --binary build-test/axon [--keep] [-k NAME]
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import fedlib  # noqa: E402
import harness  # noqa: E402
from harness import Api, expect, expect_eq, expect_ok, free_port, q, register, to_yaml  # noqa: E402
from test_e2ee import device_keys, one_time_keys  # noqa: E402
from test_federation import verify_signed  # noqa: E402

SKIPPED = 77


class Synapse:
    """One Synapse 1.67 process: client API on plain HTTP, federation on TLS (fedlib's CA)."""

    def __init__(self, root, directory, name="synapse"):
        self.root, self.directory, self.name = root, directory, name
        os.makedirs(directory, exist_ok=True)
        ca, crt, key = fedlib.test_ca()
        self.port = free_port()
        self.federation_port = free_port()
        self.server_name = f"localhost:{self.federation_port}"
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = Api(self.url)
        self.log_path = os.path.join(directory, "synapse.log")
        high = {"per_second": 1000, "burst_count": 1000}
        self.config = {
            "server_name": self.server_name,
            "pid_file": os.path.join(directory, "homeserver.pid"),
            "report_stats": False,
            "listeners": [
                {"port": self.port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
                 "x_forwarded": False, "resources": [{"names": ["client"], "compress": False}]},
                {"port": self.federation_port, "bind_addresses": ["127.0.0.1"], "type": "http",
                 "tls": True, "resources": [{"names": ["federation"], "compress": False}]},
            ],
            "tls_certificate_path": crt,
            "tls_private_key_path": key,
            "federation_custom_ca_list": [ca],
            "ip_range_whitelist": ["127.0.0.0/8", "::1/128"],
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "allow_public_rooms_over_federation": True,
            "database": {"name": "sqlite3", "args": {"database": os.path.join(directory, "homeserver.db")}},
            "media_store_path": os.path.join(directory, "media_store"),
            "signing_key_path": os.path.join(directory, "signing.key"),
            "enable_registration": True,
            "enable_registration_without_verification": True,
            "registration_shared_secret": "s3cret",
            "bcrypt_rounds": 4,
            "rc_message": high, "rc_registration": high,
            "rc_login": {"address": high, "account": high, "failed_attempts": high},
            "rc_joins": {"local": high, "remote": high},
            "rc_federation": {"window_size": 1000, "sleep_limit": 1000, "reject_limit": 1000},
        }
        self.config_path = os.path.join(directory, "homeserver.yaml")
        with open(self.config_path, "w") as f:
            f.write(to_yaml(self.config) + "\n")
        self.proc = None

    def start(self, timeout=60):
        binary = os.path.join(self.root, "bin", "synapse")
        if not os.path.exists(self.config["signing_key_path"]):
            subprocess.run([binary, "-c", self.config_path, "--generate-keys"], check=True,
                           capture_output=True, cwd=self.directory)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([binary, "-c", self.config_path], stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=self.directory)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"synapse exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if self.api.get("/_matrix/client/versions", timeout=2).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"synapse did not answer within {timeout} s; see {self.log_path}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class Context:
    """What fedlib.federating_server needs: make_server for Axon servers on SQLite."""

    def __init__(self, binary, tmp):
        self.binary, self.tmp, self.servers = binary, tmp, []

    def make_server(self, name, overrides=None):
        directory = os.path.join(self.tmp, name)
        database = {"name": "sqlite3", "args": {"database": os.path.join(directory, "hs.db")}}
        s = harness.Server(self.binary, directory, database, overrides, name=name)
        self.servers.append(s)
        return s


def received_to_device(user, since, what, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        body = user.sync(since=since, timeout=1000)
        events = body.get("to_device", {}).get("events", [])
        if events:
            return events
        since = body["next_batch"]
        expect(time.monotonic() < deadline, f"{what}: nothing within {timeout} s")


# ---- scenarios: (axon, synapse) ----------------------------------------------------------------

def keys_through_each_others_notary(axon, syn):
    a_keys = {k: v["key"] for k, v in fedlib.federation_request(axon, "GET", "/_matrix/key/v2/server").json["verify_keys"].items()}
    s_own = fedlib.federation_request(syn, "GET", "/_matrix/key/v2/server")
    expect_eq(s_own.status, 200, f"Synapse's keys: {s_own}")
    s_keys = {k: v["key"] for k, v in s_own.json["verify_keys"].items()}
    # Axon as notary for Synapse, Synapse as notary for Axon. The key ids are named: asked for
    # "all keys", Synapse 1.67 answers only what it has cached, fetching nothing.
    for notary, notary_keys, subject, subject_keys in ((axon, a_keys, syn, s_keys), (syn, s_keys, axon, a_keys)):
        wanted = {key_id: {} for key_id in subject_keys}
        r = fedlib.federation_request(notary, "POST", "/_matrix/key/v2/query",
                                      {"server_keys": {subject.server_name: wanted}})
        expect_eq(r.status, 200, f"{notary.server_name} as notary: {r}")
        entries = [e for e in r.json["server_keys"] if e["server_name"] == subject.server_name]
        expect(entries, f"{notary.server_name} answers for {subject.server_name}: {r.json}")
        verify_signed(entries[0], subject.server_name, subject_keys)
        verify_signed(entries[0], notary.server_name, notary_keys)


def profiles_both_ways(axon, syn):
    alice, sam = register(axon.api), register(syn.api)
    expect_ok(alice.put(f"/profile/{q(alice.user_id)}/displayname", {"displayname": "Alice on Axon"}))
    expect_ok(sam.put(f"/profile/{q(sam.user_id)}/displayname", {"displayname": "Sam on Synapse"}))
    got = expect_ok(alice.get(f"/profile/{q(sam.user_id)}"), "Axon asks Synapse")
    expect_eq(got.get("displayname"), "Sam on Synapse", "Synapse user's name through Axon")
    got = expect_ok(sam.get(f"/profile/{q(alice.user_id)}"), "Synapse asks Axon")
    expect_eq(got.get("displayname"), "Alice on Axon", "Axon user's name through Synapse")
    r = alice.get(f"/profile/{q('@nobody:' + syn.server_name)}")
    expect_eq(r.status, 404, f"an unknown Synapse user through Axon: {r}")


def to_device_both_ways(axon, syn):
    alice, sam = register(axon.api), register(syn.api)
    a_since, s_since = alice.sync()["next_batch"], sam.sync()["next_batch"]
    expect_ok(alice.put(f"/sendToDevice/m.test/{harness.unique('t')}",
                        {"messages": {sam.user_id: {sam.device_id: {"n": "axon to synapse"}}}}))
    events = received_to_device(sam, s_since, "Axon to Synapse")
    expect_eq([(e["sender"], e["content"]) for e in events], [(alice.user_id, {"n": "axon to synapse"})],
              "on Synapse")
    expect_ok(sam.put(f"/sendToDevice/m.test/{harness.unique('t')}",
                      {"messages": {alice.user_id: {"*": {"n": "synapse to axon"}}}}))
    events = received_to_device(alice, a_since, "Synapse to Axon")
    expect_eq([(e["sender"], e["content"]) for e in events], [(sam.user_id, {"n": "synapse to axon"})],
              "on Axon")


def e2ee_keys_both_ways(axon, syn):
    for owner_server, asker_server, what in ((syn, axon, "Axon asks Synapse"), (axon, syn, "Synapse asks Axon")):
        owner, asker = register(owner_server.api), register(asker_server.api)
        account, dk = device_keys(owner)
        otks = one_time_keys(owner, account, 1)
        expect_ok(owner.post("/keys/upload", {"device_keys": dk, "one_time_keys": otks}), "upload")
        got = expect_ok(asker.post("/keys/query", {"device_keys": {owner.user_id: []}}), what)
        expect_eq(got.get("failures"), {}, f"{what}: failures")
        keys = got["device_keys"].get(owner.user_id, {}).get(owner.device_id)
        expect(keys and keys["keys"] == dk["keys"], f"{what}: device keys {got}")
        r = expect_ok(asker.post("/keys/claim", {"one_time_keys": {owner.user_id: {owner.device_id: "signed_curve25519"}}}),
                      f"{what}: claim")
        claimed = r["one_time_keys"].get(owner.user_id, {}).get(owner.device_id, {})
        expect_eq(list(claimed), list(otks), f"{what}: the one-time key")


def directories_both_ways(axon, syn):
    for owner_server, asker_server, what in ((syn, axon, "Axon reads Synapse's"), (axon, syn, "Synapse reads Axon's")):
        owner, asker = register(owner_server.api), register(asker_server.api)
        name = harness.unique("Lobby")
        local = harness.unique("lobby")
        room = expect_ok(owner.post("/createRoom", {"preset": "public_chat", "name": name, "visibility": "public",
                                                     "room_alias_name": local}))["room_id"]
        # Synapse fills its directory's room names in the background: wait for it.
        def listed():
            got = expect_ok(asker.get("/publicRooms", query={"server": owner_server.server_name}), f"{what} directory")
            return [c for c in got["chunk"] if c["room_id"] == room and c.get("name") == name]
        expect(harness.wait_until(listed, timeout=10), f"{what} directory lists the room with its name")
        found = expect_ok(asker.post("/publicRooms?server=" + q(owner_server.server_name),
                                     {"filter": {"generic_search_term": name}}), f"{what} directory, searched")
        expect_eq([c["room_id"] for c in found["chunk"]], [room], f"{what} search")
        alias = f"#{local}:{owner_server.server_name}"
        got = expect_ok(asker.get(f"/directory/room/{q(alias)}"), f"{what} alias")
        expect_eq(got["room_id"], room, f"{what} alias's room")
        expect(owner_server.server_name in got["servers"], f"{what} alias's servers: {got}")


def room_bodies(user, room_id):
    chunk = expect_ok(user.get(f"/rooms/{q(room_id)}/messages", query={"dir": "b", "limit": "50"}), "/messages")["chunk"]
    return list(reversed(harness.timeline_bodies(chunk)))


def rooms_both_ways(axon, syn):
    """A room on each side (version 10: Synapse 1.67 knows 1-10), joined from the other by alias;
    messages both ways, each sent once the previous one arrived, in one order on both."""
    for owner_server, joiner_server, what in ((syn, axon, "Axon joins Synapse's"), (axon, syn, "Synapse joins Axon's")):
        owner, joiner = register(owner_server.api), register(joiner_server.api)
        local = harness.unique("hall")
        room = expect_ok(owner.post("/createRoom", {"preset": "public_chat", "room_version": "10", "name": what,
                                                     "room_alias_name": local}), f"{what}: createRoom")["room_id"]
        expect_ok(owner.put(f"/rooms/{q(room)}/send/m.room.message/t0", {"msgtype": "m.text", "body": "first"}))
        alias = f"#{local}:{owner_server.server_name}"
        got = expect_ok(joiner.post(f"/join/{q(alias)}", {}), f"{what}: join")
        expect_eq(got["room_id"], room, f"{what}: joined room")
        state = {(e["type"], e["state_key"]): e for e in expect_ok(joiner.get(f"/rooms/{q(room)}/state"), "state")}
        expect_eq(state[("m.room.name", "")]["content"]["name"], what, f"{what}: the name on the joining side")
        sent = []
        for i in range(6):
            who = owner if i % 2 == 0 else joiner
            body = f"{what} {i}"
            expect_ok(who.put(f"/rooms/{q(room)}/send/m.room.message/t{i + 1}", {"msgtype": "m.text", "body": body}),
                      f"{what}: send {i}")
            sent.append(body)
            for reader in (owner, joiner):
                ok = harness.wait_until(lambda: room_bodies(reader, room)[-len(sent):] == sent, timeout=20, interval=0.2)
                expect(ok, f"{what}: {reader} sees {sent}: {room_bodies(reader, room)}")
        expect_eq(room_bodies(owner, room)[-6:], room_bodies(joiner, room)[-6:], f"{what}: one order")


def typing_receipts_presence_both_ways(axon, syn):
    """In a room shared by a user of each server: typing, a read receipt and presence from each
    side reach the other's /sync."""
    owner, guest = register(syn.api), register(axon.api)
    room = expect_ok(owner.post("/createRoom", {"preset": "public_chat", "room_version": "10"}), "createRoom")["room_id"]
    expect_ok(guest.post(f"/join/{q(room)}", {}, query={"server_name": syn.server_name}), "join")
    for sender, reader, what in ((owner, guest, "Synapse to Axon"), (guest, owner, "Axon to Synapse")):
        since = expect_ok(reader.get("/sync", query={"timeout": "0"}))["next_batch"]
        expect_ok(sender.put(f"/rooms/{q(room)}/typing/{q(sender.user_id)}", {"typing": True, "timeout": 20000}))
        event = expect_ok(sender.put(f"/rooms/{q(room)}/send/m.room.message/r{time.monotonic_ns()}",
                                     {"msgtype": "m.text", "body": "read me"}))["event_id"]
        expect(harness.wait_until(lambda: "read me" in room_bodies(reader, room), timeout=20, interval=0.2),
               f"{what}: the message")
        expect_ok(reader.post(f"/rooms/{q(room)}/receipt/m.read/{q(event)}", {}), "receipt")
        expect_ok(sender.put(f"/presence/{q(sender.user_id)}/status", {"presence": "online", "status_msg": what}))
        seen = {"typing": False, "presence": False}
        deadline = time.monotonic() + 30
        while not all(seen.values()) and time.monotonic() < deadline:
            body = expect_ok(reader.get("/sync", query={"since": since, "timeout": "1000"}), "sync")
            since = body["next_batch"]
            eph = body.get("rooms", {}).get("join", {}).get(room, {}).get("ephemeral", {}).get("events", [])
            seen["typing"] |= any(e["type"] == "m.typing" and sender.user_id in e["content"]["user_ids"] for e in eph)
            seen["presence"] |= any(e["sender"] == sender.user_id and e["content"].get("status_msg") == what
                                    for e in body.get("presence", {}).get("events", []))
        expect(all(seen.values()), f"{what}: {seen}")
        # The reader's receipt reaches the sender's server.
        def receipt_seen():
            body = expect_ok(sender.get("/sync", query={"timeout": "0"}), "sync")
            eph = body.get("rooms", {}).get("join", {}).get(room, {}).get("ephemeral", {}).get("events", [])
            return any(e["type"] == "m.receipt" and reader.user_id in e["content"].get(event, {}).get("m.read", {})
                       for e in eph)
        expect(harness.wait_until(receipt_seen, timeout=20, interval=0.3), f"{what}: the reader's receipt came back")


def knocks_both_ways(axon, syn):
    """A knock-only room (v10) on each side; a user of the other server knocks (shown in its
    /sync's knock section with the room's name), is invited and joins."""
    for owner_server, guest_server, what in ((syn, axon, "Axon knocks on Synapse's"),
                                             (axon, syn, "Synapse knocks on Axon's")):
        owner, guest = register(owner_server.api), register(guest_server.api)
        room = expect_ok(owner.post("/createRoom", {
            "preset": "private_chat", "room_version": "10", "name": what,
            "initial_state": [{"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}}]}),
            f"{what}: createRoom")["room_id"]
        expect_ok(guest.post(f"/knock/{q(room)}", {"reason": "hello"}, query={"server_name": owner_server.server_name}),
                  f"{what}: knock")

        def knocked():
            r = owner.get(f"/rooms/{q(room)}/state/m.room.member/{q(guest.user_id)}")
            return r.status == 200 and r.json.get("membership") == "knock"
        expect(harness.wait_until(knocked, timeout=20, interval=0.2), f"{what}: the owner's server has the knock")
        body = expect_ok(guest.get("/sync", query={"timeout": "0"}), "sync")
        k = body["rooms"].get("knock", {}).get(room)
        expect(k, f"{what}: the knock in the guest's sync: {body['rooms'].keys()}")
        names = [e["content"].get("name") for e in k["knock_state"]["events"] if e["type"] == "m.room.name"]
        expect_eq(names, [what], f"{what}: the room's name in knock_state")
        expect_ok(owner.post(f"/rooms/{q(room)}/invite", {"user_id": guest.user_id}), f"{what}: invite")
        # Incremental syncs: Synapse answers a repeated initial /sync from its cache.
        since = [body["next_batch"]]

        def invited():
            got = expect_ok(guest.get("/sync", query={"timeout": "1000", "since": since[0]}), "sync")
            since[0] = got["next_batch"]
            return room in got.get("rooms", {}).get("invite", {})
        expect(harness.wait_until(invited, timeout=20, interval=0.2), f"{what}: the invite")
        expect_ok(guest.post(f"/join/{q(room)}", {}, query={"server_name": owner_server.server_name}), f"{what}: join")


def invites_both_ways(axon, syn):
    """A private room on each side; the owner invites a user of the other server, who sees the
    invite in /sync with the room's name, joins through it and talks; a second invite is rejected
    and the owner's server sees the rejection."""
    for owner_server, guest_server, what in ((syn, axon, "Synapse invites Axon's"), (axon, syn, "Axon invites Synapse's")):
        owner, guest, other = register(owner_server.api), register(guest_server.api), register(guest_server.api)
        room = expect_ok(owner.post("/createRoom", {"preset": "private_chat", "room_version": "10", "name": what}),
                         f"{what}: createRoom")["room_id"]
        for user in (guest, other):
            expect_ok(owner.post(f"/rooms/{q(room)}/invite", {"user_id": user.user_id}), f"{what}: invite {user}")

        def invited(user):
            body = expect_ok(user.get("/sync", query={"timeout": "0"}), "sync")
            return body["rooms"].get("invite", {}).get(room)
        got = harness.wait_until(lambda: invited(guest), timeout=20, interval=0.2)
        expect(got, f"{what}: the invite shows in /sync")
        names = [e["content"].get("name") for e in got["invite_state"]["events"] if e["type"] == "m.room.name"]
        expect_eq(names, [what], f"{what}: the room's name in the invite")
        expect_eq(expect_ok(guest.post(f"/join/{q(room)}", {}), f"{what}: join")["room_id"], room, f"{what}: joined")
        expect_ok(guest.put(f"/rooms/{q(room)}/send/m.room.message/t1", {"msgtype": "m.text", "body": "hi"}), "send")
        ok = harness.wait_until(lambda: "hi" in room_bodies(owner, room), timeout=20, interval=0.2)
        expect(ok, f"{what}: the guest's message reached the owner")
        expect(harness.wait_until(lambda: invited(other), timeout=20, interval=0.2), f"{what}: second invite")
        expect_ok(other.post(f"/rooms/{q(room)}/leave", {}), f"{what}: reject")

        def rejected():
            r = owner.get(f"/rooms/{q(room)}/state/m.room.member/{q(other.user_id)}")
            return r.status == 200 and r.json.get("membership") == "leave"
        expect(harness.wait_until(rejected, timeout=20, interval=0.2), f"{what}: the owner's server saw the rejection")


def page_back(user, room_id, limit=10):
    """The message bodies `user` gets paging back until /messages gives no `end`, oldest first."""
    events, token = [], None
    for _ in range(100):
        query = {"dir": "b", "limit": str(limit)}
        if token:
            query["from"] = token
        body = expect_ok(user.get(f"/rooms/{q(room_id)}/messages", query=query), "/messages")
        events += body["chunk"]
        token = body.get("end")
        if not token or not body["chunk"]:
            break
    return list(reversed(events))


def history_both_ways(axon, syn):
    """A room with 30 messages and a members-only stretch, joined from the other server: the
    joining side's client pages back past its join (the joining server backfills from the
    owner) and sees every message it may, in the owner's order, without the hidden ones."""
    for owner_server, joiner_server, what in ((syn, axon, "Axon backfills from Synapse"),
                                              (axon, syn, "Synapse backfills from Axon")):
        owner, joiner = register(owner_server.api), register(joiner_server.api)
        room = expect_ok(owner.post("/createRoom", {"preset": "public_chat", "room_version": "10"}),
                         f"{what}: createRoom")["room_id"]
        early = [f"{what} h{i}" for i in range(30)]
        for i, body in enumerate(early):
            expect_ok(owner.put(f"/rooms/{q(room)}/send/m.room.message/h{i}", {"msgtype": "m.text", "body": body}))
        expect_ok(owner.put(f"/rooms/{q(room)}/state/m.room.history_visibility/",
                            {"history_visibility": "joined"}), f"{what}: joined visibility")
        expect_ok(owner.put(f"/rooms/{q(room)}/send/m.room.message/secret", {"msgtype": "m.text", "body": "secret"}))
        expect_ok(owner.put(f"/rooms/{q(room)}/state/m.room.history_visibility/",
                            {"history_visibility": "shared"}), f"{what}: shared again")
        expect_ok(owner.put(f"/rooms/{q(room)}/send/m.room.message/last", {"msgtype": "m.text", "body": "last"}))
        got = expect_ok(joiner.post(f"/join/{q(room)}", {}, query={"server_name": owner_server.server_name}),
                        f"{what}: join")
        expect_eq(got["room_id"], room, f"{what}: joined")
        events = page_back(joiner, room)
        bodies = harness.timeline_bodies(events)
        expect_eq([b for b in bodies if b in early], early, f"{what}: the early messages in order: {bodies}")
        expect("secret" not in bodies, f"{what}: the members-only message stays hidden: {bodies}")
        expect("last" in bodies, f"{what}: the message after it: {bodies}")
        expect(any(e["type"] == "m.room.create" for e in events), f"{what}: back to the room's creation")


def spaces_both_ways(axon, syn):
    """A space with a public child room, both on one server, joined from the other: the joining
    side's /hierarchy shows the child, summarised by the space's server (federation /hierarchy)."""
    for owner_server, joiner_server, what in ((syn, axon, "Axon asks Synapse"), (axon, syn, "Synapse asks Axon")):
        owner, joiner = register(owner_server.api), register(joiner_server.api)
        space = expect_ok(owner.post("/createRoom", {"preset": "public_chat", "room_version": "10", "name": "space",
                                                      "creation_content": {"type": "m.space"}}), "space")["room_id"]
        child = expect_ok(owner.post("/createRoom", {"preset": "public_chat", "room_version": "10",
                                                      "name": f"{what}: child"}), "child")["room_id"]
        expect_ok(owner.put(f"/rooms/{q(space)}/state/m.space.child/{q(child)}", {"via": [owner_server.server_name]}))
        expect_ok(joiner.post(f"/join/{q(space)}", {}, query={"server_name": owner_server.server_name}), f"{what}: join")
        body = expect_ok(joiner.get(f"/_matrix/client/v1/rooms/{q(space)}/hierarchy"), f"{what}: hierarchy")
        ids = [r["room_id"] for r in body["rooms"]]
        expect_eq(ids, [space, child], f"{what}: the space and its child")
        expect_eq(body["rooms"][1].get("name"), f"{what}: child", f"{what}: the child's summary")


def media_both_ways(axon, syn):
    """A Synapse user's upload downloaded and thumbnailed by an Axon user: Axon asks Synapse 1.67's
    federation media route, gets M_UNRECOGNIZED and falls back to /_matrix/media/v3/download with
    allow_remote=false. The other way, Synapse 1.67 only knows the legacy route, where Axon (as
    current Synapse with enable_authenticated_media) serves no media uploaded under the freeze."""
    import io
    from PIL import Image
    im = Image.new("RGB", (400, 300), (200, 40, 90))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    data = buf.getvalue()
    sam, alice = register(syn.api), register(axon.api)
    r = sam.request("POST", "/_matrix/media/v3/upload", raw=data, query={"filename": "red.png"},
                    headers={"Content-Type": "image/png"})
    uri = expect_ok(r, "upload to Synapse")["content_uri"]
    server, media_id = uri[len("mxc://"):].split("/", 1)
    r = alice.get(f"/_matrix/client/v1/media/download/{server}/{media_id}")
    expect_eq(r.status, 200, f"Axon fetches Synapse's media: {r}")
    expect_eq(r.body, data, "the same bytes")
    expect_eq(r.header("content-type"), "image/png", "Synapse's content type")
    expect("red.png" in (r.header("content-disposition") or ""), f"file name: {r.headers}")
    r = alice.get(f"/_matrix/client/v1/media/thumbnail/{server}/{media_id}",
                  query={"width": 96, "height": 96, "method": "crop"})
    expect_eq(r.status, 200, f"Axon's thumbnail of Synapse's media: {r}")
    expect_eq(Image.open(io.BytesIO(r.body)).size, (96, 96), "crop size")
    # Axon's media on Synapse 1.67: frozen behind the authenticated routes it does not know.
    r = alice.request("POST", "/_matrix/media/v3/upload", raw=b"from axon", headers={"Content-Type": "text/plain"})
    uri = expect_ok(r, "upload to Axon")["content_uri"]
    server, media_id = uri[len("mxc://"):].split("/", 1)
    r = sam.get(f"/_matrix/media/v3/download/{server}/{media_id}")
    expect_eq(r.status, 404, f"Synapse 1.67 cannot fetch media Axon serves only authenticated: {r}")


SCENARIOS = [keys_through_each_others_notary, profiles_both_ways, to_device_both_ways, e2ee_keys_both_ways,
             directories_both_ways, rooms_both_ways, invites_both_ways, typing_receipts_presence_both_ways, knocks_both_ways,
             history_both_ways, spaces_both_ways, media_both_ways]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(HERE, "..", "..", "build-test", "axon"))
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("-k", dest="select", action="append", default=[])
    args = parser.parse_args()
    root = os.environ.get("SYN_ROOT", "/opt/synapse-1.67")
    if not os.path.exists(os.path.join(root, "bin", "synapse")):
        print(f"interop: no Synapse at {root} (../shared/tools/synapse/README.md): skipped")
        return SKIPPED
    tmp = tempfile.mkdtemp(prefix="axon-interop-")
    ctx = Context(os.path.abspath(args.binary), tmp)
    syn = Synapse(root, os.path.join(tmp, "synapse"))
    axon = fedlib.federating_server(ctx, "axon", allow_public_rooms_over_federation=True)
    results = []
    try:
        axon.start()
        syn.start()
        for fn in SCENARIOS:
            if args.select and not any(s in fn.__name__ for s in args.select):
                continue
            t0 = time.monotonic()
            try:
                fn(axon, syn)
                results.append((fn.__name__, True, ""))
                print(f"PASS {fn.__name__} ({time.monotonic() - t0:.2f} s)")
            except Exception as e:  # noqa: BLE001 - report every failure
                results.append((fn.__name__, False, str(e)))
                print(f"FAIL {fn.__name__}: {e}")
                traceback.print_exc()
    finally:
        for s in ctx.servers:
            s.stop()
        syn.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    failed = [r for r in results if not r[1]]
    print(f"interop (Axon <-> Synapse 1.67): {len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
