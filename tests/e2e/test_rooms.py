"""Raw-HTTP tests of rooms: creation, aliases, state, sending, reading, membership, pagination."""

import json

from harness import (SERVER_NAME, e2e_test, expect, expect_eq, expect_error, expect_ok,
                     expect_status, q, timeline_bodies, unique)


def state_map(events):
    return {(e["type"], e["state_key"]): e for e in events}


@e2e_test
def create_room_with_everything(ctx):
    alice, bob = ctx.user(), ctx.user()
    alias_local = unique("room")
    alias = f"#{alias_local}:{SERVER_NAME}"
    body = {
        "name": "The Room", "topic": "All about it", "room_alias_name": alias_local,
        "preset": "public_chat", "invite": [bob.user_id],
        "initial_state": [{"type": "m.room.guest_access", "state_key": "",
                           "content": {"guest_access": "can_join"}},
                          {"type": "com.example.custom", "state_key": "k", "content": {"x": 1}}],
        "power_level_content_override": {"state_default": 60,
                                         "users": {alice.user_id: 100, bob.user_id: 55}},
    }
    reply = expect_ok(alice.post("/createRoom", body), "createRoom")
    room = reply.get("room_id", "")
    expect(room.startswith("!"), f"room_id must start with '!': {reply}")

    state = state_map(alice.state(room))
    create = state.get(("m.room.create", ""))
    expect(create is not None and create["sender"] == alice.user_id, f"m.room.create: {create}")
    expect_eq(state[("m.room.name", "")]["content"], {"name": "The Room"}, "m.room.name")
    expect_eq(state[("m.room.topic", "")]["content"].get("topic"), "All about it", "m.room.topic")
    expect_eq(state[("m.room.canonical_alias", "")]["content"].get("alias"), alias, "canonical alias")
    expect_eq(state[("m.room.join_rules", "")]["content"], {"join_rule": "public"}, "public_chat join rule")
    expect_eq(state[("m.room.history_visibility", "")]["content"], {"history_visibility": "shared"},
              "public_chat history visibility")
    expect_eq(state[("m.room.guest_access", "")]["content"], {"guest_access": "can_join"},
              "initial_state overrides the preset's guest access")
    expect_eq(state[("com.example.custom", "k")]["content"], {"x": 1}, "custom initial_state")
    power = state[("m.room.power_levels", "")]["content"]
    expect_eq(power.get("state_default"), 60, "power_level_content_override state_default")
    expect_eq(power.get("users", {}).get(bob.user_id), 55, "power_level_content_override users")
    expect_eq(state[("m.room.member", alice.user_id)]["content"].get("membership"), "join", "creator")
    expect_eq(state[("m.room.member", bob.user_id)]["content"].get("membership"), "invite", "invitee")
    for event in state.values():
        for key in ("event_id", "sender", "type", "origin_server_ts", "content"):
            expect(key in event, f"state event without {key}: {event}")

    # Bob sees the invite in /sync with stripped state, then joins by alias.
    invite = bob.sync()["rooms"].get("invite", {}).get(room)
    expect(invite is not None, "invited room missing from rooms.invite")
    stripped = {(e["type"], e["state_key"]) for e in invite["invite_state"]["events"]}
    expect(("m.room.member", bob.user_id) in stripped, f"invite_state lacks the invite: {stripped}")
    expect_eq(bob.join(alias), room, "join by alias")
    members = bob.get(f"/rooms/{q(room)}/state/m.room.member/{q(bob.user_id)}")
    expect_eq(expect_ok(members).get("membership"), "join", "membership after joining by alias")

    expect_error(alice.post("/createRoom", {"room_alias_name": alias_local}), 400, "M_ROOM_IN_USE",
                 "createRoom with a taken alias")


