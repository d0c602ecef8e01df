"""History across servers (fedlib's pair): a user of B who joins a room of A pages back with
/messages past B's join; B fetches the earlier history from A (/backfill, /state_ids) and shows
what its user may see of it, in A's order, down to the room's m.room.create: the members-only
stretch stays hidden (on /messages, /event and /context), a message redacted before B joined
comes redacted, /sync never shows backfilled events, and a second user of B pages the same
history without B fetching it again.
"""

import time

from harness import e2e_test, expect, expect_eq, expect_ok, q, register, timeline_bodies, wait_until
from test_federation import pair
from test_federation_rooms import build_pdu, joined_pair_room, send_pdus, wait_for_bodies


def page_back(user, room_id, limit=7):
    """Every event `user` gets paging back from now until /messages gives no `end`, oldest first."""
    events, token = [], None
    for _ in range(100):
        params = {"from": token} if token else {}
        body = user.messages(room_id, limit=limit, **params)
        events += body["chunk"]
        token = body.get("end")
        if not token:
            return list(reversed(events))
    raise AssertionError(f"{user} never reached the start of {room_id}: {len(events)} events")


def set_state(user, room_id, event_type, content):
    return expect_ok(user.put(f"/rooms/{q(room_id)}/state/{q(event_type)}/", content), event_type)["event_id"]


@e2e_test
def history_before_the_join_is_backfilled_for_clients(ctx):
    a, b = pair(ctx)
    alice, bob, carol = register(a.api), register(b.api), register(b.api)
    room = alice.create_room(preset="public_chat", room_version="10", name="Old name")
    early = [f"h{i}" for i in range(25)]
    for body in early:
        alice.send(room, body)
    set_state(alice, room, "m.room.name", {"name": "New name"})
    later = [f"h{i}" for i in range(25, 30)]
    for body in later:
        alice.send(room, body)
    oops = alice.send(room, "oops")
    expect_ok(alice.put(f"/rooms/{q(room)}/redact/{q(oops)}/r1", {"reason": "typo"}), "redact")
    # A stretch only the members of the time may read.
    set_state(alice, room, "m.room.history_visibility", {"history_visibility": "joined"})
    hidden = [alice.send(room, "members only 1"), alice.send(room, "members only 2")]
    set_state(alice, room, "m.room.history_visibility", {"history_visibility": "shared"})
    alice.send(room, "after")
    on_a = [e for e in page_back(alice, room, limit=50)]

    expect_eq(bob.join(room), room, "bob joins through A")
    bob.send(room, "bob here")
    wait_for_bodies(alice, room, ["bob here"])
    got = page_back(bob, room)
    ids = [e["event_id"] for e in got]
    expect_eq(got[0]["type"], "m.room.create", f"B's history starts with the room's creation: {got[:3]}")
    expect_eq(len(ids), len(set(ids)), "each event once")
    # Every message A shows, bar the hidden ones, in A's order; then B's own.
    want = [e["event_id"] for e in on_a if e["type"] == "m.room.message" and e["event_id"] not in hidden]
    messages = [e["event_id"] for e in got if e["type"] == "m.room.message"]
    expect_eq(messages[:len(want)], want, "A's messages in A's order on B")
    bodies = timeline_bodies(got)
    expect_eq(bodies[:len(early)], early, "the earliest messages first")
    for h in hidden:
        expect(h not in ids, f"the members-only event {h} is not shown to bob")
        r = bob.get(f"/rooms/{q(room)}/event/{q(h)}")
        expect_eq(r.status, 404, f"nor by id: {r}")
        r = bob.get(f"/rooms/{q(room)}/context/{q(h)}")
        expect_eq(r.status, 404, f"nor by /context: {r}")
    redacted = next(e for e in got if e["event_id"] == oops)
    expect_eq(redacted["content"], {}, f"the message redacted on A comes redacted: {redacted}")
    names = [e["content"].get("name") for e in got if e["type"] == "m.room.name"]
    expect_eq(names, ["Old name", "New name"], "the room's state changes are in the history")
    # /context around a backfilled event reads its neighbours from the backfilled history.
    h10 = next(e["event_id"] for e in got if e["content"].get("body") == "h10")
    ctx_body = expect_ok(bob.get(f"/rooms/{q(room)}/context/{q(h10)}", query={"limit": "4"}), "/context")
    expect_eq(timeline_bodies(ctx_body["events_before"]), ["h9", "h8"], "before h10")
    expect_eq(timeline_bodies(ctx_body["events_after"]), ["h11", "h12"], "after h10")
    # Lazy-loaded members for a page of backfilled history: its senders' member events there.
    lazy = expect_ok(bob.get(f"/rooms/{q(room)}/messages", query={
        "dir": "b", "from": ctx_body["start"], "limit": "3",
        "filter": '{"lazy_load_members": true}'}), "lazy /messages")
    expect_eq(timeline_bodies(lazy["chunk"]), ["h7", "h6", "h5"], "the page before the context")
    expect_eq([(e["type"], e["state_key"]) for e in lazy["state"]], [("m.room.member", alice.user_id)],
              f"alice's member event with it: {lazy['state']}")
    # Paging forwards from a token in the backfilled history goes on into B's own timeline.
    body = expect_ok(bob.get(f"/rooms/{q(room)}/messages", query={"dir": "f", "from": ctx_body["end"],
                                                                  "limit": "100"}), "forwards")
    expect_eq(timeline_bodies(body["chunk"])[-1], "bob here", f"forwards reaches the newest: {body}")
    # /sync shows B's timeline only.
    sync_bodies = timeline_bodies(bob.sync(filter={"room": {"timeline": {"limit": 50}}})
                                  ["rooms"]["join"][room]["timeline"]["events"])
    expect("h0" not in sync_bodies and "bob here" in sync_bodies, f"backfilled events stay out of /sync: {sync_bodies}")
    # Another user of B pages the same history, now B's own.
    expect_eq(carol.join(room), room, "carol joins")
    wait_until(lambda: carol.user_id in [e["state_key"] for e in alice.state(room) if e["type"] == "m.room.member"],
               timeout=10)
    again = [e["event_id"] for e in page_back(carol, room, limit=20) if e["type"] == "m.room.message"]
    expect_eq(again[:len(want)], want, "carol's history is bob's")


