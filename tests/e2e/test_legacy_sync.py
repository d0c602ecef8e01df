"""The sync API before /sync, still used by bots, bridges and test tools (spec: client-server API,
deprecated "Legacy" endpoints; Synapse 1.67's handlers/events.py and handlers/initial_sync.py):
GET /events (from, timeout, limit, room_id peeking into world_readable rooms), GET /initialSync,
GET /rooms/{roomId}/initialSync and POST /rooms/{roomId}/send/{eventType} without a transaction
id. Same streams, notifier and history visibility as /sync.
"""

import concurrent.futures
import time

from harness import e2e_test, expect, expect_eq, expect_error, expect_ok, q, timeline_bodies


def stream(user, what, **query):
    query = {k: str(v) for k, v in query.items()}
    query.setdefault("timeout", "0")
    return expect_ok(user.get("/events", query=query, timeout=120), what)


def bodies(chunk, room=None):
    return [e["content"].get("body") for e in chunk
            if e["type"] == "m.room.message" and (room is None or e["room_id"] == room)]


def set_visibility(user, room, visibility):
    expect_ok(user.put(f"/rooms/{q(room)}/state/m.room.history_visibility",
                       {"history_visibility": visibility}), f"history_visibility {visibility}")


@e2e_test
def events_stream_delivers_every_event_once(ctx):
    alice, bob = ctx.user(), ctx.user()
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    # Without `from`: from now on; nothing yet, and an `end` to go on from.
    first = stream(bob, "first /events")
    expect_eq(bodies(first["chunk"]), [], "nothing new without from")
    for i in range(5):
        alice.send(room, f"m{i}")
    # The limit cuts the stream without losing anything: `end` stops before the first event
    # left out, and the next page starts there.
    page = stream(bob, "/events limit 2", **{"from": first["end"], "limit": 2})
    expect_eq(bodies(page["chunk"]), ["m0", "m1"], "first page, oldest first")
    expect(all(e["room_id"] == room for e in page["chunk"]), f"events carry room_id: {page['chunk']}")
    expect_eq(page["start"], first["end"], "start is the from token")
    page2 = stream(bob, "/events page 2", **{"from": page["end"], "limit": 2})
    page3 = stream(bob, "/events page 3", **{"from": page2["end"], "limit": 2})
    expect_eq(bodies(page2["chunk"]) + bodies(page3["chunk"]), ["m2", "m3", "m4"], "later pages")
    # GET /events/{eventId}: one event, by id alone.
    one = page["chunk"][0]
    expect_eq(expect_ok(bob.get(f"/events/{q(one['event_id'])}"), "GET /events/{id}")["content"],
              one["content"], "the event by id")
    stranger = ctx.user()
    expect_error(stranger.get(f"/events/{q(one['event_id'])}"), 404, "M_NOT_FOUND",
                 "an event the user may not see")
    expect_error(bob.get("/events/$nothing"), 404, "M_NOT_FOUND", "an unknown event")
    rest = stream(bob, "/events at the end", **{"from": page3["end"]})
    expect_eq(bodies(rest["chunk"]), [], "nothing twice")
    # The other streams: typing, receipts, account data and presence come through it too.
    expect_ok(alice.put(f"/rooms/{q(room)}/typing/{q(alice.user_id)}", {"typing": True, "timeout": 30000}),
              "typing")
    expect_ok(bob.put(f"/user/{q(bob.user_id)}/account_data/org.example.legacy", {"n": 1}), "account data")
    seen = stream(bob, "/events after typing", **{"from": rest["end"]})
    typing = [e for e in seen["chunk"] if e["type"] == "m.typing"]
    expect(typing and typing[0]["room_id"] == room and alice.user_id in typing[0]["content"]["user_ids"],
           f"m.typing with room_id: {seen['chunk']}")
    expect(any(e["type"] == "org.example.legacy" and e["content"] == {"n": 1} for e in seen["chunk"]),
           f"global account data in the stream: {seen['chunk']}")
    # The stream's tokens are /sync tokens.
    expect_ok(bob.get("/sync", query={"since": seen["end"], "timeout": "0"}), "/sync since an /events end")


@e2e_test
def events_long_poll_wakes_on_a_new_event(ctx):
    alice, bob = ctx.user(), ctx.user()
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    end = stream(bob, "first /events")["end"]
    # Nothing arrives: the request waits its timeout out and answers an empty chunk.
    t0 = time.monotonic()
    idle = stream(bob, "/events that times out", **{"from": end, "timeout": 700})
    waited = time.monotonic() - t0
    expect_eq(idle["chunk"], [], "no events within the timeout")
    expect(waited >= 0.6, f"the long-poll waited its timeout ({waited:.2f} s)")
    # An event during the wait wakes it at once.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        t0 = time.monotonic()
        pending = pool.submit(stream, bob, "waiting /events", **{"from": idle["end"], "timeout": 30000})
        time.sleep(0.3)
        alice.send(room, "wake up")
        got = pending.result(timeout=60)
        took = time.monotonic() - t0
    expect_eq(bodies(got["chunk"]), ["wake up"], "the long-poll's answer")
    expect(took < 10, f"woken by the event, not the timeout ({took:.2f} s)")