@e2e_test
def aliases(ctx):
    alice, bob = ctx.user(), ctx.user()
    room = alice.create_room(preset="public_chat")
    alias = f"#{unique('alias')}:{SERVER_NAME}"
    path = f"/directory/room/{q(alias)}"
    expect_error(alice.get(path), 404, "M_NOT_FOUND", "unknown alias")
    expect_eq(expect_ok(alice.put(path, {"room_id": room}), "PUT alias"), {}, "PUT alias reply")
    got = expect_ok(bob.get(path), "GET alias")
    expect_eq(got.get("room_id"), room, "alias room_id")
    expect(SERVER_NAME in got.get("servers", []), f"alias servers must include {SERVER_NAME}: {got}")
    other = alice.create_room()
    expect_status(alice.put(path, {"room_id": other}), 409, "PUT an existing alias")
    expect_eq(expect_ok(bob.get(path))["room_id"], room, "alias after a refused PUT")
    expect_eq(bob.join(alias), room, "join by alias")
    expect_eq(expect_ok(alice.delete(path), "DELETE alias"), {}, "DELETE alias reply")
    expect_error(bob.get(path), 404, "M_NOT_FOUND", "alias after DELETE")
    expect_error(bob.post(f"/join/{q(alias)}", {}), 404, "M_NOT_FOUND", "join by a deleted alias")


@e2e_test
def room_state(ctx):
    alice, bob = ctx.user(), ctx.user()
    room = alice.create_room(name="before", preset="public_chat")
    bob.join(room)
    reply = expect_ok(alice.put(f"/rooms/{q(room)}/state/m.room.name/", {"name": "after"}), "PUT name")
    name_event_id = reply.get("event_id", "")
    expect(name_event_id.startswith("$"), f"PUT state must return an event_id: {reply}")
    for path in (f"/rooms/{q(room)}/state/m.room.name/", f"/rooms/{q(room)}/state/m.room.name"):
        expect_eq(expect_ok(bob.get(path), f"GET {path}"), {"name": "after"}, f"GET {path}")
    expect_ok(alice.put(f"/rooms/{q(room)}/state/com.example.thing/key1", {"v": 1}))
    expect_eq(expect_ok(bob.get(f"/rooms/{q(room)}/state/com.example.thing/key1")), {"v": 1}, "keyed state")
    state = state_map(bob.state(room))
    expect_eq(state[("m.room.name", "")]["event_id"], name_event_id, "current m.room.name event")
    expect_eq(state[("com.example.thing", "key1")]["content"], {"v": 1}, "keyed state in /state")
    expect_error(bob.get(f"/rooms/{q(room)}/state/com.example.thing/nokey"), 404, "M_NOT_FOUND",
                 "state that does not exist")

    # Same content again: still a valid reply (servers may de-duplicate).
    again = expect_ok(alice.put(f"/rooms/{q(room)}/state/m.room.name/", {"name": "after"}))
    expect(again.get("event_id", "").startswith("$"), f"repeated PUT state: {again}")
    # Bob's power level (0) is below state_default (50): refused, and nothing changes.
    expect_error(bob.put(f"/rooms/{q(room)}/state/m.room.name/", {"name": "bob's"}), 403, "M_FORBIDDEN",
                 "PUT state without power")
    expect_eq(expect_ok(alice.get(f"/rooms/{q(room)}/state/m.room.name/")), {"name": "after"},
              "name after a refused change")


@e2e_test
def send_and_transaction_ids(ctx):
    alice, bob = ctx.user(), ctx.user()
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    path = f"/rooms/{q(room)}/send/m.room.message/txn-1"
    content = {"msgtype": "m.text", "body": "once"}
    first = expect_ok(alice.put(path, content), "send")["event_id"]
    expect(first.startswith("$"), f"event_id must start with '$': {first}")
    expect_eq(expect_ok(alice.put(path, content), "resend")["event_id"], first, "same txn id, same event")
    other = expect_ok(alice.put(f"/rooms/{q(room)}/send/m.room.message/txn-2", content))["event_id"]
    expect(other != first, "a new txn id must make a new event")
    # Transaction ids are scoped per device: another device (or user) gets a new event.
    expect(expect_ok(bob.put(path, content))["event_id"] != first, "txn id reused by another user")
    bodies = [e["content"].get("body") for e in alice.messages(room, limit=50)["chunk"]
              if e["type"] == "m.room.message"]
    expect_eq(bodies.count("once"), 3, f"three distinct 'once' events, not four ({bodies})")

    event = expect_ok(bob.get(f"/rooms/{q(room)}/event/{q(first)}"), "GET /event")
    expect_eq((event.get("event_id"), event.get("room_id"), event.get("sender"), event.get("type")),
              (first, room, alice.user_id, "m.room.message"), "GET /event fields")
    expect_eq(event.get("content"), content, "GET /event content")
    expect(isinstance(event.get("origin_server_ts"), int), f"origin_server_ts: {event}")
    expect_error(bob.get(f"/rooms/{q(room)}/event/{q('$doesnotexist')}"), 404, "M_NOT_FOUND",
                 "GET /event of an unknown event")
    carol = ctx.user()
    expect_error(carol.get(f"/rooms/{q(room)}/event/{q(first)}"), 404, "M_NOT_FOUND",
                 "GET /event by a non-member")


