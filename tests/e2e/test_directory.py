"""Raw-HTTP tests of the public room directory (/publicRooms, /directory/list/room)."""

from harness import (e2e_test, expect, expect_eq, expect_error, expect_ok, q, unique)


def public_ids(api, **query):
    reply = expect_ok(api.get("/publicRooms", query=query or None), "GET /publicRooms")
    return [c["room_id"] for c in reply["chunk"]], reply


@e2e_test
def public_room_directory(ctx):
    alice, bob = ctx.user(), ctx.user()
    topic = unique("topic")
    public = alice.create_room(visibility="public", name="Directory room", topic=topic)
    private = alice.create_room(name="Hidden room")

    ids, reply = public_ids(ctx.api, limit=500)
    expect(public in ids, "a room created with visibility public is listed")
    expect(private not in ids, "a private room is not listed")
    entry = next(c for c in reply["chunk"] if c["room_id"] == public)
    expect_eq(entry.get("name"), "Directory room", "name in the directory")
    expect_eq(entry.get("topic"), topic, "topic in the directory")
    expect_eq(entry.get("num_joined_members"), 1, "joined members")
    expect_eq(entry.get("join_rule"), "public", "join rule")
    expect("total_room_count_estimate" in reply, "total_room_count_estimate present")

    # Search by a term from the topic, case-insensitively.
    found = expect_ok(bob.post("/publicRooms", {"filter": {"generic_search_term": topic.upper()}}))
    expect_eq([c["room_id"] for c in found["chunk"]], [public], "generic_search_term")

    # Visibility: read by anyone, changed only by a room moderator.
    expect_eq(expect_ok(ctx.api.get(f"/directory/list/room/{q(private)}"))["visibility"], "private",
              "visibility of a private room")
    expect_error(bob.put(f"/directory/list/room/{q(private)}", {"visibility": "public"}), 403,
                 "M_FORBIDDEN", "a non-member may not publish a room")
    expect(private not in public_ids(ctx.api, limit=500)[0], "refused change leaves the list as it was")
    expect_ok(alice.put(f"/directory/list/room/{q(private)}", {"visibility": "public"}))
    expect(private in public_ids(ctx.api, limit=500)[0], "published room is listed")
    expect_ok(alice.put(f"/directory/list/room/{q(private)}", {"visibility": "private"}))
    expect(private not in public_ids(ctx.api, limit=500)[0], "unpublished room is gone")

    # Errors.
    expect_error(alice.put(f"/directory/list/room/{q(private)}", {"visibility": "secret"}), 400,
                 "M_INVALID_PARAM", "bad visibility")
    expect_error(ctx.api.get("/directory/list/room/" + q("!nope:localhost")), 404, "M_NOT_FOUND",
                 "unknown room")
    expect_error(ctx.api.get("/publicRooms", query={"since": "garbage"}), 400, "M_INVALID_PARAM",
                 "bad since token")


@e2e_test
def public_room_pagination(ctx):
    alice = ctx.user()
    made = {alice.create_room(visibility="public", name=unique("page")) for _ in range(5)}
    seen, since = [], None
    while True:
        query = {"limit": 2}
        if since:
            query["since"] = since
        reply = expect_ok(ctx.api.get("/publicRooms", query=query))
        expect(len(reply["chunk"]) <= 2, "limit respected")
        seen += [c["room_id"] for c in reply["chunk"]]
        since = reply.get("next_batch")
        if not since:
            break
    expect(made <= set(seen), "every public room appears while paginating")
    expect_eq(len(seen), len(set(seen)), "no room appears twice")
