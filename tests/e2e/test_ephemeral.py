"""Typing notifications (spec "Typing Notifications"), receipts ("Receipts") and read markers
("Fully read markers"): the endpoints, their errors, and the ephemeral events in /sync."""

import concurrent.futures
import time

from harness import e2e_test, expect, expect_eq, expect_error, expect_ok, q

WAKE_UP_LIMIT_S = 1.0  # a long-polling /sync must return within this of a change


def typing_path(room, user):
    return f"/rooms/{q(room)}/typing/{q(user.user_id)}"


def receipt_path(room, kind, event_id):
    return f"/rooms/{q(room)}/receipt/{q(kind)}/{q(event_id)}"


def ephemeral(sync, room, kind):
    """The `kind` ephemeral events of rooms.join[room]."""
    entry = sync.get("rooms", {}).get("join", {}).get(room, {})
    return [e for e in entry.get("ephemeral", {}).get("events", []) if e.get("type") == kind]


def typing_users(sync, room):
    """The user_ids of the room's m.typing event, or None when there is none."""
    evs = ephemeral(sync, room, "m.typing")
    expect(len(evs) <= 1, f"several m.typing events in one room: {evs}")
    return sorted(evs[0]["content"]["user_ids"]) if evs else None


def receipts(sync, room):
    """The merged m.receipt content of the room ({} when none)."""
    out = {}
    for ev in ephemeral(sync, room, "m.receipt"):
        for event_id, kinds in ev["content"].items():
            for kind, users in kinds.items():
                out.setdefault(event_id, {}).setdefault(kind, {}).update(users)
    return out


def set_typing(user, room, typing, timeout=None):
    body = {"typing": typing}
    if timeout is not None:
        body["timeout"] = timeout
    expect_eq(expect_ok(user.put(typing_path(room, user), body), f"typing={typing}"), {},
              "typing reply")


def shared_room(ctx):
    alice, bob = ctx.user(), ctx.user()
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    return alice, bob, room


def sync_until(user, since, predicate, what, timeout=5.0):
    """Incremental /sync calls until `predicate(response)`; returns that response."""
    deadline = time.monotonic() + timeout
    while True:
        resp = user.sync(since=since, timeout=1000)
        if predicate(resp):
            return resp
        since = resp["next_batch"]
        expect(time.monotonic() < deadline, f"{what}: not seen in /sync within {timeout} s")


@e2e_test
def typing_start_stop_and_expiry(ctx):
    alice, bob, room = shared_room(ctx)
    head = bob.sync()["next_batch"]
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        poll = pool.submit(bob.sync, since=head, timeout=30000)
        time.sleep(0.3)
        expect(not poll.done(), "bob's long-poll returned before anyone typed")
        t0 = time.monotonic()
        set_typing(alice, room, True, 30000)
        resp = poll.result(timeout=30)
        woke = time.monotonic() - t0
        expect(woke < WAKE_UP_LIMIT_S, f"long-poll /sync woke {woke:.2f} s after typing started")
    expect_eq(typing_users(resp, room), [alice.user_id], "bob sees alice typing")
    head = resp["next_batch"]
    # Refreshing a typing notice changes nothing.
    set_typing(alice, room, True, 30000)
    expect_eq(typing_users(bob.sync(since=head), room), None, "refresh moves nothing")
    # An initial sync shows the current typers.
    expect_eq(typing_users(bob.sync(), room), [alice.user_id], "initial sync while alice types")
    expect_eq(typing_users(alice.sync(), room), [alice.user_id], "alice sees herself typing")
    # Both type, then alice stops.
    set_typing(bob, room, True)
    resp = bob.sync(since=head)
    expect_eq(typing_users(resp, room), sorted([alice.user_id, bob.user_id]), "both typing")
    head = resp["next_batch"]
    set_typing(alice, room, False)
    resp = bob.sync(since=head)
    expect_eq(typing_users(resp, room), [bob.user_id], "alice stopped")
    head = resp["next_batch"]
    set_typing(bob, room, False)
    resp = bob.sync(since=head)
    expect_eq(typing_users(resp, room), [], "nobody types any more")
    head = resp["next_batch"]
    expect_eq(typing_users(bob.sync(), room), None, "initial sync with nobody typing")
    # Stopping when not typing changes nothing.
    set_typing(bob, room, False)
    expect_eq(typing_users(bob.sync(since=head), room), None, "stop when not typing")

    # The timeout: alice types for 1 s and the notice goes away by itself.
    set_typing(alice, room, True, 1000)
    resp = bob.sync(since=head)
    expect_eq(typing_users(resp, room), [alice.user_id], "typing with a 1 s timeout")
    head = resp["next_batch"]
    t0 = time.monotonic()
    resp = sync_until(bob, head, lambda r: typing_users(r, room) is not None, "typing expiry")
    took = time.monotonic() - t0
    expect_eq(typing_users(resp, room), [], "typing expired")
    expect(0.5 < took < 3.0, f"typing expired after {took:.2f} s (timeout 1 s)")


