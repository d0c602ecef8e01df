"""Account data (spec "Client Config"), room tags ("Room Tagging"), m.direct ("Direct Messaging")
and m.ignored_user_list ("Ignoring Users"): the endpoints, their errors, and /sync."""

import concurrent.futures
import time

from harness import e2e_test, expect, expect_eq, expect_error, expect_ok, q, timeline_bodies

WAKE_UP_LIMIT_S = 1.0  # a long-polling /sync must return within this of a change


def global_path(user, kind, owner=None):
    return f"/user/{q((owner or user).user_id)}/account_data/{q(kind)}"


def room_path(user, room, kind, owner=None):
    return f"/user/{q((owner or user).user_id)}/rooms/{q(room)}/account_data/{q(kind)}"


def tags_path(user, room, tag=None):
    base = f"/user/{q(user.user_id)}/rooms/{q(room)}/tags"
    return base if tag is None else f"{base}/{q(tag)}"


def global_events(sync):
    """{type: content} of the top-level account_data section."""
    return {e["type"]: e["content"] for e in sync.get("account_data", {}).get("events", [])}


def example_events(sync):
    """The test's own global account data (com.example.*): other types, such as m.push_rules,
    may come with any initial /sync."""
    return {k: v for k, v in global_events(sync).items() if k.startswith("com.example.")}


def room_events(sync, room):
    """{type: content} of rooms.join[room].account_data."""
    entry = sync.get("rooms", {}).get("join", {}).get(room, {})
    return {e["type"]: e["content"] for e in entry.get("account_data", {}).get("events", [])}


def put_global(user, kind, content):
    expect_eq(expect_ok(user.put(global_path(user, kind), content), f"PUT {kind}"), {},
              f"PUT {kind} reply")


def get_global(user, kind):
    return expect_ok(user.get(global_path(user, kind)), f"GET {kind}")


@e2e_test
def global_account_data_round_trip(ctx):
    alice = ctx.user()
    expect_error(alice.get(global_path(alice, "com.example.nothing")), 404, "M_NOT_FOUND",
                 "account data never set")
    content = {"a": 1, "nested": {"list": [1, "two", None], "text": "Grüße 🎉"}}
    put_global(alice, "com.example.settings", content)
    expect_eq(get_global(alice, "com.example.settings"), content, "GET after PUT")
    # Replaced, not merged.
    put_global(alice, "com.example.settings", {"b": 2})
    expect_eq(get_global(alice, "com.example.settings"), {"b": 2}, "GET after a second PUT")
    # An empty object is a value like any other; r0 works too.
    put_global(alice, "com.example.empty", {})
    expect_eq(get_global(alice, "com.example.empty"), {}, "GET an empty object")
    r0 = f"/_matrix/client/r0/user/{q(alice.user_id)}/account_data/com.example.settings"
    expect_eq(expect_ok(alice.get(r0), "GET via r0"), {"b": 2}, "GET via r0")
    # Global and room account data are apart.
    room = alice.create_room()
    expect_error(alice.get(room_path(alice, room, "com.example.settings")), 404, "M_NOT_FOUND",
                 "global type looked up in a room")


@e2e_test
def room_account_data_round_trip(ctx):
    alice = ctx.user()
    room, other = alice.create_room(), alice.create_room()
    expect_error(alice.get(room_path(alice, room, "com.example.r")), 404, "M_NOT_FOUND",
                 "room account data never set")
    expect_eq(expect_ok(alice.put(room_path(alice, room, "com.example.r"), {"x": 1}), "PUT"), {},
              "PUT reply")
    expect_eq(expect_ok(alice.get(room_path(alice, room, "com.example.r"))), {"x": 1}, "GET")
    expect_error(alice.get(room_path(alice, other, "com.example.r")), 404, "M_NOT_FOUND",
                 "the same type in another room")
    expect_error(alice.get(global_path(alice, "com.example.r")), 404, "M_NOT_FOUND",
                 "a room type looked up globally")
    expect_error(alice.put(room_path(alice, "not-a-room", "com.example.r"), {"x": 1}), 400,
                 "M_INVALID_PARAM", "PUT with an invalid room id")

    sync = alice.sync()
    expect_eq(room_events(sync, room).get("com.example.r"), {"x": 1}, "room account data in /sync")
    expect("com.example.r" not in room_events(sync, other), "room account data leaked to another room")
    expect("com.example.r" not in global_events(sync), "room account data in the global section")