@e2e_test
def visibility_follows_the_resolved_state_not_the_stream(ctx):
    """A fork: B's user (power 100) sets world_readable on a branch beside alice's "joined",
    with an earlier timestamp, so state resolution keeps "joined". A stores B's event after
    alice's, so the newest history_visibility in A's stream is the losing one; the message after
    both must still be hidden from a user who joined later, as the resolved state says."""
    a, b, alice, bob, room = joined_pair_room(ctx)
    carol = register(a.api)
    pl = {e["type"]: e for e in alice.state(room)}["m.room.power_levels"]["content"]
    pl["users"][bob.user_id] = 100
    set_state(alice, room, "m.room.power_levels", pl)
    before = alice.send(room, "before the fork")
    wait_for_bodies(bob, room, ["before the fork"])
    joined = set_state(alice, room, "m.room.history_visibility", {"history_visibility": "joined"})
    state = {(e["type"], e["state_key"]): e for e in alice.state(room)}
    depth = 10000  # deep enough; depth only orders
    auth = [state[("m.room.create", "")]["event_id"], state[("m.room.power_levels", "")]["event_id"],
            state[("m.room.member", bob.user_id)]["event_id"]]
    pdu, fork = build_pdu(b, room, bob.user_id, [before], auth, {"history_visibility": "world_readable"}, depth,
                          event_type="m.room.history_visibility", state_key="",
                          ts=int(time.time() * 1000) - 60000)
    results = send_pdus(b, a, [pdu])
    expect_eq(results.get(fork), {}, f"B's branch is taken: {results}")
    now = {(e["type"], e["state_key"]): e for e in alice.state(room)}
    expect_eq(now[("m.room.history_visibility", "")]["event_id"], joined, "the resolution keeps alice's 'joined'")
    after = alice.send(room, "after the fork")
    expect_eq(carol.join(room), room, "carol joins later")
    seen = [e["event_id"] for e in page_back(carol, room)]
    expect(before in seen, f"carol sees what was shared: {seen}")
    expect(after not in seen, f"but not the message under 'joined': {seen}")
    r = carol.get(f"/rooms/{q(room)}/event/{q(after)}")
    expect_eq(r.status, 404, f"nor by id: {r}")