@e2e_test
def events_follow_membership_and_visibility(ctx):
    alice, bob = ctx.user(), ctx.user()
    room = alice.create_room(preset="private_chat")
    alice.invite(room, bob)
    end = stream(bob, "before the invite is seen")["end"]
    # Not joined: the invite itself (the user's own membership change), nothing else.
    alice.send(room, "before bob joins")
    invited_room = alice.create_room(preset="private_chat")
    alice.invite(invited_room, bob)
    page = stream(bob, "/events with an invite", **{"from": end})
    invites = [e for e in page["chunk"] if e["type"] == "m.room.member"
               and e["state_key"] == bob.user_id and e["room_id"] == invited_room]
    expect_eq(len(invites), 1, f"the invite in the stream: {page['chunk']}")
    expect_eq(bodies(page["chunk"]), [], "no messages of rooms bob is not in")
    bob.join(room)
    alice.send(room, "while bob is in")
    expect_ok(bob.post(f"/rooms/{q(room)}/leave", {}), "leave")
    alice.send(room, "after bob left")
    page = stream(bob, "/events across a leave", **{"from": page["end"]})
    expect_eq(bodies(page["chunk"]), ["while bob is in"], "messages while joined only")
    leaves = [e for e in page["chunk"] if e["type"] == "m.room.member" and e["state_key"] == bob.user_id
              and e["content"]["membership"] == "leave"]
    expect_eq(len(leaves), 1, f"bob's own leave in the stream: {page['chunk']}")


@e2e_test
def events_room_id_peeks_into_world_readable_rooms(ctx):
    alice, carol = ctx.user(), ctx.user()
    readable = alice.create_room(preset="public_chat")
    set_visibility(alice, readable, "world_readable")
    private = alice.create_room(preset="public_chat")  # shared history: members only
    mine = carol.create_room(preset="private_chat")
    expect_error(carol.get("/events", query={"room_id": private, "timeout": "0"}), 403, "M_FORBIDDEN",
                 "peeking into a room that is not world_readable")
    end = stream(carol, "peek start", room_id=readable)["end"]
    alice.send(readable, "for everyone")
    alice.send(private, "for members")
    carol.send(mine, "carol's own room")
    page = stream(carol, "peek", **{"from": end, "room_id": readable})
    expect_eq(bodies(page["chunk"]), ["for everyone"], "only the peeked room's events")
    # A long-poll peek is woken by the room.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(stream, carol, "waiting peek",
                              **{"from": page["end"], "room_id": readable, "timeout": 30000})
        time.sleep(0.3)
        alice.send(readable, "again")
        got = pending.result(timeout=60)
    expect_eq(bodies(got["chunk"]), ["again"], "the peek's long-poll")
    # room_id of a room the user is in narrows the stream to it.
    narrowed = stream(carol, "room_id of a joined room", **{"from": end, "room_id": mine})
    expect_eq(bodies(narrowed["chunk"]), ["carol's own room"], "only that room")


@e2e_test
def events_bad_parameters(ctx):
    bob = ctx.user()
    for query, what in [({"from": "nonsense!"}, "a bad from token"),
                        ({"timeout": "soon"}, "a timeout that is no number"),
                        ({"limit": "-1"}, "a negative limit")]:
        resp = bob.get("/events", query={"timeout": "0", **query})
        expect(resp.status == 400 and resp.json["errcode"].startswith("M_"), f"{what}: {resp}")
    expect_error(bob.get("/events", query={"room_id": "not-a-room", "timeout": "0"}), 400,
                 "M_INVALID_PARAM", "a bad room_id")
    expect_error(ctx.api.get("/events", query={"timeout": "0"}), 401, "M_MISSING_TOKEN", "no token")


