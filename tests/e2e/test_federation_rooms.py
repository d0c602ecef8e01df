"""Rooms across two Axon servers (fedlib): a user of B joins a room on A by room id and by alias
(make_join / send_join), both sides send messages and each server's clients see all of them, in
the same order; the joined room's state on B is the room's state; members of both servers show
in /members on both.
"""

import time

from harness import e2e_test, expect, expect_eq, expect_ok, q, register, timeline_bodies, wait_until
from test_federation import pair


def timeline(user, room_id):
    """The room's message bodies as `user` reads them with /messages, oldest first."""
    chunk = user.messages(room_id, limit=100)["chunk"]
    return list(reversed(timeline_bodies(chunk)))


def wait_for_bodies(user, room_id, bodies, timeout=15.0):
    got = wait_until(lambda: timeline(user, room_id)[-len(bodies):] == bodies and timeline(user, room_id),
                     timeout=timeout, interval=0.1)
    expect(got, f"{user} sees {bodies} in {room_id}: has {timeline(user, room_id)}")
    return timeline(user, room_id)


def members(user, room_id):
    body = expect_ok(user.get(f"/rooms/{q(room_id)}/joined_members"), "joined_members")
    return sorted(body["joined"])


@e2e_test
def join_remote_room_and_talk(ctx):
    a, b = pair(ctx)
    alice, bob = register(a.api), register(b.api)
    room = alice.create_room(preset="public_chat", room_version="10", name="Federated")
    alice.send(room, "before bob")
    # B has never seen the room: the join goes through A (the room id's server).
    expect_eq(bob.join(room), room, "join by room id")
    expect_eq(members(bob, room), sorted([alice.user_id, bob.user_id]), "members seen from B")
    wait_until(lambda: members(alice, room) == sorted([alice.user_id, bob.user_id]), timeout=10)
    expect_eq(members(alice, room), sorted([alice.user_id, bob.user_id]), "members seen from A")
    # State on B is the room's.
    state = {(e["type"], e["state_key"]): e for e in bob.state(room)}
    expect_eq(state[("m.room.name", "")]["content"]["name"], "Federated", "room name on B")
    expect_eq(state[("m.room.create", "")]["sender"], alice.user_id, "create event on B")
    bob.send(room, "hello from B")
    wait_for_bodies(alice, room, ["hello from B"])
    alice.send(room, "hello from A")
    seen_b = wait_for_bodies(bob, room, ["hello from B", "hello from A"])
    seen_a = timeline(alice, room)
    expect_eq(seen_a[-2:], seen_b[-2:], "same order on both servers")
    # B's client sees A's messages in /sync too.
    body = bob.sync()
    joined = body["rooms"]["join"]
    expect(room in joined, f"room in B's sync: {list(joined)}")


@e2e_test
def join_remote_room_by_alias_and_many_messages(ctx):
    a, b = pair(ctx)
    alice, bob = register(a.api), register(b.api)
    alias_local = f"fedroom{int(time.time() * 1000) % 100000000}"
    room = alice.create_room(preset="public_chat", room_version="10", room_alias_name=alias_local)
    alias = f"#{alias_local}:{a.server_name}"
    expect_eq(bob.join(alias), room, "join by alias")
    # Each message sent once the previous one is on both servers: one order on both.
    sent = []
    for i in range(10):
        who = alice if i % 2 == 0 else bob
        body = f"m{i}"
        who.send(room, body)
        sent.append(body)
        wait_for_bodies(alice, room, sent)
        wait_for_bodies(bob, room, sent)
    expect_eq(timeline(alice, room)[-10:], timeline(bob, room)[-10:], "one order on both servers")
    # Concurrent sends fork the room's DAG; both servers end with every message, and the next
    # message joins the branches (its prev_events name both tips) and comes last on both.
    burst = []
    for i in range(10):
        alice.send(room, f"a{i}")
        bob.send(room, f"b{i}")
        burst += [f"a{i}", f"b{i}"]
    for user in (alice, bob):
        got = wait_until(lambda: set(burst) <= set(timeline(user, room)), timeout=20, interval=0.1)
        expect(got, f"{user} has every message of the burst: {timeline(user, room)}")
    last = alice.send(room, "after the burst")
    wait_for_bodies(bob, room, ["after the burst"])
    for user in (alice, bob):
        expect_eq(timeline(user, room)[-1], "after the burst", f"last on {user}'s server")
    event = expect_ok(bob.get(f"/rooms/{q(room)}/event/{q(last)}"), "the joining event on B")
    expect_eq(event["event_id"], last, "B has the event")


