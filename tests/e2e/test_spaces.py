"""Spaces: GET /_matrix/client/v1/rooms/{roomId}/hierarchy on one server (the rooms under a
space depth first in the spec's order, each shown only to a user who may see it, suggested_only,
max_depth, pages with next_batch, bad parameters refused) and across two (fedlib's pair): a child
room only the other server is in is asked of it (/_matrix/federation/v1/hierarchy), which answers
for what the asking server may see.
"""

import time

from harness import e2e_test, expect, expect_eq, expect_error, expect_ok, q, register, wait_until
from test_federation import pair
from test_federation_rooms import signed_get


def make_space(user, **extra):
    return user.create_room(creation_content={"type": "m.space"}, room_version="10", **extra)


def add_child(user, space, child, server, **content):
    expect_ok(user.put(f"/rooms/{q(space)}/state/m.space.child/{q(child)}", {"via": [server], **content}),
              "m.space.child")
    time.sleep(0.005)  # children without `order` go by their event's timestamp: distinct ones


def hierarchy(user, space, **query):
    return user.get(f"/_matrix/client/v1/rooms/{q(space)}/hierarchy",
                    query={k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in query.items()})


def room_ids(body):
    return [r["room_id"] for r in body["rooms"]]


@e2e_test
def space_hierarchy_on_one_server(ctx):
    api = ctx.api
    alice, bob = register(api), register(api)
    server = alice.user_id.split(":", 1)[1]
    space = make_space(alice, preset="public_chat", name="Space")
    r1 = alice.create_room(preset="public_chat", name="r1")
    r2 = alice.create_room(preset="private_chat", name="r2 (invite only)")
    r3 = alice.create_room(preset="public_chat", name="r3", topic="suggested")
    sub = make_space(alice, preset="public_chat", name="Subspace")
    r4 = alice.create_room(preset="public_chat", name="r4")
    add_child(alice, space, r1, server)
    add_child(alice, space, r2, server)
    add_child(alice, space, r3, server, order="a", suggested=True)
    add_child(alice, space, sub, server)
    add_child(alice, sub, r4, server)
    # A removed child (no via) is no child.
    gone = alice.create_room(preset="public_chat")
    add_child(alice, space, gone, server)
    expect_ok(alice.put(f"/rooms/{q(space)}/state/m.space.child/{q(gone)}", {}), "child removed")

    body = expect_ok(hierarchy(alice, space), "hierarchy")
    # Depth first; children by `order`, then by the time of their m.space.child event.
    expect_eq(room_ids(body), [space, r3, r1, r2, sub, r4], "alice sees every room, in order")
    expect("next_batch" not in body, f"one page: {body.get('next_batch')}")
    top = body["rooms"][0]
    expect_eq(top["name"], "Space", "the space's summary")
    expect_eq(top["room_type"], "m.space", "room_type")
    expect_eq(top["join_rule"], "public", "join_rule")
    expect_eq(top["num_joined_members"], 1, "num_joined_members")
    expect_eq(sorted(e["state_key"] for e in top["children_state"]), sorted([r1, r2, r3, sub]),
              "children_state: the space's m.space.child events")
    for e in top["children_state"]:
        expect_eq(sorted(e), ["content", "origin_server_ts", "sender", "state_key", "type"], f"stripped: {e}")
    r3_entry = next(r for r in body["rooms"] if r["room_id"] == r3)
    expect_eq((r3_entry["topic"], r3_entry["children_state"]), ("suggested", []), "a room's summary")

    # Bob is in none of them: the invite-only room is not his to see.
    expect_eq(room_ids(expect_ok(hierarchy(bob, space))), [space, r3, r1, sub, r4], "bob's hierarchy")
    expect_eq(room_ids(expect_ok(hierarchy(alice, space, suggested_only=True))), [space, r3], "suggested_only")
    expect_eq(room_ids(expect_ok(hierarchy(alice, space, max_depth=0))), [space], "max_depth 0")
    expect_eq(room_ids(expect_ok(hierarchy(alice, space, max_depth=1))), [space, r3, r1, r2, sub], "max_depth 1")
    # Pages.
    pages, token = [], None
    for _ in range(10):
        params = {"limit": 2, **({"from": token} if token else {})}
        page = expect_ok(hierarchy(alice, space, **params), "a page")
        expect(len(page["rooms"]) <= 2, f"at most the limit: {page}")
        pages += room_ids(page)
        token = page.get("next_batch")
        if not token:
            break
    expect_eq(pages, [space, r3, r1, r2, sub, r4], "the pages add up to the hierarchy")
    first = expect_ok(hierarchy(alice, space, limit=2))
    expect_error(hierarchy(alice, space, limit=2, suggested_only=True, **{"from": first["next_batch"]}), 400,
                 "M_INVALID_PARAM", "a token with other parameters")
    expect_error(hierarchy(alice, space, **{"from": "nonsense"}), 400, "M_INVALID_PARAM", "a bad token")
    expect_error(hierarchy(alice, space, limit=0), 400, "M_INVALID_PARAM", "limit 0")
    expect_error(hierarchy(alice, space, max_depth=-1), 400, "M_INVALID_PARAM", "negative max_depth")
    # A private space is not for strangers.
    hidden = make_space(alice, preset="private_chat")
    expect_error(hierarchy(bob, hidden), 403, "M_FORBIDDEN", "a private space, asked by a stranger")
    expect_ok(hierarchy(alice, hidden), "its member may")


@e2e_test
def space_hierarchy_across_servers(ctx):
    a, b = pair(ctx)
    alice, bob, carol = register(a.api), register(b.api), register(b.api)
    space = make_space(alice, preset="public_chat", name="A's space")
    on_a = alice.create_room(preset="public_chat", name="room on A")
    secret = alice.create_room(preset="private_chat", name="private room on A")
    on_b = carol.create_room(preset="public_chat", room_version="10", name="room on B")
    add_child(alice, space, on_a, a.server_name)
    add_child(alice, space, secret, a.server_name)
    add_child(alice, space, on_b, b.server_name)
    # A answers B for the space: its public child summarised, the private one named inaccessible,
    # the one A is not in left to B.
    r = signed_get(b, a, f"/_matrix/federation/v1/hierarchy/{q(space)}")
    expect_eq(r.status, 200, f"federation hierarchy: {r}")
    expect_eq(r.json["room"]["room_id"], space, "the room")
    expect_eq([c["room_id"] for c in r.json["children"]], [on_a], "children A may tell B of")
    expect_eq(r.json["inaccessible_children"], [secret], "inaccessible_children")
    r = signed_get(b, a, f"/_matrix/federation/v1/hierarchy/{q(secret)}")
    expect_eq(r.status, 404, f"a private room B has nobody in: {r}")
    # Bob joins the space from B; B walks it: the space and A's public child from A, B's own room
    # from its own state.
    expect_eq(bob.join(space), space, "bob joins the space")
    body = expect_ok(hierarchy(bob, space), "hierarchy on B")
    ids = room_ids(body)
    expect_eq(ids[0], space, "the space first")
    expect_eq(sorted(ids[1:]), sorted([on_a, on_b]), f"the rooms bob may see: {ids}")
    names = {r["room_id"]: r.get("name") for r in body["rooms"]}
    expect_eq(names[on_a], "room on A", "A's room summarised by A")
    expect_eq(names[on_b], "room on B", "B's room from B")
    expect(all("allowed_room_ids" not in r for r in body["rooms"]), "no federation-only fields for clients")
