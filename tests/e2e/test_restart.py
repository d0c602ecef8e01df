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


@e2e_test
def devices_last_seen_survives_a_restart(ctx):
    # Sightings of access tokens (user_ips) are written in batches; what the instance holds
    # is written when it stops. Read back through another token, whose own sighting is new.
    alice = ctx.user()
    other = expect_ok(ctx.api.post("/login", {
        "type": "m.login.password", "password": alice.password,
        "identifier": {"type": "m.id.user", "user": alice.localpart}}))["access_token"]
    ua = {"User-Agent": "before-restart"}
    # Through the instance that restarts (in a workers layout, alice may be a worker's).
    seen = expect_ok(ctx.api.get(f"/devices/{q(alice.device_id)}", token=alice.token, headers=ua))
    ctx.server.restart()
    conns = expect_ok(ctx.api.get(f"/_synapse/admin/v1/whois/{q(alice.user_id)}", token=other))[
        "devices"][""]["sessions"][0]["connections"]
    mine = [c for c in conns if c["user_agent"] == "before-restart"]
    expect_eq(len(mine), 1, f"the sighting before the restart is stored: {conns}")
    expect_eq(mine[0]["last_seen"], seen["last_seen_ts"], "its time")
    listed = {d["device_id"]: d for d in expect_ok(ctx.api.get("/devices", token=other))["devices"]}
    expect_eq(listed[alice.device_id]["last_seen_ts"], seen["last_seen_ts"], "the device's last_seen_ts")
    expect_eq(listed[alice.device_id]["last_seen_ip"], "127.0.0.1", "its last_seen_ip")