def invites(user, since=None):
    body = user.sync(since=since)
    return body["rooms"].get("invite", {}), body["next_batch"]


@e2e_test
def invite_across_servers_then_join(ctx):
    a, b = pair(ctx)
    alice, bob = register(a.api), register(b.api)
    room = alice.create_room(preset="private_chat", room_version="10", name="Private")
    _, since = invites(bob)
    alice.invite(room, bob)
    got = wait_until(lambda: invites(bob)[0].get(room), timeout=10)
    expect(got, "the invite shows in B's sync")
    stripped = {(e["type"], e["state_key"]): e for e in got["invite_state"]["events"]}
    expect_eq(stripped[("m.room.name", "")]["content"]["name"], "Private", "the room's name in the invite")
    expect_eq(stripped[("m.room.member", bob.user_id)]["content"]["membership"], "invite", "the invite itself")
    expect_eq(stripped[("m.room.member", bob.user_id)]["sender"], alice.user_id, "invited by alice")
    # A's view: bob is invited.
    state = {(e["type"], e["state_key"]): e for e in alice.state(room)}
    expect_eq(state[("m.room.member", bob.user_id)]["content"]["membership"], "invite", "invite on A")
    # The room is invite-only: the invite lets bob in.
    expect_eq(bob.join(room), room, "join through the invite")
    wait_until(lambda: members(alice, room) == sorted([alice.user_id, bob.user_id]), timeout=10)
    expect_eq(members(alice, room), sorted([alice.user_id, bob.user_id]), "bob joined, seen from A")
    bob.send(room, "thanks")
    wait_for_bodies(alice, room, ["thanks"])


@e2e_test
def uninvited_join_of_private_room_is_refused(ctx):
    a, b = pair(ctx)
    alice, bob = register(a.api), register(b.api)
    room = alice.create_room(preset="private_chat", room_version="10")
    r = bob.post(f"/join/{q(room)}", {})
    expect_eq(r.status, 403, f"join without an invite: {r}")
    expect_eq(r.json.get("errcode"), "M_FORBIDDEN", "errcode")
    expect_eq(members(alice, room), [alice.user_id], "nobody joined")


@e2e_test
def reject_invite_both_while_up_and_while_inviter_down(ctx):
    a, b = pair(ctx)
    alice, bob, carol = register(a.api), register(b.api), register(b.api)
    room = alice.create_room(preset="private_chat", room_version="10")
    alice.invite(room, bob)
    expect(wait_until(lambda: invites(bob)[0].get(room), timeout=10), "invite arrived")
    expect_ok(bob.post(f"/rooms/{q(room)}/leave", {}), "reject while A is up")
    expect(wait_until(lambda: room not in invites(bob)[0], timeout=5), "invite gone from B's sync")
    state = {(e["type"], e["state_key"]): e for e in alice.state(room)}
    expect_eq(state[("m.room.member", bob.user_id)]["content"]["membership"], "leave", "A saw the rejection")
    # Now with A down: the rejection is made on B alone.
    alice.invite(room, carol)
    expect(wait_until(lambda: invites(carol)[0].get(room), timeout=10), "second invite arrived")
    a.stop()
    try:
        expect_ok(carol.post(f"/rooms/{q(room)}/leave", {}), "reject while A is down")
        body = carol.sync()
        expect(room not in body["rooms"].get("invite", {}), "invite gone from carol's sync")
        expect(room in body["rooms"].get("leave", {}) or room not in body["rooms"].get("join", {}),
               "carol is not in the room")
    finally:
        a.start()


def joined_pair_room(ctx):
    """A public room on A that a user of B joined: (a, b, alice, bob, room)."""
    a, b = pair(ctx)
    alice, bob = register(a.api), register(b.api)
    room = alice.create_room(preset="public_chat", room_version="10")
    bob.join(room)
    wait_until(lambda: members(alice, room) == sorted([alice.user_id, bob.user_id]), timeout=10)
    return a, b, alice, bob, room


