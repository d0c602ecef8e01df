"""History visibility on every path that returns events (spec: client-server API "Room history
visibility"; Synapse 1.67's semantics in synapse/visibility.py).

A user who joins later sees what `m.room.history_visibility` allows them: everything under
`world_readable`, the whole history once a member under `shared`, from their invite on under
`invited`, from their join on under `joined`. A departed user keeps what they saw up to their
leave and nothing after. Non-members read only `world_readable` rooms.
"""

from harness import (e2e_test, expect, expect_eq, expect_error, expect_ok, q, timeline_bodies)


def set_visibility(user, room_id, value):
    expect_ok(user.put(f"/rooms/{q(room_id)}/state/m.room.history_visibility",
                       {"history_visibility": value}), f"history_visibility {value}")


def event_status(user, room_id, event_id):
    return user.get(f"/rooms/{q(room_id)}/event/{q(event_id)}").status


def all_bodies(user, room_id):
    """Every message body the user can page back to, oldest first."""
    return list(reversed(timeline_bodies(user.messages(room_id, limit=100)["chunk"])))


def sync_bodies(user, room_id, section="join", **kw):
    body = user.sync(filter={"room": {"timeline": {"limit": 50}}}, **kw)
    room = body["rooms"][section].get(room_id)
    expect(room is not None, f"{room_id} in rooms.{section} of {user}'s sync: {body['rooms']}")
    return timeline_bodies(room["timeline"]["events"]), room


def room_where(ctx, visibility):
    """alice's room under `visibility` with 'before' sent, bob invited after it, 'invited'
    sent, bob joined, 'joined' sent. Returns (alice, bob, room_id, event ids by body)."""
    alice, bob = ctx.user(), ctx.user()
    room = alice.create_room(preset="private_chat")
    set_visibility(alice, room, visibility)
    ids = {"before": alice.send(room, "before")}
    alice.invite(room, bob)
    ids["invited"] = alice.send(room, "invited")
    bob.join(room)
    ids["joined"] = alice.send(room, "joined")
    return alice, bob, room, ids


EXPECTED = {
    "joined": ["joined"],
    "invited": ["invited", "joined"],
    "shared": ["before", "invited", "joined"],
    "world_readable": ["before", "invited", "joined"],
}


@e2e_test
def later_joiner_sees_what_visibility_allows(ctx):
    for visibility, expected in EXPECTED.items():
        alice, bob, room, ids = room_where(ctx, visibility)
        what = f"history_visibility {visibility}"
        expect_eq(all_bodies(bob, room), expected, f"{what}: /messages for the later joiner")
        expect_eq(all_bodies(alice, room), ["before", "invited", "joined"], f"{what}: the creator")
        for body, event_id in ids.items():
            expect_eq(event_status(bob, room, event_id), 200 if body in expected else 404,
                      f"{what}: GET /event of '{body}'")
            resp = bob.get(f"/rooms/{q(room)}/context/{q(event_id)}", query={"limit": "20"})
            if body not in expected:
                expect_error(resp, 404, "M_NOT_FOUND", f"{what}: /context of '{body}'")
                continue
            ctx_body = expect_ok(resp, f"{what}: /context of '{body}'")
            around = timeline_bodies(ctx_body["events_before"] + ctx_body["events_after"])
            expect(set(around) <= set(expected), f"{what}: /context of '{body}' shows {around}")
        bodies, room_entry = sync_bodies(bob, room)
        expect_eq(bodies, expected, f"{what}: initial /sync timeline")


@e2e_test
def incremental_sync_of_a_new_join_hides_earlier_history(ctx):
    alice, bob = ctx.user(), ctx.user()
    room = alice.create_room(preset="private_chat")
    set_visibility(alice, room, "joined")
    for i in range(3):
        alice.send(room, f"secret {i}")
    alice.invite(room, bob)
    since = bob.sync()["next_batch"]
    bob.join(room)
    alice.send(room, "welcome")
    body = bob.sync(since=since, filter={"room": {"timeline": {"limit": 50}}})
    entry = body["rooms"]["join"].get(room)
    expect(entry is not None, f"the new room in the incremental sync: {body['rooms']}")
    expect_eq(timeline_bodies(entry["timeline"]["events"]), ["welcome"], "timeline after the join")
    # Synapse marks a room joined since the token as limited: the client has none of its history.
    expect_eq(entry["timeline"]["limited"], True, "limited flag of a newly joined room")
    types = {e["type"] for e in entry["state"]["events"] + entry["timeline"]["events"]}
    expect({"m.room.create", "m.room.history_visibility", "m.room.member"} <= types,
           f"the room's state comes with the new join: {sorted(types)}")
    # Paginating back from the timeline finds nothing hidden either.
    prev = entry["timeline"]["prev_batch"]
    older = bob.messages(room, **{"from": prev})["chunk"]
    expect_eq(timeline_bodies(older), [], "/messages before the timeline of a new join")


