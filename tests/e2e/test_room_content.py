"""What clients put into membership and alias events (spec: client-server API "Room membership",
"m.room.canonical_alias"; Synapse 1.67's behaviour): the content a client joins with is kept,
and m.room.canonical_alias only names aliases that point to its room.
"""

from harness import (SERVER_NAME, e2e_test, expect, expect_eq, expect_error, expect_ok, q, room_snapshot,
                     unique)


def my_member_event(user, room_id):
    return expect_ok(user.get(f"/rooms/{q(room_id)}/state/m.room.member/{q(user.user_id)}",
                              query={"format": "event"}), "member event")


@e2e_test
def join_keeps_the_clients_content(ctx):
    alice, bob, carol = ctx.user(), ctx.user(), ctx.user()
    expect_ok(bob.put(f"/profile/{q(bob.user_id)}/displayname", {"displayname": "Bob"}), "displayname")
    local = unique("join")
    room = alice.create_room(preset="public_chat", room_alias_name=local)
    alias = f"#{local}:{SERVER_NAME}"
    # By id: reason and a custom key kept, the profile added, the membership ours.
    body = {"reason": "saying hi", "org.example.custom": {"x": 1}, "membership": "leave"}
    expect_ok(bob.post(f"/rooms/{q(room)}/join", body), "join by id with content")
    c = my_member_event(bob, room)["content"]
    expect_eq(c.get("membership"), "join", "membership")
    expect_eq(c.get("reason"), "saying hi", "reason")
    expect_eq(c.get("org.example.custom"), {"x": 1}, "custom key")
    expect_eq(c.get("displayname"), "Bob", "displayname from the profile")
    # By alias, with a per-room displayname.
    expect_ok(carol.post(f"/join/{q(alias)}", {"displayname": "Carol here", "reason": "by alias"}),
              "join by alias with content")
    c = my_member_event(carol, room)["content"]
    expect_eq((c.get("displayname"), c.get("reason")), ("Carol here", "by alias"), "join by alias content")
    # Joining again with the same content is no new event; new content is one.
    first = my_member_event(carol, room)["event_id"]
    expect_ok(carol.post(f"/join/{q(alias)}", {"displayname": "Carol here", "reason": "by alias"}), "again")
    expect_eq(my_member_event(carol, room)["event_id"], first, "same content: same event")
    expect_ok(carol.post(f"/rooms/{q(room)}/join", {"reason": "changed"}), "join with new content")
    expect(my_member_event(carol, room)["event_id"] != first, "new content: a new member event")
    expect_error(carol.post(f"/rooms/{q(room)}/join", {"reason": 5}), 400, "M_BAD_JSON", "non-string reason")


@e2e_test
def canonical_alias_must_point_to_the_room(ctx):
    alice = ctx.user()
    room = alice.create_room(preset="public_chat")
    other = alice.create_room(preset="public_chat")
    mine, theirs = f"#{unique('ca')}:{SERVER_NAME}", f"#{unique('cb')}:{SERVER_NAME}"
    expect_ok(alice.put(f"/directory/room/{q(mine)}", {"room_id": room}), "alias for the room")
    expect_ok(alice.put(f"/directory/room/{q(theirs)}", {"room_id": other}), "alias for another room")
    path = f"/rooms/{q(room)}/state/m.room.canonical_alias"
    before = room_snapshot(alice, room)
    for content, code, what in [
        ({"alias": theirs}, "M_BAD_ALIAS", "an alias of another room"),
        ({"alias": f"#{unique('none')}:{SERVER_NAME}"}, "M_BAD_ALIAS", "an alias that does not exist"),
        ({"alias": "not an alias"}, "M_BAD_ALIAS", "a malformed alias"),
        ({"alias": mine, "alt_aliases": [theirs]}, "M_BAD_ALIAS", "alt_aliases naming another room"),
        ({"alias": mine, "alt_aliases": mine}, "M_INVALID_PARAM", "alt_aliases not a list"),
    ]:
        expect_error(alice.put(path, content), 400, code, what)
    expect_eq(room_snapshot(alice, room), before, "refused canonical aliases change nothing")
    expect_ok(alice.put(path, {"alias": mine, "alt_aliases": [mine]}), "a valid canonical alias")
    # Deleting the alias takes it out of the canonical alias event.
    expect_ok(alice.delete(f"/directory/room/{q(mine)}"), "delete the alias")
    content = expect_ok(alice.get(path), "canonical alias after the delete")
    expect("alias" not in content and mine not in content.get("alt_aliases", []),
           f"the deleted alias left m.room.canonical_alias: {content}")