def ephemeral(user, room_id, since, kind, timeout=10.0):
    """Syncs `user` until an ephemeral event of `kind` shows for the room; returns its content."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = user.sync(since=since, timeout=1000)
        since = body["next_batch"]
        for e in body["rooms"].get("join", {}).get(room_id, {}).get("ephemeral", {}).get("events", []):
            if e["type"] == kind:
                return e["content"], since
    raise AssertionError(f"no {kind} for {user} in {room_id} within {timeout} s")


@e2e_test
def typing_and_receipts_across_servers(ctx):
    a, b, alice, bob, room = joined_pair_room(ctx)
    since_b = bob.sync()["next_batch"]
    since_a = alice.sync()["next_batch"]
    expect_ok(alice.put(f"/rooms/{q(room)}/typing/{q(alice.user_id)}", {"typing": True, "timeout": 20000}), "typing")
    content, since_b = ephemeral(bob, room, since_b, "m.typing")
    expect_eq(content["user_ids"], [alice.user_id], "alice typing, seen on B")
    expect_ok(bob.put(f"/rooms/{q(room)}/typing/{q(bob.user_id)}", {"typing": True}), "typing on B")
    deadline = time.monotonic() + 10
    while True:
        content, since_a = ephemeral(alice, room, since_a, "m.typing")
        if bob.user_id in content["user_ids"]:
            break
        expect(time.monotonic() < deadline, f"bob typing, seen on A: {content}")
    event = alice.send(room, "read me")
    wait_for_bodies(bob, room, ["read me"])
    expect_ok(bob.post(f"/rooms/{q(room)}/receipt/m.read/{q(event)}", {}), "receipt on B")
    deadline = time.monotonic() + 10
    while True:
        content, since_a = ephemeral(alice, room, since_a, "m.receipt")
        if bob.user_id in content.get(event, {}).get("m.read", {}):
            break
        expect(time.monotonic() < deadline, f"bob's receipt on A: {content}")


# ---- hostile PDUs: built and signed here as server B would, sent to A -------------------------

import base64
import hashlib

from fedlib import canonical, federation_request, signing_key, x_matrix


def _b64(raw, urlsafe=False):
    enc = base64.urlsafe_b64encode(raw) if urlsafe else base64.b64encode(raw)
    return enc.decode().rstrip("=")


# Room v10's redaction: what the reference hash and the signatures cover.
_KEEP = {"event_id", "type", "room_id", "sender", "state_key", "content", "hashes", "signatures", "depth",
         "prev_events", "auth_events", "origin", "origin_server_ts", "membership", "prev_state"}


def _redacted(ev):
    out = {k: v for k, v in ev.items() if k in _KEEP}
    if ev["type"] == "m.room.history_visibility":
        out["content"] = {k: v for k, v in ev["content"].items() if k == "history_visibility"}
    elif ev["type"] != "m.room.member":
        out["content"] = {}
    else:
        out["content"] = {k: v for k, v in ev["content"].items() if k in ("membership", "join_authorised_via_users_server")}
    return out


def build_pdu(server, room_id, sender, prev, auth, content, depth, event_type="m.room.message", tamper=None,
              state_key=None, ts=None):
    """A v10 PDU from `server`'s user `sender`, hashed and signed with `server`'s key; `tamper`
    changes it after signing. Returns (pdu, event_id)."""
    ev = {"type": event_type, "room_id": room_id, "sender": sender, "content": content, "depth": depth,
          "origin": server.server_name, "origin_server_ts": ts if ts is not None else int(time.time() * 1000),
          "prev_events": prev, "auth_events": auth}
    if state_key is not None:
        ev["state_key"] = state_key
    hashed = {k: v for k, v in ev.items() if k not in ("unsigned", "signatures", "hashes")}
    ev["hashes"] = {"sha256": _b64(hashlib.sha256(canonical(hashed)).digest())}
    key_id, private = signing_key(server)
    signed = {k: v for k, v in _redacted(ev).items() if k not in ("signatures", "unsigned")}
    ev["signatures"] = {server.server_name: {key_id: _b64(private.sign(canonical(signed)))}}
    if tamper:
        tamper(ev)
    ref = {k: v for k, v in _redacted(ev).items() if k not in ("signatures", "unsigned")}
    return ev, "$" + _b64(hashlib.sha256(canonical(ref)).digest(), urlsafe=True)


def send_pdus(origin, destination, pdus):
    uri = f"/_matrix/federation/v1/send/hostile{time.monotonic_ns()}"
    body = {"origin": origin.server_name, "origin_server_ts": int(time.time() * 1000), "pdus": pdus, "edus": []}
    auth = x_matrix(origin.server_name, destination.server_name, signing_key(origin), "PUT", uri, body)
    r = federation_request(destination, "PUT", uri, body=body, authorization=auth)
    expect_eq(r.status, 200, f"transaction: {r}")
    return r.json["pdus"]


@e2e_test
def hostile_pdus_are_refused_and_nothing_stored(ctx):
    a, b, alice, bob, room = joined_pair_room(ctx)
    carol = register(b.api)  # on B, never joined
    state = {(e["type"], e["state_key"]): e["event_id"] for e in alice.state(room)}
    latest = alice.messages(room, limit=1)["chunk"][0]
    prev, depth = [latest["event_id"]], 1000
    auth = [state[("m.room.create", "")], state[("m.room.power_levels", "")], state[("m.room.member", bob.user_id)]]

    good, good_id = build_pdu(b, room, bob.user_id, prev, auth, {"msgtype": "m.text", "body": "good"}, depth)
    bad_sig, bad_sig_id = build_pdu(b, room, bob.user_id, prev, auth, {"msgtype": "m.text", "body": "x"}, depth,
                                    tamper=lambda ev: ev["signatures"][b.server_name].update(
                                        {k: _b64(b"\0" * 64) for k in ev["signatures"][b.server_name]}))
    bad_hash, bad_hash_id = build_pdu(b, room, bob.user_id, prev, auth, {"msgtype": "m.text", "body": "orig"}, depth,
                                      tamper=lambda ev: ev["content"].update({"body": "changed after signing"}))
    not_member, not_member_id = build_pdu(b, room, carol.user_id, prev,
                                          [state[("m.room.create", "")], state[("m.room.power_levels", "")]],
                                          {"msgtype": "m.text", "body": "not a member"}, depth)
    results = send_pdus(b, a, [good, bad_sig, bad_hash, not_member])
    expect_eq(results.get(good_id), {}, f"the good PDU: {results}")
    expect("error" in results.get(bad_sig_id, {}), f"bad signature refused: {results}")
    expect("error" in results.get(not_member_id, {}), f"a non-member's event refused: {results}")
    # Not stored where clients could see them.
    for eid in (bad_sig_id, not_member_id):
        r = alice.get(f"/rooms/{q(room)}/event/{q(eid)}")
        expect_eq(r.status, 404, f"{eid} is not visible: {r}")
    bodies = timeline(alice, room)
    expect("good" in bodies, f"the good event is in the timeline: {bodies}")
    expect("x" not in bodies and "not a member" not in bodies, f"refused events not in the timeline: {bodies}")
    # A content hash that does not match: the event is kept redacted (spec step 3).
    expect_eq(results.get(bad_hash_id), {}, f"a PDU with a wrong content hash is taken, redacted: {results}")
    r = alice.get(f"/rooms/{q(room)}/event/{q(bad_hash_id)}")
    expect_eq(r.status, 200, f"the redacted event: {r}")
    expect_eq(r.json["content"], {}, f"kept redacted: {r.json}")
    # The same transaction again, replayed: answered the same, nothing twice.
    again = send_pdus(b, a, [good])
    expect_eq(again.get(good_id), {}, "a known event again")
    expect_eq(timeline(alice, room).count("good"), 1, "stored once")


@e2e_test
def kick_ban_and_power_levels_across_servers(ctx):
    a, b, alice, bob, room = joined_pair_room(ctx)
    # Alice (A) makes bob (B) a moderator; bob's server sees it and lets him act on it.
    levels = expect_ok(alice.get(f"/rooms/{q(room)}/state/m.room.power_levels/"), "power levels")
    levels["users"][bob.user_id] = 50
    expect_ok(alice.put(f"/rooms/{q(room)}/state/m.room.power_levels/", levels), "raise bob")
    wait_until(lambda: expect_ok(bob.get(f"/rooms/{q(room)}/state/m.room.power_levels/"), "pl on B")
               .get("users", {}).get(bob.user_id) == 50, timeout=10)
    expect_ok(bob.put(f"/rooms/{q(room)}/state/m.room.topic/", {"topic": "set on B"}), "bob sets the topic")
    wait_until(lambda: alice.get(f"/rooms/{q(room)}/state/m.room.topic/").json == {"topic": "set on B"}, timeout=10)
    expect_eq(alice.get(f"/rooms/{q(room)}/state/m.room.topic/").json, {"topic": "set on B"}, "topic on A")
    # A user of A joins; bob (moderator on B) kicks him; A sees the kick.
    dave = register(a.api)
    dave.join(room)
    wait_until(lambda: dave.user_id in members(bob, room), timeout=10)
    expect_ok(bob.post(f"/rooms/{q(room)}/kick", {"user_id": dave.user_id, "reason": "test"}), "kick from B")
    wait_until(lambda: dave.user_id not in members(alice, room), timeout=10)
    expect(dave.user_id not in members(alice, room), "dave kicked, seen on A")
    # Alice bans bob: B sees its own user banned and bob can't send any more.
    expect_ok(alice.post(f"/rooms/{q(room)}/ban", {"user_id": bob.user_id}), "ban bob")
    def banned_on_b():
        r = bob.get(f"/rooms/{q(room)}/state/m.room.member/{q(bob.user_id)}")
        return r.status == 200 and r.json.get("membership") == "ban"
    expect(wait_until(banned_on_b, timeout=10), "B knows bob is banned")
    r = bob.put(f"/rooms/{q(room)}/send/m.room.message/after-ban", {"msgtype": "m.text", "body": "no"})
    expect_eq(r.status, 403, f"a banned user can't send: {r}")


@e2e_test
def server_down_for_a_while_is_caught_up(ctx):
    a, b, alice, bob, room = joined_pair_room(ctx)
    b.stop()
    sent = [f"while down {i}" for i in range(5)]
    try:
        for body in sent:
            alice.send(room, body)
    finally:
        b.start()
    # A signed request from B (its first transaction, a key fetch, or this join's traffic) ends A's
    # backoff; B's own message makes one.
    bob.send(room, "back")
    wait_for_bodies(alice, room, ["back"], timeout=20)
    got = wait_until(lambda: all(x in timeline(bob, room) for x in sent), timeout=30, interval=0.2)
    expect(got, f"B caught up: {timeline(bob, room)}")


@e2e_test
def restricted_join_through_a_resident_user(ctx):
    a, b = pair(ctx)
    alice, bob, carol = register(a.api), register(b.api), register(b.api)
    space = alice.create_room(preset="public_chat", room_version="10")
    room = alice.create_room(preset="private_chat", room_version="10", initial_state=[{
        "type": "m.room.join_rules", "state_key": "",
        "content": {"join_rule": "restricted", "allow": [{"type": "m.room_membership", "room_id": space}]}}])
    # carol is in no allowed room: refused with the spec's errcode.
    r = carol.post(f"/join/{q(room)}", {})
    expect_eq((r.status, r.json.get("errcode")), (400, "M_UNABLE_TO_AUTHORISE_JOIN"), f"carol: {r}")
    # bob joins the allowed room, then the restricted one: A vouches (join_authorised_via_users_server).
    bob.join(space)
    expect_eq(bob.join(room), room, "restricted join")
    member = expect_ok(alice.get(f"/rooms/{q(room)}/state/m.room.member/{q(bob.user_id)}"), "bob's member event on A")
    expect_eq(member["membership"], "join", "bob joined")
    expect_eq(member.get("join_authorised_via_users_server"), alice.user_id, "authorised by alice")
    bob.send(room, "in through the space")
    wait_for_bodies(alice, room, ["in through the space"])


@e2e_test
def device_list_changes_reach_the_other_server(ctx):
    from test_e2ee import device_keys
    a, b, alice, bob, room = joined_pair_room(ctx)
    since = alice.sync()["next_batch"]
    # Bob signs in on a new device and uploads its keys: alice's server hears of it.
    bob2 = harness_login(b, bob)
    _, dk = device_keys(bob2)
    expect_ok(bob2.post("/keys/upload", {"device_keys": dk}), "upload on the new device")

    def changed(since_token):
        body = alice.sync(since=since_token, timeout=1000)
        return bob.user_id in body.get("device_lists", {}).get("changed", []), body["next_batch"]
    deadline = time.monotonic() + 15
    seen = False
    token = since
    while not seen and time.monotonic() < deadline:
        seen, token = changed(token)
    expect(seen, "bob in alice's device_lists.changed")
    got = expect_ok(alice.get("/keys/changes", query={"from": since, "to": token}), "/keys/changes")
    expect(bob.user_id in got["changed"], f"bob in /keys/changes: {got}")
    keys = expect_ok(alice.post("/keys/query", {"device_keys": {bob.user_id: []}}), "query bob's keys")
    expect(bob2.device_id in keys["device_keys"].get(bob.user_id, {}), f"the new device: {keys}")
    # The device signs out: alice hears of that too.
    since2 = token
    expect_ok(bob2.post("/logout", {}), "logout")
    seen = False
    deadline = time.monotonic() + 15
    while not seen and time.monotonic() < deadline:
        seen, since2 = changed(since2)
    expect(seen, "bob in alice's device_lists.changed after the logout")
    keys = expect_ok(alice.post("/keys/query", {"device_keys": {bob.user_id: []}}), "query again")
    expect(bob2.device_id not in keys["device_keys"].get(bob.user_id, {}), f"the device is gone: {keys}")


def harness_login(server, user):
    """A second device of `user` on `server`."""
    from harness import User
    body = expect_ok(server.api.post("/login", {"type": "m.login.password", "password": user.password,
                                                "identifier": {"type": "m.id.user", "user": user.localpart}}),
                     "login")
    return User(server.api, user.localpart, user.password, body["user_id"], body["access_token"], body["device_id"])


@e2e_test
def presence_across_servers(ctx):
    a, b, alice, bob, room = joined_pair_room(ctx)
    since = alice.sync()["next_batch"]
    expect_ok(bob.put(f"/presence/{q(bob.user_id)}/status", {"presence": "online", "status_msg": "on B"}),
              "bob sets his presence")

    def bobs_presence(token):
        body = alice.sync(since=token, timeout=1000)
        for e in body.get("presence", {}).get("events", []):
            if e["sender"] == bob.user_id:
                return e["content"], body["next_batch"]
        return None, body["next_batch"]
    deadline = time.monotonic() + 15
    content, token = None, since
    while content is None and time.monotonic() < deadline:
        content, token = bobs_presence(token)
    expect(content, "bob's presence reached alice's /sync")
    expect_eq((content["presence"], content.get("status_msg")), ("online", "on B"), f"bob's presence: {content}")
    got = expect_ok(alice.get(f"/presence/{q(bob.user_id)}/status"), "GET bob's presence on A")
    expect_eq(got["presence"], "online", f"on A: {got}")
    # And the other way.
    expect_ok(alice.put(f"/presence/{q(alice.user_id)}/status", {"presence": "unavailable"}), "alice away")
    ok = wait_until(lambda: expect_ok(bob.get(f"/presence/{q(alice.user_id)}/status"), "on B")["presence"] == "unavailable",
                    timeout=15, interval=0.2)
    expect(ok, "alice's presence on B")


@e2e_test
def timestamp_to_event_locally_and_over_federation(ctx):
    a, b, alice, bob, room = joined_pair_room(ctx)
    first = alice.send(room, "t1")
    time.sleep(0.05)
    middle = int(time.time() * 1000)
    time.sleep(0.05)
    second = alice.send(room, "t2")
    wait_for_bodies(bob, room, ["t1", "t2"])
    for user in (alice, bob):
        got = expect_ok(user.get(f"/_matrix/client/v1/rooms/{q(room)}/timestamp_to_event",
                                 query={"ts": str(middle), "dir": "f"}), "forward")
        expect_eq(got["event_id"], second, f"forward from the middle, {user}")
        got = expect_ok(user.get(f"/_matrix/client/v1/rooms/{q(room)}/timestamp_to_event",
                                 query={"ts": str(middle), "dir": "b"}), "backward")
        expect_eq(got["event_id"], first, f"backward from the middle, {user}")
    r = alice.get(f"/_matrix/client/v1/rooms/{q(room)}/timestamp_to_event", query={"ts": "x", "dir": "f"})
    expect_eq((r.status, r.json.get("errcode")), (400, "M_INVALID_PARAM"), f"bad ts: {r}")
    # The federation endpoint, signed as B.
    uri = f"/_matrix/federation/v1/timestamp_to_event/{q(room)}?ts={middle}&dir=f"
    auth = x_matrix(b.server_name, a.server_name, signing_key(b), "GET", uri)
    r = federation_request(a, "GET", uri, authorization=auth)
    expect_eq((r.status, r.json.get("event_id")), (200, second), f"over federation: {r}")


def signed_get(origin, destination, uri):
    auth = x_matrix(origin.server_name, destination.server_name, signing_key(origin), "GET", uri)
    return federation_request(destination, "GET", uri, authorization=auth)


@e2e_test
def servers_read_only_what_their_users_may_see(ctx):
    a, b = pair(ctx)
    alice, bob = register(a.api), register(b.api)
    # A private room with history visible to members only from their join.
    room = alice.create_room(preset="private_chat", room_version="10", initial_state=[{
        "type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": "joined"}}])
    secret = alice.send(room, "before B was here")
    # B has nobody in the room: it may read nothing of it.
    for uri in (f"/_matrix/federation/v1/event/{q(secret)}",
                f"/_matrix/federation/v1/state_ids/{q(room)}?event_id={q(secret)}",
                f"/_matrix/federation/v1/backfill/{q(room)}?v={q(secret)}&limit=10",
                f"/_matrix/federation/v1/event_auth/{q(room)}/{q(secret)}"):
        r = signed_get(b, a, uri)
        expect(r.status in (403, 404), f"{uri} for a server not in the room: {r}")
    # Bob is invited and joins: B is in the room now, but the event from before its user joined
    # stays hidden ("joined" visibility), on every path.
    alice.invite(room, bob)
    wait_until(lambda: room in bob.sync()["rooms"].get("invite", {}), timeout=10)
    bob.join(room)
    after = alice.send(room, "after B joined")
    wait_for_bodies(bob, room, ["after B joined"])
    # A server in the room gets what its users may not see redacted (as Synapse: its copy of the
    # DAG has no holes, the content stays on A).
    r = signed_get(b, a, f"/_matrix/federation/v1/event/{q(secret)}")
    expect_eq(r.status, 200, f"the earlier event, asked by B: {r}")
    expect_eq(r.json["pdus"][0].get("content"), {}, f"redacted for B: {r.json}")
    r = signed_get(b, a, f"/_matrix/federation/v1/backfill/{q(room)}?v={q(after)}&limit=50")
    expect_eq(r.status, 200, f"backfill: {r}")
    bodies = [p.get("content", {}).get("body") for p in r.json["pdus"]]
    expect("before B was here" not in bodies, f"backfill leaves the hidden event out: {bodies}")
    expect("after B joined" in bodies, f"backfill has the visible one: {bodies}")
    r = signed_get(b, a, f"/_matrix/federation/v1/event/{q(after)}")
    expect_eq(r.status, 200, f"the later event: {r}")
    # Its own user's join is B's to see (the state after it counts, the join included).
    join = {(e["type"], e["state_key"]): e for e in alice.state(room)}[("m.room.member", bob.user_id)]
    r = signed_get(b, a, f"/_matrix/federation/v1/event/{q(join['event_id'])}")
    expect_eq(r.json["pdus"][0]["content"], join["content"], f"bob's join, whole: {r.json}")
    # And B's client sees nothing from before the join.
    expect("before B was here" not in timeline(bob, room), "not in B's /messages")
    r = bob.get(f"/rooms/{q(room)}/event/{q(secret)}")
    expect_eq(r.status, 404, f"not by event id on B: {r}")


@e2e_test
def hostile_membership_requests(ctx):
    a, b = pair(ctx)
    alice, bob = register(a.api), register(b.api)
    room = alice.create_room(preset="public_chat", room_version="10")
    # make_join for a user of another server than the asking one.
    r = signed_get(b, a, f"/_matrix/federation/v1/make_join/{q(room)}/{q(alice.user_id)}?ver=10")
    expect_eq(r.status, 403, f"make_join for A's own user, asked by B: {r}")
    # A room version B says it can't handle.
    r = signed_get(b, a, f"/_matrix/federation/v1/make_join/{q(room)}/{q(bob.user_id)}?ver=1")
    expect_eq((r.status, r.json.get("errcode"), r.json.get("room_version")), (400, "M_INCOMPATIBLE_ROOM_VERSION", "10"),
              f"incompatible version: {r}")
    r = signed_get(b, a, f"/_matrix/federation/v1/make_join/{q('!nope:' + a.server_name)}/{q(bob.user_id)}?ver=10")
    expect_eq(r.status, 404, f"unknown room: {r}")
    # send_join with an event that is not a join, or is for another user, or is unsigned.
    tmpl = signed_get(b, a, f"/_matrix/federation/v1/make_join/{q(room)}/{q(bob.user_id)}?ver=10").json["event"]
    before = members(alice, room)
    bad = dict(tmpl, content={"membership": "leave"})
    uri = f"/_matrix/federation/v2/send_join/{q(room)}/$x"
    auth = x_matrix(b.server_name, a.server_name, signing_key(b), "PUT", uri, bad)
    r = federation_request(a, "PUT", uri, body=bad, authorization=auth)
    expect_eq(r.status, 400, f"not a join: {r}")
    unsigned = dict(tmpl, hashes={"sha256": "x"})
    auth = x_matrix(b.server_name, a.server_name, signing_key(b), "PUT", uri, unsigned)
    r = federation_request(a, "PUT", uri, body=unsigned, authorization=auth)
    expect(r.status in (400, 403), f"an unsigned join: {r}")
    # An invite for a user A doesn't have.
    inv_uri = f"/_matrix/federation/v2/invite/{q(room)}/$y"
    body = {"room_version": "10", "event": dict(tmpl, state_key="@ghost:" + a.server_name,
                                                 content={"membership": "invite"}), "invite_room_state": []}
    auth = x_matrix(b.server_name, a.server_name, signing_key(b), "PUT", inv_uri, body)
    r = federation_request(a, "PUT", inv_uri, body=body, authorization=auth)
    expect(r.status in (403, 404), f"an invite for nobody: {r}")
    expect_eq(members(alice, room), before, "nothing changed in the room")


@e2e_test
def knock_across_servers_then_invited_in(ctx):
    a, b = pair(ctx)
    alice, bob, dave = register(a.api), register(b.api), register(a.api)
    room = alice.create_room(preset="private_chat", room_version="10", name="Knock knock", initial_state=[{
        "type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}}])
    # A local knock first (dave, on A), then bob's through A.
    expect_eq(expect_ok(dave.post(f"/knock/{q(room)}", {"reason": "let me in"}), "local knock")["room_id"], room, "local")
    got = expect_ok(bob.post(f"/knock/{q(room)}", {"reason": "me too"}, query={"server_name": a.server_name}),
                    "remote knock")
    expect_eq(got["room_id"], room, "remote knock's room")
    for user in (dave, bob):
        body = user.sync()
        knocked = body["rooms"].get("knock", {}).get(room)
        expect(knocked, f"{user}'s sync shows the knock: {body['rooms']}")
        names = [e["content"].get("name") for e in knocked["knock_state"]["events"] if e["type"] == "m.room.name"]
        expect_eq(names, ["Knock knock"], f"{user} sees the room's name")
    state = {(e["type"], e["state_key"]): e for e in alice.state(room)}
    expect_eq(state[("m.room.member", bob.user_id)]["content"]["membership"], "knock", "A has bob's knock")
    expect_eq(state[("m.room.member", bob.user_id)]["content"].get("reason"), "me too", "with its reason")
    # Knocking on a room that doesn't allow it is refused.
    closed = alice.create_room(preset="private_chat", room_version="10")
    r = bob.post(f"/knock/{q(closed)}", {}, query={"server_name": a.server_name})
    expect_eq(r.status, 403, f"knock on an invite-only room: {r}")
    # Alice lets bob in.
    alice.invite(room, bob)
    expect(wait_until(lambda: room in bob.sync()["rooms"].get("invite", {}), timeout=10), "invite after the knock")
    expect_eq(bob.join(room), room, "join after the invite")
    wait_until(lambda: bob.user_id in members(alice, room), timeout=10)
    expect(bob.user_id in members(alice, room), "bob joined")
