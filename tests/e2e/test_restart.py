"""Nothing is lost, duplicated or reordered when the server restarts. Runs last: it restarts
the shared server."""

from harness import e2e_test, expect, expect_eq, expect_ok, q, timeline_bodies


@e2e_test
def restart_keeps_everything(ctx):
    alice, bob = ctx.user(), ctx.user()
    room = alice.create_room(name="durable", preset="public_chat")
    bob.join(room)
    for i in range(30):
        (alice if i % 2 else bob).send(room, f"d{i:02d}")
    expect_ok(alice.put(f"/rooms/{q(room)}/state/com.example.durable/k", {"v": 42}))
    since = bob.sync()["next_batch"]
    messages = summary(bob.messages(room, limit=100)["chunk"])
    state = sorted((e["type"], e["state_key"], e["event_id"]) for e in bob.state(room))

    ctx.server.restart()

    expect_eq(expect_ok(alice.get("/account/whoami"), "token after restart")["user_id"], alice.user_id,
              "whoami after restart")
    expect_eq(summary(bob.messages(room, limit=100)["chunk"]), messages, "/messages after restart")
    expect_eq(sorted((e["type"], e["state_key"], e["event_id"]) for e in bob.state(room)), state,
              "state after restart")
    alice.send(room, "after restart")
    inc = bob.sync(since=since)
    expect_eq(timeline_bodies(inc["rooms"]["join"][room]["timeline"]["events"]), ["after restart"],
              "a sync token from before the restart sees only what is new")
    expect(expect_ok(bob.get(f"/rooms/{q(room)}/state/com.example.durable/k")) == {"v": 42},
           "state event after restart")
    expect(ctx.user().user_id != alice.user_id, "registration after restart")


def summary(events):
    """What must survive a restart; `unsigned.age` legitimately changes."""
    return [(e["event_id"], e["type"], e["sender"], e["origin_server_ts"], e["content"]) for e in events]