@e2e_test
def departed_user_keeps_history_up_to_the_leave(ctx):
    alice, bob = ctx.user(), ctx.user()
    room = alice.create_room(preset="public_chat", name="Before")
    bob.join(room)
    seen = alice.send(room, "while there")
    expect_ok(bob.post(f"/rooms/{q(room)}/leave", {}), "leave")
    after = alice.send(room, "after the leave")
    expect_ok(alice.put(f"/rooms/{q(room)}/state/m.room.name", {"name": "After"}), "rename")
    expect_eq(all_bodies(bob, room), ["while there"], "/messages of a departed user")
    fwd = timeline_bodies(bob.messages(room, dir="f")["chunk"])
    expect_eq(fwd, ["while there"], "/messages forwards of a departed user")
    expect_eq(event_status(bob, room, seen), 200, "/event from before the leave")
    expect_eq(event_status(bob, room, after), 404, "/event from after the leave")
    expect_error(bob.get(f"/rooms/{q(room)}/context/{q(after)}"), 404, "M_NOT_FOUND",
                 "/context from after the leave")
    names = [e["content"]["name"] for e in bob.state(room) if e["type"] == "m.room.name"]
    expect_eq(names, ["Before"], "m.room.name of a departed room is the one at the leave")
    name = bob.get(f"/rooms/{q(room)}/state/m.room.name")
    expect_eq(expect_ok(name, "GET state m.room.name")["name"], "Before", "state event at the leave")
    members = expect_ok(bob.get(f"/rooms/{q(room)}/members"), "/members")["chunk"]
    mine = [m["content"]["membership"] for m in members if m["state_key"] == bob.user_id]
    expect_eq(mine, ["leave"], "/members of a departed user: as at the leave")
    body = bob.sync(filter={"room": {"include_leave": True, "timeline": {"limit": 50}}})
    left = body["rooms"]["leave"].get(room)
    expect(left is not None, f"the left room with include_leave: {body['rooms']}")
    expect("after the leave" not in timeline_bodies(left["timeline"]["events"]),
           "the left room's timeline ends at the leave")


@e2e_test
def non_members_read_only_world_readable_rooms(ctx):
    alice, carol = ctx.user(), ctx.user()
    shared = alice.create_room(preset="public_chat")
    hidden = alice.send(shared, "members only")
    readable = alice.create_room(preset="public_chat")
    early = alice.send(readable, "before it was world_readable")
    set_visibility(alice, readable, "world_readable")
    public = alice.send(readable, "for everyone")

    expect_error(carol.get(f"/rooms/{q(shared)}/messages", query={"dir": "b"}), 403, "M_FORBIDDEN",
                 "/messages of a shared room by a non-member")
    expect_eq(event_status(carol, shared, hidden), 404, "/event of a shared room by a non-member")
    expect_error(carol.get(f"/rooms/{q(shared)}/state"), 403, "M_FORBIDDEN", "/state by a non-member")
    expect_error(carol.get(f"/rooms/{q(shared)}/members"), 403, "M_FORBIDDEN",
                 "/members by a non-member")

    # A world_readable room: its events from the change on, to anyone (as a peeker, shared
    # history from before the change stays hidden).
    expect_eq(all_bodies(carol, readable), ["for everyone"], "/messages of a world_readable room")
    expect_eq(event_status(carol, readable, public), 200, "/event in a world_readable room")
    expect_eq(event_status(carol, readable, early), 404, "/event from before it was world_readable")
    ctx_body = expect_ok(carol.get(f"/rooms/{q(readable)}/context/{q(public)}"), "/context")
    expect_eq(timeline_bodies(ctx_body["events_before"]), [], "/context hides the shared part")
    types = {e["type"] for e in carol.state(readable)}
    expect("m.room.create" in types, f"/state of a world_readable room: {types}")
    expect_ok(carol.get(f"/rooms/{q(readable)}/members"), "/members of a world_readable room")


@e2e_test
def members_at_a_token_follows_visibility(ctx):
    alice, bob = ctx.user(), ctx.user()
    room = alice.create_room(preset="private_chat")
    set_visibility(alice, room, "joined")
    alice.send(room, "before")
    before_bob = alice.sync()["next_batch"]
    alice.invite(room, bob)
    bob.join(room)
    alice.send(room, "after")
    after_bob = bob.sync()["next_batch"]
    expect_error(bob.get(f"/rooms/{q(room)}/members", query={"at": before_bob}), 403, "M_FORBIDDEN",
                 "/members?at= a token from before the join, under joined")
    chunk = expect_ok(bob.get(f"/rooms/{q(room)}/members", query={"at": after_bob}),
                      "/members?at= a token after the join")["chunk"]
    expect({m["state_key"] for m in chunk} == {alice.user_id, bob.user_id}, f"members: {chunk}")
    expect_ok(alice.get(f"/rooms/{q(room)}/members", query={"at": before_bob}),
              "the creator's /members?at= the earlier token")
    expect_error(bob.get(f"/rooms/{q(room)}/members", query={"at": "nonsense"}), 400,
                 "M_INVALID_PARAM", "/members?at= a malformed token")