@e2e_test
def direct_rooms_round_trip(ctx):
    alice, bob = ctx.user(), ctx.user()
    room = alice.create_room(is_direct=True, invite=[bob.user_id])
    direct = {bob.user_id: [room], "@carol:example.org": ["!a:example.org", "!b:example.org"]}
    put_global(alice, "m.direct", direct)
    expect_eq(get_global(alice, "m.direct"), direct, "m.direct after PUT")
    expect_eq(global_events(alice.sync()).get("m.direct"), direct, "m.direct in /sync")
    del direct["@carol:example.org"]
    put_global(alice, "m.direct", direct)
    expect_eq(get_global(alice, "m.direct"), direct, "m.direct after replacing it")


@e2e_test
def tags_put_get_delete_and_sync(ctx):
    alice = ctx.user()
    room = alice.create_room()
    expect_eq(expect_ok(alice.get(tags_path(alice, room)), "GET tags"), {"tags": {}}, "no tags yet")
    head = alice.sync()["next_batch"]

    expect_eq(expect_ok(alice.put(tags_path(alice, room, "u.work"), {"order": 0.5})), {},
              "PUT tag reply")
    expect_ok(alice.put(tags_path(alice, room, "m.favourite"), {}), "PUT tag without order")
    tags = expect_ok(alice.get(tags_path(alice, room)), "GET tags")["tags"]
    expect_eq(tags.get("u.work"), {"order": 0.5}, "u.work tag")
    expect("m.favourite" in tags and "order" not in tags["m.favourite"], f"m.favourite tag: {tags}")
    expect_eq(sorted(tags), ["m.favourite", "u.work"], "tag names")

    inc = alice.sync(since=head)
    tag_event = room_events(inc, room).get("m.tag")
    expect(tag_event is not None, f"m.tag missing from incremental /sync: {inc.get('rooms')}")
    expect_eq(tag_event["tags"].get("u.work"), {"order": 0.5}, "m.tag u.work in /sync")
    expect("m.favourite" in tag_event["tags"], f"m.tag in /sync: {tag_event}")
    expect_eq(room_events(alice.sync(), room).get("m.tag", {}).get("tags"), tags,
              "m.tag in an initial /sync")

    head = inc["next_batch"]
    expect_eq(expect_ok(alice.delete(tags_path(alice, room, "u.work"))), {}, "DELETE tag reply")
    tags = expect_ok(alice.get(tags_path(alice, room)))["tags"]
    expect_eq(sorted(tags), ["m.favourite"], "tags after DELETE")
    inc = alice.sync(since=head)
    expect_eq(sorted(room_events(inc, room).get("m.tag", {}).get("tags", {"?": 1})), ["m.favourite"],
              "m.tag in /sync after DELETE")

    # Bad order: refused, tags unchanged.
    expect_error(alice.put(tags_path(alice, room, "u.bad"), {"order": "first"}), 400, "M_BAD_JSON",
                 "tag with a string order")
    expect_eq(sorted(expect_ok(alice.get(tags_path(alice, room)))["tags"]), ["m.favourite"],
              "tags after a refused PUT")


@e2e_test
def account_data_in_sync(ctx):
    alice = ctx.user()
    put_global(alice, "com.example.one", {"v": 1})
    first = alice.sync()
    expect_eq(global_events(first).get("com.example.one"), {"v": 1}, "initial /sync account data")
    head = first["next_batch"]

    quiet = alice.sync(since=head)
    expect("com.example.one" not in global_events(quiet), f"unchanged account data sent again: {quiet}")

    put_global(alice, "com.example.two", {"v": 2})
    put_global(alice, "com.example.one", {"v": 3})
    inc = alice.sync(since=head)
    events = global_events(inc)
    expect_eq(events.get("com.example.two"), {"v": 2}, "new type in incremental /sync")
    expect_eq(events.get("com.example.one"), {"v": 3}, "changed type in incremental /sync")
    again = alice.sync(since=inc["next_batch"])
    expect_eq(global_events(again), {}, "incremental /sync after everything was seen")
    expect_eq(example_events(alice.sync()), {"com.example.one": {"v": 3}, "com.example.two": {"v": 2}},
              "initial /sync has the latest of each type")