@e2e_test
def initial_sync_snapshot(ctx):
    alice, bob = ctx.user(), ctx.user()
    public = alice.create_room(preset="public_chat", visibility="public", name="Lobby")
    bob.join(public)
    for i in range(4):
        alice.send(public, f"p{i}")
    left = alice.create_room(preset="public_chat")
    bob.join(left)
    alice.send(left, "seen before leaving")
    expect_ok(bob.post(f"/rooms/{q(left)}/leave", {}), "leave")
    alice.send(left, "after bob left")
    invited = alice.create_room(preset="private_chat")
    alice.invite(invited, bob)
    expect_ok(bob.put(f"/user/{q(bob.user_id)}/rooms/{q(public)}/tags/u.work", {"order": 0.5}), "tag")
    expect_ok(bob.put(f"/user/{q(bob.user_id)}/account_data/org.example.g", {"g": True}), "account data")

    snap = expect_ok(bob.get("/initialSync", query={"limit": "3"}), "/initialSync")
    rooms = {r["room_id"]: r for r in snap["rooms"]}
    expect(left not in rooms, "a left room only with archived=true")
    entry = rooms[public]
    expect_eq((entry["membership"], entry["visibility"]), ("join", "public"), "membership, visibility")
    expect_eq(timeline_bodies(entry["messages"]["chunk"]), ["p1", "p2", "p3"], "the newest 3, oldest first")
    expect(all(e["room_id"] == public for e in entry["messages"]["chunk"]), "messages carry room_id")
    state_types = {e["type"] for e in entry["state"]}
    expect({"m.room.create", "m.room.name", "m.room.member"} <= state_types, f"current state: {state_types}")
    expect({"type": "m.tag", "content": {"tags": {"u.work": {"order": 0.5}}}} in entry["account_data"],
           f"the room's tags: {entry['account_data']}")
    # `start` pages backwards through /messages from just before the oldest message.
    older = bob.messages(public, **{"from": entry["messages"]["start"]}, limit=1)
    expect_eq(timeline_bodies(older["chunk"]), ["p0"], "/messages from start")
    inv = rooms[invited]
    expect_eq((inv["membership"], inv["inviter"]), ("invite", alice.user_id), "the invite")
    expect_eq(inv["invite"]["content"]["membership"], "invite", "the invite event")
    expect({"type": "org.example.g", "content": {"g": True}} in snap["account_data"],
           f"global account data: {snap['account_data']}")
    expect(isinstance(snap["presence"], list) and isinstance(snap["receipts"], list), "presence, receipts")
    # The end token continues the event stream and /sync.
    alice.send(public, "after the snapshot")
    page = stream(bob, "/events from initialSync's end", **{"from": snap["end"]})
    expect_eq(bodies(page["chunk"]), ["after the snapshot"], "the stream after the snapshot")

    archived = expect_ok(bob.get("/initialSync", query={"archived": "true"}), "/initialSync archived")
    gone = {r["room_id"]: r for r in archived["rooms"]}[left]
    expect_eq(gone["membership"], "leave", "archived room membership")
    expect_eq(timeline_bodies(gone["messages"]["chunk"]), ["seen before leaving"],
              "an archived room ends at the leave")


@e2e_test
def room_initial_sync_by_membership(ctx):
    alice, bob, carol = ctx.user(), ctx.user(), ctx.user()
    room = alice.create_room(preset="public_chat")
    set_visibility(alice, room, "joined")
    alice.send(room, "before bob")
    bob.join(room)
    alice.send(room, "with bob")
    snap = expect_ok(bob.get(f"/rooms/{q(room)}/initialSync"), "room initialSync")
    expect_eq(snap["membership"], "join", "membership")
    expect_eq(snap["room_id"], room, "room_id")
    got = timeline_bodies(snap["messages"]["chunk"])
    expect("with bob" in got and "before bob" not in got, f"history visibility joined: {got}")
    expect(any(e["type"] == "m.room.create" for e in snap["state"]), "state")
    expect(isinstance(snap["presence"], list) and isinstance(snap["receipts"], list), "presence, receipts")
    # Departed: the room as it was at the leave.
    expect_ok(bob.post(f"/rooms/{q(room)}/leave", {}), "leave")
    alice.send(room, "after bob")
    expect_ok(alice.put(f"/rooms/{q(room)}/state/m.room.name", {"name": "Renamed"}), "rename")
    gone = expect_ok(bob.get(f"/rooms/{q(room)}/initialSync"), "room initialSync after leaving")
    expect_eq(gone["membership"], "leave", "membership after leaving")
    expect("after bob" not in timeline_bodies(gone["messages"]["chunk"]), "nothing after the leave")
    expect(not any(e["type"] == "m.room.name" for e in gone["state"]), "the state at the leave")
    # Strangers: 403, unless the room is world_readable (then as a peeker, with no membership).
    expect_error(carol.get(f"/rooms/{q(room)}/initialSync"), 403, "M_FORBIDDEN", "a stranger")
    set_visibility(alice, room, "world_readable")
    alice.send(room, "public now")
    peek = expect_ok(carol.get(f"/rooms/{q(room)}/initialSync"), "peek initialSync")
    expect("membership" not in peek, f"a peeker has no membership: {peek.get('membership')}")
    expect_eq(timeline_bodies(peek["messages"]["chunk"]), ["public now"], "what a peeker may read")
    expect_error(carol.get("/rooms/not-a-room/initialSync"), 400, "M_INVALID_PARAM", "a bad room id")


@e2e_test
def send_without_transaction_id(ctx):
    alice, bob = ctx.user(), ctx.user()
    room = alice.create_room(preset="private_chat")
    path = f"/rooms/{q(room)}/send/m.room.message"
    body = {"msgtype": "m.text", "body": "legacy"}
    first = expect_ok(alice.post(path, body), "POST send")["event_id"]
    second = expect_ok(alice.post(path, body), "POST send again")["event_id"]
    expect(first != second, "no transaction id: every POST is a new event")
    expect_eq(timeline_bodies(alice.messages(room)["chunk"])[:2], ["legacy", "legacy"], "both stored")
    expect_error(bob.post(path, body), 403, "M_FORBIDDEN", "a non-member")
    bad = alice.post(path, raw=b"{not json")
    expect_eq((bad.status, bad.json["errcode"]), (400, "M_NOT_JSON"), "bad JSON")
    expect_eq(len(alice.messages(room)["chunk"]) >= 2, True, "still there")