@e2e_test
def event_context(ctx):
    alice = ctx.user()
    room = alice.create_room()
    ids = [alice.send(room, f"c{i}") for i in range(7)]
    body = expect_ok(alice.get(f"/rooms/{q(room)}/context/{q(ids[3])}", query={"limit": "4"}))
    expect_eq(body["event"]["event_id"], ids[3], "context event")
    before = [e["event_id"] for e in body.get("events_before", [])]
    after = [e["event_id"] for e in body.get("events_after", [])]
    expect(len(before) + len(after) <= 4, f"limit 4 applies to before+after: {len(before)}+{len(after)}")
    expect(before and before == [ids[2], ids[1], ids[0]][:len(before)],
           f"events_before must be the preceding events, newest first: {before} vs {ids}")
    expect(after and after == ids[4:4 + len(after)], f"events_after must follow in order: {after}")
    expect(isinstance(body.get("start"), str) and isinstance(body.get("end"), str),
           f"context start/end tokens: {body.keys()}")
    state_types = {e["type"] for e in body.get("state", [])}
    expect("m.room.create" in state_types, f"context state lacks m.room.create: {state_types}")
    # The tokens paginate on from the edges of the context.
    older = alice.messages(room, dir="b", limit=len(ids), **{"from": body["start"]})["chunk"]
    expect_eq([e["event_id"] for e in older if e["type"] == "m.room.message"][:3 - len(before)],
              [ids[2], ids[1], ids[0]][len(before):3], "paginating back from context start")
    newer = alice.messages(room, dir="f", limit=len(ids), **{"from": body["end"]})["chunk"]
    expect_eq([e["event_id"] for e in newer], ids[4 + len(after):], "paginating forward from context end")


@e2e_test
def members_and_joined(ctx):
    alice, bob, carol, dave = ctx.user(), ctx.user(), ctx.user(), ctx.user()
    room = alice.create_room(preset="private_chat")
    alice.invite(room, bob)
    bob.join(room)
    alice.invite(room, carol)
    path = f"/rooms/{q(room)}/members"

    def memberships(**query):
        chunk = expect_ok(bob.get(path, query=query), f"/members {query}")["chunk"]
        expect(all(e["type"] == "m.room.member" for e in chunk), f"/members returned non-members: {chunk}")
        return {e["state_key"]: e["content"]["membership"] for e in chunk}

    expect_eq(memberships(), {alice.user_id: "join", bob.user_id: "join", carol.user_id: "invite"},
              "/members")
    expect_eq(memberships(membership="join"), {alice.user_id: "join", bob.user_id: "join"},
              "/members?membership=join")
    expect_eq(memberships(not_membership="join"), {carol.user_id: "invite"}, "/members?not_membership=join")
    joined = expect_ok(bob.get(f"/rooms/{q(room)}/joined_members"))["joined"]
    expect_eq(set(joined), {alice.user_id, bob.user_id}, "/joined_members")
    expect_error(dave.get(path), 403, "M_FORBIDDEN", "/members by a non-member")
    expect_error(dave.get(f"/rooms/{q(room)}/joined_members"), 403, "M_FORBIDDEN",
                 "/joined_members by a non-member")

    other = alice.create_room()
    rooms = expect_ok(alice.get("/joined_rooms"))["joined_rooms"]
    expect({room, other} <= set(rooms), f"/joined_rooms lacks rooms: {rooms}")
    expect_eq(expect_ok(bob.get("/joined_rooms"))["joined_rooms"], [room], "bob's /joined_rooms")
    expect_eq(expect_ok(carol.get("/joined_rooms"))["joined_rooms"], [], "an invite is not a join")
    expect_eq(expect_ok(bob.post(f"/rooms/{q(room)}/leave", {})), {}, "leave")
    expect_eq(expect_ok(bob.get("/joined_rooms"))["joined_rooms"], [], "/joined_rooms after leaving")


