"""Raw-HTTP tests of the user directory (POST /user_directory/search)."""

from harness import (SERVER_NAME, e2e_test, expect, expect_eq, expect_error, expect_ok, expect_status, q,
                     register, unique, wait_until)


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


def named(user, name):
    expect_ok(user.put(f"/profile/{user.user_id}/displayname", {"displayname": name}), "displayname")
    return user


def set_state(user, room, event_type, content):
    expect_ok(user.put(f"/rooms/{q(room)}/state/{event_type}", content), f"PUT {event_type}")


def appears(searcher, user, term):
    return wait_until(lambda: user.user_id in found_ids(searcher, term))


def disappears(searcher, user, term):
    return wait_until(lambda: user.user_id not in found_ids(searcher, term))


def stays_away(searcher, user, term, marker):
    """`user` is not found while `marker` (changed after it) already is: the updater has seen
    everything up to the marker's change, so the absence is not mere lag."""
    expect(appears(searcher, marker, term), "the marker change reached the directory")
    return user.user_id not in found_ids(searcher, term)


@e2e_test
def user_directory_shared_private_room(ctx):
    tag = unique("dirpriv")
    alice, bob, eve = ctx.user(), named(ctx.user(), f"Bob {tag}"), named(ctx.user(), f"Eve {tag}")
    room = alice.create_room(preset="private_chat", invite=[bob.user_id])
    bob.join(room)
    expect(appears(alice, bob, tag), "a user sharing a private room is found")
    expect(appears(bob, alice, alice.user_id[1:].split(":")[0]), "and finds the other way round")
    expect(bob.user_id not in found_ids(eve, tag), "not by someone sharing no room with them")
    expect(alice.user_id not in found_ids(alice, alice.user_id[1:].split(":")[0]),
           "the searcher is not found through a private room")


@e2e_test
def user_directory_public_by_join_rule(ctx):
    tag = unique("dirjoin")
    alice, carol = ctx.user(), named(ctx.user(), f"Carol {tag}")
    # A public join rule with history only for members: public for the directory.
    room = carol.create_room(preset="public_chat")
    set_state(carol, room, "m.room.history_visibility", {"history_visibility": "joined"})
    expect(appears(alice, carol, tag), "a member of a room with join rule public is found")


@e2e_test
def user_directory_public_by_world_readable(ctx):
    tag = unique("dirwr")
    alice, dana, marker = ctx.user(), named(ctx.user(), f"Dana {tag}"), ctx.user()
    room = dana.create_room(preset="private_chat")
    named(marker, f"Marker {tag}").create_room(preset="public_chat")
    expect(stays_away(alice, dana, tag, marker), "an invite-only room's member is not found")
    set_state(dana, room, "m.room.history_visibility", {"history_visibility": "world_readable"})
    expect(appears(alice, dana, tag), "a member of a world_readable invite-only room is found")


@e2e_test
def user_directory_room_turning_private(ctx):
    tag = unique("dirturn")
    alice, frank, gina = ctx.user(), named(ctx.user(), f"Frank {tag}"), named(ctx.user(), f"Gina {tag}")
    room = frank.create_room(preset="public_chat")
    gina.join(room)
    shared = alice.create_room(preset="private_chat", invite=[gina.user_id])
    gina.join(shared)
    expect(appears(alice, frank, tag), "public room member found")
    expect(appears(alice, gina, tag), "gina found")
    # Invite only, history shared: no longer public. Frank shares nothing with Alice and
    # goes; Gina stays through the private room she shares with Alice.
    set_state(frank, room, "m.room.join_rules", {"join_rule": "invite"})
    expect(disappears(alice, frank, tag), "a room turned private hides its members")
    expect(gina.user_id in found_ids(alice, tag), "a member sharing another room stays")
    # world_readable makes it public again, and private once more when undone.
    set_state(frank, room, "m.room.history_visibility", {"history_visibility": "world_readable"})
    expect(appears(alice, frank, tag), "world_readable shows the members again")
    set_state(frank, room, "m.room.history_visibility", {"history_visibility": "shared"})
    expect(disappears(alice, frank, tag), "and hides them when undone")
    set_state(frank, room, "m.room.join_rules", {"join_rule": "public"})
    expect(appears(alice, frank, tag), "a public join rule shows them again")