@e2e_test
def typing_does_not_wake_outsiders(ctx):
    alice, bob, room = shared_room(ctx)
    carol = ctx.user()
    own_room = carol.create_room()
    head = carol.sync()["next_batch"]
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        t0 = time.monotonic()
        poll = pool.submit(carol.sync, since=head, timeout=2000)
        time.sleep(0.3)
        set_typing(alice, room, True)
        set_typing(bob, room, True)
        set_typing(alice, room, False)
        resp = poll.result(timeout=30)
        waited = time.monotonic() - t0
    expect(waited >= 1.8, f"carol's /sync woke after {waited:.2f} s for typing in a room she is not in")
    expect(room not in resp.get("rooms", {}).get("join", {}), "carol sees the room she is not in")
    expect_eq(typing_users(resp, own_room), None, "no typing in carol's own room")
    expect_eq(typing_users(carol.sync(), room), None, "initial sync of an outsider")
    set_typing(bob, room, False)


@e2e_test
def typing_errors(ctx):
    alice, bob, room = shared_room(ctx)
    carol = ctx.user()
    head = bob.sync()["next_batch"]
    expect_error(alice.put(typing_path(room, bob), {"typing": True, "timeout": 30000}), 403,
                 "M_FORBIDDEN", "typing for another user")
    expect_error(carol.put(typing_path(room, carol), {"typing": True, "timeout": 30000}), 403,
                 "M_FORBIDDEN", "typing in a room one is not in")
    for body, code in [({"typing": "yes"}, "M_BAD_JSON"), ({"typing": 1}, "M_BAD_JSON"),
                       ({"typing": True, "timeout": "30000"}, "M_BAD_JSON"),
                       ({"typing": True, "timeout": 1.5}, "M_BAD_JSON"),
                       ({"timeout": 30000}, "M_MISSING_PARAM")]:
        expect_error(alice.put(typing_path(room, alice), body), 400, code, f"typing body {body}")
    expect_error(alice.put(typing_path(room, alice), raw=b"not json"), 400, "M_NOT_JSON",
                 "typing body not JSON")
    expect_error(alice.put(typing_path("not-a-room", alice), {"typing": True}), 400,
                 "M_INVALID_PARAM", "malformed room id")
    resp = bob.sync(since=head)
    expect_eq(typing_users(resp, room), None, "failed typing requests changed nothing")