@e2e_test
def past_state_follows_the_resolved_state(ctx):
    """A fork's m.room.name that loses state resolution (earlier timestamp, same power mainline)
    is in A's timeline after alice's name, yet the room's state at every later position is the
    resolved one: an initial /sync with a short timeline, an incremental /sync over the fork,
    /context and /members?at all give alice's name, never the fork's."""
    a, b, alice, bob, room = joined_pair_room(ctx)
    pl = {e["type"]: e for e in alice.state(room)}["m.room.power_levels"]["content"]
    pl["users"][bob.user_id] = 100
    set_state(alice, room, "m.room.power_levels", pl)
    before = alice.send(room, "before the fork")
    wait_for_bodies(bob, room, ["before the fork"])
    named = set_state(alice, room, "m.room.name", {"name": "Alice's name"})
    since = alice.sync()["next_batch"]
    state = {(e["type"], e["state_key"]): e for e in alice.state(room)}
    auth = [state[("m.room.create", "")]["event_id"], state[("m.room.power_levels", "")]["event_id"],
            state[("m.room.member", bob.user_id)]["event_id"]]
    pdu, fork = build_pdu(b, room, bob.user_id, [before], auth, {"name": "Fork"}, 10000,
                          event_type="m.room.name", state_key="", ts=int(time.time() * 1000) - 60000)
    results = send_pdus(b, a, [pdu])
    expect_eq(results.get(fork), {}, f"B's branch is taken: {results}")
    now = {(e["type"], e["state_key"]): e for e in alice.state(room)}
    expect_eq(now[("m.room.name", "")]["event_id"], named, "the resolution keeps alice's name")
    after = alice.send(room, "after the fork")
    short = {"room": {"timeline": {"limit": 1}}}

    def name_in(room_body):
        names = [e["event_id"] for e in room_body["state"]["events"] if e["type"] == "m.room.name"]
        expect(fork not in [e["event_id"] for e in room_body["state"]["events"]],
               f"the losing event is not state: {room_body['state']}")
        return names

    first = alice.sync(filter=short)["rooms"]["join"][room]
    expect_eq([e["event_id"] for e in first["timeline"]["events"]], [after], "a timeline of one")
    expect_eq(name_in(first), [named], "initial sync: the resolved name")
    incremental = alice.sync(since=since, filter=short)["rooms"]["join"][room]
    expect(incremental["timeline"]["limited"], f"limited: {incremental['timeline']}")
    expect_eq(name_in(incremental), [], "incremental sync: the name did not change since the token")
    ctx_body = expect_ok(alice.get(f"/rooms/{q(room)}/context/{q(after)}", query={"limit": "0"}), "/context")
    ctx_names = [e["event_id"] for e in ctx_body["state"] if e["type"] == "m.room.name"]
    expect_eq(ctx_names, [named], "/context state: the resolved name")
    token = alice.sync()["next_batch"]
    at = expect_ok(alice.get(f"/rooms/{q(room)}/members", query={"at": token}), "/members?at")
    expect_eq(sorted(e["state_key"] for e in at["chunk"]), sorted([alice.user_id, bob.user_id]),
              "/members?at after the fork")