@e2e_test
def user_directory_leaving_and_deactivation(ctx):
    tag = unique("dirleave")
    alice, hank, ivy = ctx.user(), named(ctx.user(), f"Hank {tag}"), named(ctx.user(), f"Ivy {tag}")
    one = alice.create_room(preset="private_chat", invite=[hank.user_id, ivy.user_id])
    two = alice.create_room(preset="private_chat", invite=[hank.user_id])
    hank.join(one)
    hank.join(two)
    ivy.join(one)
    expect(appears(alice, hank, tag), "hank found")
    expect(appears(alice, ivy, tag), "ivy found")
    # Leaving one of two shared rooms keeps Hank; a later join to the same room (so the
    # same writer, in order) shows the leave has been applied.
    expect_ok(hank.post(f"/rooms/{q(one)}/leave", {}))
    marker = named(ctx.user(), f"Marker {tag}")
    alice.invite(one, marker)
    marker.join(one)
    expect(appears(alice, marker, tag), "marker found")
    expect(hank.user_id in found_ids(alice, tag), "still found through the second room")
    expect_ok(hank.post(f"/rooms/{q(two)}/leave", {}))
    expect(disappears(alice, hank, tag), "leaving the last shared room hides the user")
    alice.invite(two, hank)
    hank.join(two)
    expect(appears(alice, hank, tag), "joining again shows the user again")
    # A deactivated user is never found.
    auth = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": ivy.localpart},
            "password": ivy.password}
    auth["session"] = expect_status(ivy.post("/account/deactivate", {}), 401, "UIA")["session"]
    expect_ok(ivy.post("/account/deactivate", {"auth": auth}), "deactivate")
    expect(disappears(alice, ivy, tag), "a deactivated user disappears")


@e2e_test
def user_directory_word_prefixes_and_ranking(ctx):
    tag = unique("dirword")
    alice = ctx.user()
    exact, prefixed = named(ctx.user(), f"{tag} Jo"), named(ctx.user(), f"{tag} Jonathan")
    room = alice.create_room(preset="private_chat", invite=[exact.user_id, prefixed.user_id])
    exact.join(room)
    prefixed.join(room)
    expect(appears(alice, prefixed, f"{tag} jo"), "word prefixes match")
    ids = found_ids(alice, f"{tag} jo")
    expect_eq(ids[:2], [exact.user_id, prefixed.user_id], "an exact word ranks first")
    expect(prefixed.user_id not in found_ids(alice, f"{tag} nathan"), "inside a word is no match")
    expect_eq(found_ids(alice, f"{tag} jonathan"), [prefixed.user_id], "every word must match")


@e2e_test
def user_directory_search_all_users(ctx):
    server = ctx.make_server("dirall", {"user_directory": {"search_all_users": True,
                                                            "prefer_local_users": True}})
    server.start()
    try:
        tag = unique("dirall")
        alice = register(server.api)
        loner = register(server.api)
        expect_ok(loner.put(f"/profile/{loner.user_id}/displayname", {"displayname": f"Loner {tag}"}))
        expect(wait_until(lambda: loner.user_id in found_ids(alice, tag)),
               "a user sharing no room is found with search_all_users")
        expect(loner.user_id not in found_ids(loner, tag), "but never the searcher")
    finally:
        problem = server.stop()
    expect(problem is None, f"search_all_users server: {problem}")


@e2e_test
def user_directory_disabled(ctx):
    server = ctx.make_server("dirdisabled", {"user_directory": {"enabled": False}})
    server.start()
    try:
        alice, bob = register(server.api), register(server.api)
        room = alice.create_room(preset="public_chat")
        bob.join(room)
        term = bob.user_id[1:].split(":")[0]
        expect_eq(search(alice, term), {"results": [], "limited": False}, "disabled: no results")
        expect_eq(expect_ok(alice.post("/user_directory/search", {})), {"results": [], "limited": False},
                  "disabled: answered before the body is read, as Synapse")
    finally:
        problem = server.stop()
    expect(problem is None, f"disabled directory server: {problem}")
