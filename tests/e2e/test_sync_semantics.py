"""/sync behaviour that clients rely on beyond the basics (spec: client-server API "Syncing",
"Lazy-loading room members"; checked against Synapse 1.67 where the spec is loose):
lazy-loaded members in incremental and gappy syncs, include_redundant_members, the state of a
gap, profile changes, and a room joined and left between two syncs.
"""

from harness import e2e_test, expect, expect_eq, expect_ok, q, timeline_bodies

LAZY = {"room": {"state": {"lazy_load_members": True}, "timeline": {"limit": 5}}}
LAZY_REDUNDANT = {"room": {"state": {"lazy_load_members": True, "include_redundant_members": True},
                           "timeline": {"limit": 5}}}


def members_in(entry, section="state"):
    """state_key -> membership of the m.room.member events in a room's state (or timeline)."""
    return {e["state_key"]: e["content"]["membership"]
            for e in entry[section]["events"] if e["type"] == "m.room.member"}


def joined_entry(body, room_id, what):
    entry = body["rooms"]["join"].get(room_id)
    expect(entry is not None, f"{what}: room in rooms.join: {body['rooms']}")
    return entry


@e2e_test
def lazy_members_for_new_speakers_in_incremental_sync(ctx):
    alice, bob, carol = ctx.user(), ctx.user(), ctx.user()
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    carol.join(room)
    for i in range(6):  # carol's join falls out of the initial timeline (limit 5)
        alice.send(room, f"hello {i}")
    first = bob.sync(filter=LAZY)
    entry = joined_entry(first, room, "initial lazy sync")
    # Initial: the timeline's senders and the user themselves, nobody else.
    expect(alice.user_id in members_in(entry) or alice.user_id in members_in(entry, "timeline"),
           f"alice's member event in the initial lazy sync: {entry['state']}")
    expect(carol.user_id not in members_in(entry) or
           any(e["sender"] == carol.user_id for e in entry["timeline"]["events"]),
           f"no member event for a silent user: {members_in(entry)}")
    # carol speaks: the incremental sync carries her member event (she joined before the
    # client's token, so it has never been sent).
    carol.send(room, "carol here")
    body = bob.sync(since=first["next_batch"], filter=LAZY)
    entry = joined_entry(body, room, "incremental lazy sync")
    expect_eq(timeline_bodies(entry["timeline"]["events"]), ["carol here"], "incremental timeline")
    expect_eq(members_in(entry).get(carol.user_id), "join", "carol's member event in state")
    expect(alice.user_id not in members_in(entry), f"no member event for alice: {members_in(entry)}")
    # Again, without include_redundant_members: it may be left out now; with it, it comes again.
    carol.send(room, "carol again")
    body2 = bob.sync(since=body["next_batch"], filter=LAZY_REDUNDANT)
    entry = joined_entry(body2, room, "include_redundant_members")
    expect_eq(members_in(entry).get(carol.user_id), "join",
              "include_redundant_members sends carol's member event again")


@e2e_test
def lazy_members_in_a_gappy_sync(ctx):
    alice, bob, dave = ctx.user(), ctx.user(), ctx.user()
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    alice.send(room, "start")
    since = bob.sync(filter=LAZY)["next_batch"]
    # In the gap: dave joins and speaks, then alice fills the timeline; then dave speaks again.
    dave.join(room)
    dave.send(room, "dave in the gap")
    for i in range(8):
        alice.send(room, f"filler {i}")
    dave.send(room, "dave after the gap")
    body = bob.sync(since=since, filter=LAZY)
    entry = joined_entry(body, room, "gappy lazy sync")
    expect_eq(entry["timeline"]["limited"], True, "timeline limited")
    bodies = timeline_bodies(entry["timeline"]["events"])
    expect("dave after the gap" in bodies and "dave in the gap" not in bodies, f"timeline {bodies}")
    members = members_in(entry)
    expect_eq(members.get(dave.user_id), "join", "dave's member event (joined in the gap)")
    # alice's was sent with the first sync; include_redundant_members asks for it again, and the
    # same request retried (its response lost) gets every one again too.
    again = joined_entry(bob.sync(since=since, filter=LAZY_REDUNDANT), room, "redundant")
    expect_eq(members_in(again).get(alice.user_id), "join", "alice's member event, redundant")
    expect_eq(members_in(again).get(dave.user_id), "join", "dave's member event, redundant")
    retried = joined_entry(bob.sync(since=since, filter=LAZY), room, "retried")
    expect_eq(members_in(retried).get(dave.user_id), "join", "dave's member event, retried")