@e2e_test
def read_receipts(ctx):
    alice, bob, room = shared_room(ctx)
    first = alice.send(room, "one")
    second = alice.send(room, "two")
    head_a = alice.sync()["next_batch"]
    head_b = bob.sync()["next_batch"]
    # Other streams (presence) may wake the poll first: poll until the receipt shows.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        poll = pool.submit(sync_until, alice, head_a,
                           lambda r: receipts(r, room) != {}, "bob's receipt")
        time.sleep(0.3)
        t0 = time.monotonic()
        expect_eq(expect_ok(bob.post(receipt_path(room, "m.read", first), {}), "m.read"), {},
                  "receipt reply")
        resp = poll.result(timeout=30)
        woke = time.monotonic() - t0
        expect(woke < WAKE_UP_LIMIT_S, f"long-poll /sync woke {woke:.2f} s after a receipt")
    got = receipts(resp, room)
    expect(bob.user_id in got.get(first, {}).get("m.read", {}), f"alice sees bob's receipt: {got}")
    expect(isinstance(got[first]["m.read"][bob.user_id].get("ts"), int), "receipt has a ts")
    head_a = resp["next_batch"]
    # A newer receipt replaces the old one.
    expect_ok(bob.post(receipt_path(room, "m.read", second), {}), "m.read second")
    resp = alice.sync(since=head_a)
    got = receipts(resp, room)
    expect(bob.user_id in got.get(second, {}).get("m.read", {}), f"second receipt: {got}")
    head_a = resp["next_batch"]
    initial = receipts(alice.sync(), room)
    expect(bob.user_id in initial.get(second, {}).get("m.read", {}),
           f"initial sync has bob's latest receipt: {initial}")
    expect(bob.user_id not in initial.get(first, {}).get("m.read", {}),
           f"the replaced receipt is gone: {initial}")
    # Threaded receipts carry their thread_id.
    expect_ok(bob.post(receipt_path(room, "m.read", first), {"thread_id": "main"}), "main thread")
    got = receipts(alice.sync(since=head_a), room)
    expect_eq(got.get(first, {}).get("m.read", {}).get(bob.user_id, {}).get("thread_id"), "main",
              "thread_id in the receipt")
    # Bob sees his own receipts too.
    got = receipts(bob.sync(since=head_b), room)
    expect(bob.user_id in got.get(second, {}).get("m.read", {}), f"bob's own receipt: {got}")


@e2e_test
def receipts_never_move_backwards(ctx):
    alice, bob, room = shared_room(ctx)
    first = alice.send(room, "one")
    second = alice.send(room, "two")
    expect_ok(bob.post(receipt_path(room, "m.read", second), {}), "receipt for the newer event")
    head = alice.sync()["next_batch"]
    # A receipt for an earlier event is accepted and ignored (as Synapse does).
    expect_eq(expect_ok(bob.post(receipt_path(room, "m.read", first), {}), "older receipt"), {},
              "older receipt reply")
    expect_ok(bob.post(receipt_path(room, "m.read", second), {}), "the same receipt again")
    expect_eq(receipts(alice.sync(since=head), room), {}, "nothing new after older/same receipts")
    now = receipts(alice.sync(), room)
    expect(bob.user_id in now.get(second, {}).get("m.read", {}), f"still at the newer event: {now}")
    expect(first not in now, f"not moved back: {now}")
    # A thread's receipt is separate from the unthreaded one.
    expect_ok(bob.post(receipt_path(room, "m.read", first), {"thread_id": "main"}), "main receipt")
    got = receipts(alice.sync(since=head), room)
    expect_eq(got.get(first, {}).get("m.read", {}).get(bob.user_id, {}).get("thread_id"), "main",
              "threaded receipt for an earlier event than the unthreaded one")


@e2e_test
def typing_ends_when_leaving(ctx):
    alice, bob, room = shared_room(ctx)
    set_typing(bob, room, True, 60000)
    resp = alice.sync()
    expect_eq(typing_users(resp, room), [bob.user_id], "bob types")
    head = resp["next_batch"]
    expect_ok(bob.post(f"/rooms/{q(room)}/leave", {}), "bob leaves")
    resp = sync_until(alice, head, lambda r: typing_users(r, room) is not None, "typing cleared")
    expect_eq(typing_users(resp, room), [], "bob no longer types after leaving")
    expect_eq(typing_users(alice.sync(), room), None, "initial sync: nobody typing")


@e2e_test
def private_receipts_only_to_owner(ctx):
    alice, bob, room = shared_room(ctx)
    ev = alice.send(room, "secret")
    head_a = alice.sync()["next_batch"]
    head_b = bob.sync()["next_batch"]
    # Whatever else wakes alice's long polls (presence), no response within 2 s of bob's
    # private receipt may show it.
    def poll_for(seconds, since):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            r = alice.sync(since=since, timeout=int(max(0.1, deadline - time.monotonic()) * 1000))
            expect_eq(receipts(r, room), {}, "alice's incremental sync after a private receipt")
            since = r["next_batch"]
        return since
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        poll = pool.submit(poll_for, 2.0, head_a)
        time.sleep(0.3)
        expect_ok(bob.post(receipt_path(room, "m.read.private", ev), {}), "m.read.private")
        poll.result(timeout=30)
    expect_eq(receipts(alice.sync(), room).get(ev, {}).get("m.read.private"), None,
              "alice's initial sync")
    mine = receipts(bob.sync(since=head_b), room)
    expect(bob.user_id in mine.get(ev, {}).get("m.read.private", {}), f"bob's own: {mine}")
    mine = receipts(bob.sync(), room)
    expect(bob.user_id in mine.get(ev, {}).get("m.read.private", {}), f"bob's initial: {mine}")


