"""Presence (spec: client-server API "Presence"): PUT/GET /presence/{userId}/status, the /sync
`presence` section for users sharing a room, `set_presence` on /sync, errors (nothing changed)
and `presence.enabled: false` on a server of its own."""

from harness import e2e_test, expect, expect_eq, expect_error, expect_ok, q, register, wait_until


def status_path(user):
    return f"/presence/{q(user.user_id)}/status"


def presence_events(sync_body, sender=None):
    events = sync_body.get("presence", {}).get("events", [])
    for e in events:
        expect_eq(e.get("type"), "m.presence", f"presence event type: {e}")
    return [e for e in events if sender is None or e.get("sender") == sender]


@e2e_test
def presence_shared_room(ctx):
    alice, bob, carol = ctx.user(), ctx.user(), ctx.user()
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    # Carol shares no room with alice (her own room only).
    carol.create_room()

    bob_initial = bob.sync()
    carol_initial = carol.sync()

    expect_ok(alice.put(status_path(alice), {"presence": "online", "status_msg": "Grüße 🎉"}),
              "PUT own presence")

    # Alice reads her own presence back at once.
    mine = expect_ok(alice.get(status_path(alice)), "GET own presence")
    expect_eq(mine.get("presence"), "online", "own presence")
    expect_eq(mine.get("status_msg"), "Grüße 🎉", "own status_msg")
    expect_eq(mine.get("currently_active"), True, "own currently_active")
    expect(isinstance(mine.get("last_active_ago"), int) and 0 <= mine["last_active_ago"] < 60000,
           f"last_active_ago: {mine}")

    # Bob, sharing a room, sees it through GET and in an incremental /sync (long-poll wakes).
    theirs = expect_ok(bob.get(status_path(alice)), "bob GETs alice's presence")
    expect_eq(theirs.get("presence"), "online", "alice's presence seen by bob")
    expect_eq(theirs.get("status_msg"), "Grüße 🎉", "alice's status_msg seen by bob")
    inc = bob.sync(since=bob_initial["next_batch"], timeout=5000)
    seen = presence_events(inc, alice.user_id)
    expect(seen, f"bob's incremental sync has alice's presence: {inc.get('presence')}")
    content = seen[-1]["content"]
    expect_eq(content.get("presence"), "online", "presence in bob's sync")
    expect_eq(content.get("status_msg"), "Grüße 🎉", "status_msg in bob's sync")
    expect_eq(content.get("currently_active"), True, "currently_active in bob's sync")
    expect(isinstance(content.get("last_active_ago"), int), f"last_active_ago in sync: {content}")

    # A fresh initial sync of bob shows it too.
    expect(presence_events(bob.sync(), alice.user_id), "bob's initial sync has alice's presence")

    # Carol shares no room: no presence in her syncs, 403 on GET.
    inc_carol = carol.sync(since=carol_initial["next_batch"], timeout=0)
    expect_eq(presence_events(inc_carol, alice.user_id), [], "carol's incremental sync")
    expect_eq(presence_events(carol.sync(), alice.user_id), [], "carol's initial sync")
    expect_error(carol.get(status_path(alice)), 403, "M_FORBIDDEN", "GET presence without a shared room")


@e2e_test
def presence_errors_change_nothing(ctx):
    alice, bob = ctx.user(), ctx.user()
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    # Bob syncs first: a user neither syncing nor active goes offline at once (Synapse's
    # SYNC_ONLINE_TIMEOUT counts from the last sync or activity, and unavailable isn't activity).
    bob.sync()
    expect_ok(bob.put(status_path(bob), {"presence": "unavailable", "status_msg": "away"}), "PUT")
    before = expect_ok(bob.get(status_path(bob)), "GET before")

    expect_error(alice.put(status_path(bob), {"presence": "offline"}), 403, "M_FORBIDDEN",
                 "PUT another user's presence")
    expect_error(bob.put(status_path(bob), {"presence": "away"}), 400, "M_INVALID_PARAM",
                 "PUT an unknown presence value")
    expect_error(bob.put(status_path(bob), {"status_msg": "x"}), 400, "M_MISSING_PARAM",
                 "PUT without presence")
    expect_error(bob.put(status_path(bob), {"presence": 1}), 400, "M_BAD_JSON", "PUT presence 1")
    expect_error(bob.put(status_path(bob), {"presence": "online", "status_msg": 5}), 400, "M_BAD_JSON",
                 "PUT status_msg 5")
    expect_error(bob.put(status_path(bob), raw=b"{nope"), 400, "M_NOT_JSON", "PUT bad JSON")
    expect_error(bob.get("/presence/not-a-user/status"), 400, "M_INVALID_PARAM", "GET bad user id")

    after = expect_ok(bob.get(status_path(bob)), "GET after")
    expect_eq(after.get("presence"), before.get("presence"), "presence unchanged")
    expect_eq(after.get("status_msg"), "away", "status_msg unchanged")


@e2e_test
def presence_set_presence_on_sync(ctx):
    alice, bob = ctx.user(), ctx.user()
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    expect_ok(alice.put(status_path(alice), {"presence": "online", "status_msg": "here"}), "PUT")
    bob_since = bob.sync()["next_batch"]

    # set_presence=unavailable: visible to alice herself in that same sync and to bob; the
    # status message stays.
    own = alice.sync(set_presence="unavailable")
    mine = presence_events(own, alice.user_id)
    expect(mine and mine[-1]["content"]["presence"] == "unavailable",
           f"alice's own sync shows unavailable: {own.get('presence')}")
    got = expect_ok(bob.get(status_path(alice)), "GET after set_presence=unavailable")
    expect_eq(got.get("presence"), "unavailable", "presence after set_presence=unavailable")
    expect_eq(got.get("status_msg"), "here", "status_msg kept by a sync")
    inc = bob.sync(since=bob_since, timeout=5000)
    seen = presence_events(inc, alice.user_id)
    expect(seen and seen[-1]["content"]["presence"] == "unavailable",
           f"bob's sync shows alice unavailable: {inc.get('presence')}")

    # set_presence=offline doesn't touch presence.
    alice.sync(set_presence="offline")
    expect_eq(expect_ok(bob.get(status_path(alice)))["presence"], "unavailable",
              "set_presence=offline leaves presence alone")

    # A sync with the default (online) brings her back online.
    alice.sync()
    expect_eq(expect_ok(bob.get(status_path(alice)))["presence"], "online",
              "a default sync sets online")
    expect_error(alice.get("/sync", query={"set_presence": "away"}), 400, "M_INVALID_PARAM",
                 "set_presence=away")


@e2e_test
def presence_disabled(ctx):
    server = ctx.make_server("nopresence", {"presence": {"enabled": False}})
    server.start()
    try:
        alice, bob = register(server.api), register(server.api)
        room = alice.create_room(preset="public_chat")
        bob.join(room)
        expect_ok(alice.put(status_path(alice), {"presence": "online", "status_msg": "hi"}),
                  "PUT with presence disabled")
        expect_error(alice.put(status_path(alice), {"presence": "away"}), 400, "M_INVALID_PARAM",
                     "bad value with presence disabled")
        expect_eq(expect_ok(bob.get(status_path(alice))), {"presence": "offline"},
                  "GET with presence disabled")
        body = bob.sync()
        expect_eq(presence_events(body), [], "no presence in sync when disabled")
        expect_eq(presence_events(alice.sync()), [], "no own presence in sync when disabled")
    finally:
        problem = server.stop()
    expect(problem is None, f"presence-disabled server: {problem}")