@e2e_test
def gappy_sync_carries_the_state_of_the_gap(ctx):
    alice, bob = ctx.user(), ctx.user()
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    since = bob.sync()["next_batch"]
    expect_eq(alice.put(f"/rooms/{q(room)}/state/m.room.topic", {"topic": "gap topic"}).status, 200, "topic")
    expect_eq(alice.put(f"/rooms/{q(room)}/state/m.room.name", {"name": "gap name"}).status, 200, "name")
    for i in range(15):
        alice.send(room, f"m{i}")
    body = bob.sync(since=since, filter={"room": {"timeline": {"limit": 5}}})
    entry = joined_entry(body, room, "gappy sync")
    expect_eq(entry["timeline"]["limited"], True, "limited")
    state = {(e["type"], e["state_key"]): e["content"] for e in entry["state"]["events"]}
    expect_eq(state.get(("m.room.topic", ""), {}).get("topic"), "gap topic", "topic from the gap")
    expect_eq(state.get(("m.room.name", ""), {}).get("name"), "gap name", "name from the gap")
    expect(("m.room.create", "") not in state, f"only what changed in the gap: {sorted(state)}")


@e2e_test
def display_name_change_is_one_member_event(ctx):
    alice, bob = ctx.user(), ctx.user()
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    since = bob.sync()["next_batch"]
    expect_eq(alice.put(f"/profile/{q(alice.user_id)}/displayname", {"displayname": "Alice B"}).status,
              200, "set displayname")
    body = bob.sync(since=since)
    entry = joined_entry(body, room, "sync after a displayname change")
    timeline = entry["timeline"]["events"]
    expect_eq([(e["type"], e["state_key"]) for e in timeline], [("m.room.member", alice.user_id)],
              "exactly the member event")
    expect_eq(timeline[0]["content"].get("displayname"), "Alice B", "new displayname")
    expect_eq(entry["timeline"]["limited"], False, "not limited")
    expect_eq(entry["state"]["events"], [], "no state beyond the timeline")


@e2e_test
def join_and_leave_between_two_syncs(ctx):
    alice, bob = ctx.user(), ctx.user()
    room = alice.create_room(preset="public_chat", name="Brief")
    since = bob.sync()["next_batch"]
    bob.join(room)
    alice.send(room, "while bob was here")
    expect_eq(bob.post(f"/rooms/{q(room)}/leave", {}).status, 200, "leave")
    body = bob.sync(since=since)
    expect(room not in body["rooms"]["join"], f"not in join: {body['rooms']['join']}")
    left = body["rooms"]["leave"].get(room)
    expect(left is not None, f"the room in rooms.leave: {body['rooms']}")
    everything = left["state"]["events"] + left["timeline"]["events"]
    types = {e["type"] for e in everything}
    expect({"m.room.create", "m.room.name", "m.room.join_rules"} <= types,
           f"the room's state comes with it: {sorted(types)}")
    mine = [e["content"]["membership"] for e in left["timeline"]["events"]
            if e["type"] == "m.room.member" and e["state_key"] == bob.user_id]
    expect(mine and mine[-1] == "leave", f"the timeline ends with bob's leave: {mine}")


@e2e_test
def newly_joined_room_brings_its_members_presence(ctx):
    alice, bob = ctx.user(), ctx.user()
    expect_ok(alice.put(f"/presence/{q(alice.user_id)}/status", {"presence": "online", "status_msg": "here"}),
              "alice online")
    room = alice.create_room(preset="public_chat")
    since = bob.sync()["next_batch"]
    # Alice's presence was set before bob's token and did not change since; bob shares no room
    # with her until he joins, so the incremental sync that brings the room brings her presence.
    bob.join(room)
    body = bob.sync(since=since)
    entry = joined_entry(body, room, "the newly joined room")
    expect_eq(entry["timeline"]["limited"], True, "a newly joined room's timeline is limited")
    presence = {e["sender"]: e["content"] for e in body.get("presence", {}).get("events", [])}
    expect_eq(presence.get(alice.user_id, {}).get("presence"), "online",
              f"alice's presence with the new room: {body.get('presence')}")