@e2e_test
def fully_read_and_read_markers(ctx):
    alice, bob, room = shared_room(ctx)
    first = alice.send(room, "one")
    second = alice.send(room, "two")
    acct = f"/user/{q(bob.user_id)}/rooms/{q(room)}/account_data/m.fully_read"
    expect_ok(bob.post(receipt_path(room, "m.fully_read", first), {}), "m.fully_read receipt")
    expect_eq(expect_ok(bob.get(acct), "GET m.fully_read"), {"event_id": first}, "fully_read")
    head_a = alice.sync()["next_batch"]
    resp = expect_ok(bob.post(f"/rooms/{q(room)}/read_markers",
                              {"m.fully_read": second, "m.read": second, "m.read.private": first}),
                     "read_markers")
    expect_eq(resp, {}, "read_markers reply")
    expect_eq(expect_ok(bob.get(acct), "GET m.fully_read"), {"event_id": second}, "fully_read moved")
    sync = bob.sync()
    entry = sync["rooms"]["join"][room]
    fr = [e for e in entry.get("account_data", {}).get("events", []) if e["type"] == "m.fully_read"]
    expect_eq([e["content"] for e in fr], [{"event_id": second}], "m.fully_read in room account data")
    mine = receipts(sync, room)
    expect(bob.user_id in mine.get(second, {}).get("m.read", {}), f"m.read marker: {mine}")
    expect(bob.user_id in mine.get(first, {}).get("m.read.private", {}), f"private marker: {mine}")
    theirs = receipts(alice.sync(since=head_a), room)
    expect(bob.user_id in theirs.get(second, {}).get("m.read", {}), f"alice sees m.read: {theirs}")
    expect("m.read.private" not in str(theirs), f"alice sees no private receipt: {theirs}")
    expect(not any(e.get("type") == "m.fully_read" for e in ephemeral(sync, room, "m.fully_read")),
           "m.fully_read is not an ephemeral event")


@e2e_test
def receipt_errors(ctx):
    alice, bob, room = shared_room(ctx)
    carol = ctx.user()
    ev = alice.send(room, "hello")
    other_room = alice.create_room()
    elsewhere = alice.send(other_room, "elsewhere")
    head = alice.sync()["next_batch"]
    expect_error(carol.post(receipt_path(room, "m.read", ev), {}), 403, "M_FORBIDDEN",
                 "receipt from a non-member")
    expect_error(bob.post(receipt_path(room, "m.read", "$nope"), {}), 404, "M_NOT_FOUND",
                 "receipt for an unknown event")
    expect_error(bob.post(receipt_path(room, "m.read", elsewhere), {}), 404, "M_NOT_FOUND",
                 "receipt for an event of another room")
    expect_error(bob.post(receipt_path(room, "m.bogus", ev), {}), 400, "M_INVALID_PARAM",
                 "unknown receipt type")
    for tid in ["", "thread", 5]:
        expect_error(bob.post(receipt_path(room, "m.read", ev), {"thread_id": tid}), 400,
                     "M_INVALID_PARAM", f"thread_id {tid!r}")
    expect_error(carol.post(f"/rooms/{q(room)}/read_markers", {"m.read": ev}), 403, "M_FORBIDDEN",
                 "read_markers from a non-member")
    expect_error(bob.post(f"/rooms/{q(room)}/read_markers", {"m.read": 5}), 400, "M_BAD_JSON",
                 "read_markers with a non-string")
    expect_error(bob.post(f"/rooms/{q(room)}/read_markers", {"m.read": ev, "m.fully_read": "$x"}),
                 404, "M_NOT_FOUND", "read_markers with an unknown event")
    expect_eq(receipts(alice.sync(since=head), room), {}, "failed receipts changed nothing")
    acct = f"/user/{q(bob.user_id)}/rooms/{q(room)}/account_data/m.fully_read"
    expect_error(bob.get(acct), 404, "M_NOT_FOUND", "no m.fully_read after failures")