@e2e_test
def long_poll_wakes_on_own_account_data_only(ctx):
    alice, bob = ctx.user(), ctx.user()
    head = alice.sync()["next_batch"]
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        # Someone else's change: the long poll runs to its timeout.
        t0 = time.monotonic()
        poll = pool.submit(alice.sync, since=head, timeout=2000)
        time.sleep(0.3)
        put_global(bob, "com.example.bob", {"v": 1})
        expect_ok(bob.put(tags_path(bob, bob.create_room(), "u.x"), {}), "bob tags a room")
        resp = poll.result(timeout=30)
        waited = time.monotonic() - t0
        expect(waited >= 1.8, f"alice's /sync woke after {waited:.2f} s for bob's account data")
        expect_eq(global_events(resp), {}, "alice's account data after bob's change")
        head = resp["next_batch"]

        # Her own change wakes her at once.
        poll = pool.submit(alice.sync, since=head, timeout=30000)
        time.sleep(0.3)
        expect(not poll.done(), f"long-poll /sync returned early: {poll.result() if poll.done() else ''}")
        t0 = time.monotonic()
        put_global(alice, "com.example.alice", {"v": 2})
        resp = poll.result(timeout=30)
        woke = time.monotonic() - t0
        expect(woke < WAKE_UP_LIMIT_S, f"long-poll /sync woke {woke:.2f} s after the change")
        expect_eq(global_events(resp).get("com.example.alice"), {"v": 2}, "the change in the woken /sync")
        print(f"    account data wake-up: {woke * 1000:.0f} ms")


@e2e_test
def account_data_errors_change_nothing(ctx):
    alice, bob = ctx.user(), ctx.user()
    room = alice.create_room()
    put_global(alice, "com.example.keep", {"v": 1})
    expect_ok(alice.put(room_path(alice, room, "com.example.keep"), {"v": 1}))
    expect_ok(alice.put(tags_path(alice, room, "u.keep"), {"order": 1}))
    head = alice.sync()["next_batch"]

    def unchanged(what):
        expect_eq(get_global(alice, "com.example.keep"), {"v": 1}, f"global data after {what}")
        expect_eq(expect_ok(alice.get(room_path(alice, room, "com.example.keep"))), {"v": 1},
                  f"room data after {what}")
        expect_eq(expect_ok(alice.get(tags_path(alice, room)))["tags"], {"u.keep": {"order": 1}},
                  f"tags after {what}")

    # Types the server manages: 405 M_BAD_JSON, globally and per room.
    for kind in ("m.fully_read", "m.push_rules"):
        expect_error(alice.put(global_path(alice, kind), {"event_id": "$x"}), 405, "M_BAD_JSON",
                     f"PUT {kind}")
        expect_error(alice.put(room_path(alice, room, kind), {"event_id": "$x"}), 405, "M_BAD_JSON",
                     f"PUT room {kind}")
    # (GET m.push_rules may answer the push rules, as Synapse does; m.fully_read was never set.)
    expect_error(alice.get(global_path(alice, "m.fully_read")), 404, "M_NOT_FOUND",
                 "GET m.fully_read after the refusal")
    expect_error(alice.get(room_path(alice, room, "m.fully_read")), 404, "M_NOT_FOUND",
                 "GET room m.fully_read after the refusal")

    # Another user's account data: 403 both ways, and bob's stays as it was.
    put_global(bob, "com.example.bob", {"mine": True})
    expect_error(alice.get(global_path(alice, "com.example.bob", owner=bob)), 403, "M_FORBIDDEN",
                 "GET another user's account data")
    expect_error(alice.put(global_path(alice, "com.example.bob", owner=bob), {"mine": False}), 403,
                 "M_FORBIDDEN", "PUT another user's account data")
    expect_error(alice.put(room_path(alice, room, "com.example.bob", owner=bob), {}), 403,
                 "M_FORBIDDEN", "PUT another user's room account data")
    expect_error(alice.get(room_path(alice, room, "com.example.bob", owner=bob)), 403,
                 "M_FORBIDDEN", "GET another user's room account data")
    expect_error(alice.put(f"/user/{q(bob.user_id)}/rooms/{q(room)}/tags/u.x", {}), 403,
                 "M_FORBIDDEN", "PUT another user's tag")
    expect_error(alice.get(f"/user/{q(bob.user_id)}/rooms/{q(room)}/tags"), 403, "M_FORBIDDEN",
                 "GET another user's tags")
    expect_eq(get_global(bob, "com.example.bob"), {"mine": True}, "bob's data after alice's attempts")

    # Not JSON, not an object, a mistyped m.ignored_user_list: 400 and nothing stored.
    expect_error(alice.request("PUT", global_path(alice, "com.example.keep"), raw=b"{not json"),
                 400, "M_NOT_JSON", "PUT non-JSON")
    expect_error(alice.request("PUT", room_path(alice, room, "com.example.keep"), raw=b"[1,"),
                 400, "M_NOT_JSON", "PUT non-JSON room data")
    expect_error(alice.put(global_path(alice, "com.example.keep"), [1, 2]), 400, "M_BAD_JSON",
                 "PUT an array")
    expect_error(alice.put(global_path(alice, "com.example.keep"), "text"), 400, "M_BAD_JSON",
                 "PUT a string")
    expect_error(alice.put(global_path(alice, "m.ignored_user_list"), {"ignored_users": ["@x:y"]}),
                 400, "M_BAD_JSON", "m.ignored_user_list with a list")
    expect_error(alice.get(global_path(alice, "m.ignored_user_list")), 404, "M_NOT_FOUND",
                 "m.ignored_user_list after a refused PUT")
    expect_error(alice.request("PUT", tags_path(alice, room, "u.keep"), raw=b"{"), 400, "M_NOT_JSON",
                 "PUT tag non-JSON")
    unchanged("refused requests")

    # Nothing of it shows in /sync either.
    inc = alice.sync(since=head)
    expect_eq(global_events(inc), {}, "global account data in /sync after refused requests")
    expect_eq(room_events(inc, room), {}, "room account data in /sync after refused requests")