@e2e_test
def kick_ban_unban_forget(ctx):
    alice, bob = ctx.user(), ctx.user()
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    member = f"/rooms/{q(room)}/state/m.room.member/{q(bob.user_id)}"

    # A user without power cannot kick, and the refusal changes nothing.
    expect_error(bob.post(f"/rooms/{q(room)}/kick", {"user_id": alice.user_id}), 403, "M_FORBIDDEN",
                 "kick without power")
    expect_eq(expect_ok(alice.get(f"/rooms/{q(room)}/state/m.room.member/{q(alice.user_id)}"))
              ["membership"], "join", "alice after a refused kick")

    expect_ok(alice.post(f"/rooms/{q(room)}/kick", {"user_id": bob.user_id, "reason": "out"}), "kick")
    content = expect_ok(alice.get(member))
    expect_eq((content.get("membership"), content.get("reason")), ("leave", "out"), "kicked member")
    expect_error(bob.put(f"/rooms/{q(room)}/send/m.room.message/k1", {"msgtype": "m.text", "body": "x"}),
                 403, "M_FORBIDDEN", "sending after a kick")
    bob.join(room)

    expect_ok(alice.post(f"/rooms/{q(room)}/ban", {"user_id": bob.user_id, "reason": "bad"}), "ban")
    content = expect_ok(alice.get(member))
    expect_eq((content.get("membership"), content.get("reason")), ("ban", "bad"), "banned member")
    expect_error(bob.post(f"/join/{q(room)}", {}), 403, "M_FORBIDDEN", "joining while banned")
    expect_eq(expect_ok(alice.get(member))["membership"], "ban", "still banned after a refused join")

    expect_ok(alice.post(f"/rooms/{q(room)}/unban", {"user_id": bob.user_id}), "unban")
    expect_eq(expect_ok(alice.get(member))["membership"], "leave", "membership after unban")
    bob.join(room)

    expect_status(alice.post(f"/rooms/{q(room)}/forget", {}), 400, "forgetting a room one is joined to")
    expect_ok(bob.post(f"/rooms/{q(room)}/leave", {}), "leave")
    expect_eq(expect_ok(bob.post(f"/rooms/{q(room)}/forget", {}), "forget"), {}, "forget reply")
    expect(room not in expect_ok(bob.get("/joined_rooms"))["joined_rooms"], "forgotten room still joined")
    expect(room not in bob.sync().get("rooms", {}).get("leave", {}),
           "a forgotten room must not appear in an initial sync's rooms.leave")


@e2e_test
def sync_filter_limit_and_prev_batch(ctx):
    alice, bob = ctx.user(), ctx.user()
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    for i in range(12):
        alice.send(room, f"m{i:02d}")
    limit3 = {"room": {"timeline": {"limit": 3}}}
    timeline = bob.sync(filter=limit3)["rooms"]["join"][room]["timeline"]
    expect_eq(timeline_bodies(timeline["events"]), ["m09", "m10", "m11"], "limited initial sync")
    expect_eq(timeline.get("limited"), True, "timeline.limited")
    prev = timeline.get("prev_batch")
    expect(isinstance(prev, str) and prev, f"prev_batch missing: {timeline.keys()}")
    page = bob.messages(room, dir="b", limit=4, **{"from": prev})
    expect_eq(timeline_bodies(page["chunk"]), ["m08", "m07", "m06", "m05"], "/messages from prev_batch")

    # Incremental: only what is new, and a gap larger than the limit is flagged again.
    since = bob.sync(filter=limit3)["next_batch"]
    alice.send(room, "n0")
    inc = bob.sync(since=since, filter=limit3)
    events = inc["rooms"]["join"][room]["timeline"]
    expect_eq(timeline_bodies(events["events"]), ["n0"], "incremental sync")
    expect(not events.get("limited", False), "a small incremental sync must not be limited")
    for i in range(1, 6):
        alice.send(room, f"n{i}")
    gap = bob.sync(since=inc["next_batch"], filter=limit3)["rooms"]["join"][room]["timeline"]
    expect_eq(timeline_bodies(gap["events"]), ["n3", "n4", "n5"], "incremental sync over a gap")
    expect_eq(gap.get("limited"), True, "limited over a gap")
    page = bob.messages(room, dir="b", limit=10, to=inc["next_batch"], **{"from": gap["prev_batch"]})
    expect_eq(timeline_bodies(page["chunk"]), ["n2", "n1"], "filling the gap with from=prev_batch, to=since")
    quiet = bob.sync(since=bob.sync(filter=limit3)["next_batch"], filter=limit3)
    expect(room not in quiet.get("rooms", {}).get("join", {}), "a quiet incremental sync lists no room")


