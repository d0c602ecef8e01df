"""Raw-HTTP tests of the user directory (POST /user_directory/search)."""

from harness import SERVER_NAME, e2e_test, expect, expect_eq, expect_error, expect_ok, unique, wait_until


def search(user, term, limit=None):
    body = {"search_term": term}
    if limit is not None:
        body["limit"] = limit
    return expect_ok(user.post("/user_directory/search", body), "user directory search")


def found_ids(user, term, limit=None):
    return [r["user_id"] for r in search(user, term, limit)["results"]]


@e2e_test
def user_directory_search(ctx):
    tag = unique("dir")
    alice, bob, carol, dave = ctx.user(), ctx.user(), ctx.user(), ctx.user()
    expect_ok(bob.put(f"/profile/{bob.user_id}/displayname", {"displayname": f"Bobby {tag}"}))
    expect_ok(carol.put(f"/profile/{carol.user_id}/displayname", {"displayname": f"Carol {tag}"}))
    expect_ok(dave.put(f"/profile/{dave.user_id}/displayname", {"displayname": f"Dave {tag}"}))

    # Alice and Bob share a private room; Carol is in a public room; Dave in neither.
    private = alice.create_room(preset="private_chat", invite=[bob.user_id])
    bob.join(private)
    public = dave.create_room(preset="private_chat")  # Dave's own room, shared with nobody
    open_room = carol.create_room(preset="public_chat")
    del public, open_room

    # The updater follows the events stream: wait for it to have seen them.
    expect(wait_until(lambda: bob.user_id in found_ids(alice, tag)), "shared-room user found")
    expect(wait_until(lambda: carol.user_id in found_ids(alice, tag)), "public-room user found")
    ids = found_ids(alice, tag)
    expect(dave.user_id not in ids, "a user sharing no room and in no public room is not found")

    # By display name, case-insensitively, and by localpart.
    expect(bob.user_id in found_ids(alice, f"bobby {tag}".upper()), "display name search")
    expect(bob.user_id in found_ids(alice, bob.user_id.split(":")[0][1:]), "localpart search")
    entry = next(r for r in search(alice, tag)["results"] if r["user_id"] == bob.user_id)
    expect_eq(entry.get("display_name"), f"Bobby {tag}", "display_name in the results")

    # limited
    reply = search(alice, tag, limit=1)
    expect_eq(len(reply["results"]), 1, "limit respected")
    expect_eq(reply["limited"], True, "limited when more matched")

    # Leaving the shared room hides Bob from Alice again.
    expect_ok(bob.post(f"/rooms/{private}/leave", {}))
    expect(wait_until(lambda: bob.user_id not in found_ids(alice, tag)), "left user disappears")

    expect_error(alice.post("/user_directory/search", {}), 400, "M_MISSING_PARAM", "no search_term")
    expect_error(alice.post("/user_directory/search", {"search_term": 5}), 400, "M_BAD_JSON",
                 "search_term of the wrong type")