# ---- m.ignored_user_list ---------------------------------------------------------------------


def ignore(user, *others):
    put_global(user, "m.ignored_user_list", {"ignored_users": {o.user_id: {} for o in others}})


@e2e_test
def ignored_users_are_hidden_from_sync(ctx):
    alice, bob, carol = ctx.user(), ctx.user(), ctx.user()
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    carol.join(room)
    alice.send(room, "before ignoring")
    head = bob.sync()["next_batch"]

    ignore(bob, alice)
    expect_eq(get_global(bob, "m.ignored_user_list"), {"ignored_users": {alice.user_id: {}}},
              "m.ignored_user_list")
    alice.send(room, "ignored 1")
    carol.send(room, "from carol")
    alice.send(room, "ignored 2")

    inc = bob.sync(since=head)
    timeline = inc["rooms"]["join"].get(room, {}).get("timeline", {}).get("events", [])
    expect_eq(timeline_bodies(timeline), ["from carol"], "bob's incremental timeline")
    expect_eq(global_events(inc).get("m.ignored_user_list"), {"ignored_users": {alice.user_id: {}}},
              "m.ignored_user_list in bob's /sync")
    initial = bob.sync()["rooms"]["join"][room]["timeline"]["events"]
    expect(not any(e["sender"] == alice.user_id and e["type"] == "m.room.message" for e in initial),
           f"ignored user's messages in bob's initial /sync: {timeline_bodies(initial)}")
    expect("from carol" in timeline_bodies(initial), "carol's message in bob's initial /sync")
    # Others still see alice; /messages is not /sync's business.
    carol_tl = carol.sync(since=head)["rooms"]["join"][room]["timeline"]["events"]
    expect_eq(timeline_bodies(carol_tl), ["ignored 1", "from carol", "ignored 2"], "carol's timeline")

    # Invites from an ignored user don't reach bob.
    head = bob.sync()["next_batch"]
    invited = alice.create_room(invite=[bob.user_id])
    other = carol.create_room(invite=[bob.user_id])
    inc = bob.sync(since=head)
    invites = inc["rooms"].get("invite", {})
    expect(invited not in invites, "an ignored user's invite reached bob's incremental /sync")
    expect(other in invites, "carol's invite missing from bob's /sync")
    expect(invited not in bob.sync()["rooms"].get("invite", {}),
           "an ignored user's invite reached bob's initial /sync")

    # Unignoring: new messages are visible again.
    head = inc["next_batch"]
    put_global(bob, "m.ignored_user_list", {"ignored_users": {}})
    alice.send(room, "after unignoring")
    inc = bob.sync(since=head)
    timeline = inc["rooms"]["join"].get(room, {}).get("timeline", {}).get("events", [])
    expect_eq(timeline_bodies(timeline), ["after unignoring"], "bob's timeline after unignoring")