@e2e_test
def messages_pagination(ctx):
    alice = ctx.user()
    room = alice.create_room()
    names = [f"p{i:02d}" for i in range(25)]
    for n in names:
        alice.send(room, n)
    head = alice.sync()["next_batch"]

    # Backwards from the head, 10 at a time, until there is no `end`.
    seen, token, pages = [], head, 0
    while True:
        page = alice.messages(room, dir="b", limit=10, **{"from": token})
        pages += 1
        expect(len(page["chunk"]) <= 10, f"limit 10 exceeded: {len(page['chunk'])}")
        expect(isinstance(page.get("start"), str), f"/messages start: {page.keys()}")
        seen += page["chunk"]
        if "end" not in page or pages > 20:
            break
        token = page["end"]
    ids = [e["event_id"] for e in seen]
    expect_eq(len(ids), len(set(ids)), "duplicate events while paginating")
    expect_eq(seen[-1]["type"], "m.room.create", "backwards pagination ends at m.room.create")
    expect_eq(timeline_bodies(seen), names[::-1], "messages newest first")
    first_page_end = alice.messages(room, dir="b", limit=10, **{"from": head})["end"]

    # Forwards from the start of the room: the same events, oldest first.
    fwd = alice.messages(room, dir="f", limit=100)["chunk"]
    expect_eq([e["event_id"] for e in fwd], ids[::-1], "dir=f without from is the reverse of dir=b")
    # Forwards from a token in the middle: the events after it.
    mid = alice.messages(room, dir="f", limit=5, **{"from": first_page_end})["chunk"]
    expect_eq(timeline_bodies(mid), names[15:20], "dir=f from a dir=b end token")

    # `to` bounds a page; no `from` means "from the end" for dir=b (spec v1.3).
    bounded = alice.messages(room, dir="b", limit=100, to=first_page_end, **{"from": head})["chunk"]
    expect_eq(timeline_bodies(bounded), names[::-1][:10], "dir=b with to")
    latest = alice.messages(room, dir="b", limit=3)["chunk"]
    expect_eq(timeline_bodies(latest), names[::-1][:3], "dir=b without from")
    oldest = alice.messages(room, dir="f", limit=1)["chunk"]
    expect_eq([e["type"] for e in oldest], ["m.room.create"], "dir=f without from starts at creation")
    expect_status(alice.get(f"/rooms/{q(room)}/messages", query={"dir": "sideways"}), 400, "bad dir")


@e2e_test
def redaction(ctx):
    alice, bob = ctx.user(), ctx.user()
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    secret = alice.send(room, "the secret")
    keep = alice.send(room, "keep me")
    expect_error(bob.put(f"/rooms/{q(room)}/redact/{q(secret)}/r0", {"reason": "mine now"}),
                 403, "M_FORBIDDEN", "redacting someone else's event without power")
    expect_eq(expect_ok(bob.get(f"/rooms/{q(room)}/event/{q(secret)}"))["content"].get("body"),
              "the secret", "content after a refused redaction")

    reply = expect_ok(alice.put(f"/rooms/{q(room)}/redact/{q(secret)}/r1", {"reason": "oops"}), "redact")
    redaction_id = reply.get("event_id", "")
    expect(redaction_id.startswith("$"), f"redact must return an event_id: {reply}")
    event = expect_ok(bob.get(f"/rooms/{q(room)}/event/{q(secret)}"))
    expect_eq(event.get("content"), {}, "content of a redacted event")
    because = event.get("unsigned", {}).get("redacted_because", {})
    expect_eq(because.get("event_id"), redaction_id, "unsigned.redacted_because")
    chunk = bob.messages(room, limit=10)["chunk"]
    by_id = {e["event_id"]: e for e in chunk}
    expect_eq(by_id[secret]["content"], {}, "redacted event in /messages")
    expect_eq(by_id[keep]["content"].get("body"), "keep me", "other events untouched")
    red = by_id.get(redaction_id)
    expect(red is not None and red["type"] == "m.room.redaction", "redaction event in the timeline")
    expect(secret in (red.get("redacts"), red.get("content", {}).get("redacts")),
           f"m.room.redaction must name the redacted event: {red}")
    expect(all("the secret" not in json.dumps(e) for e in bob.sync()["rooms"]["join"][room]
               ["timeline"]["events"]), "sync still shows redacted content")
