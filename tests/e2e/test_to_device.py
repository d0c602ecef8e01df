"""Send-to-device messaging (client-server API "Send-to-Device messaging"), raw HTTP.

Exactly-once delivery: a message comes back on every /sync from a token before it until the
device syncs with a token past it; then it is gone for good.
"""

import threading
import time

from harness import (SERVER_NAME, User, e2e_test, expect, expect_eq, expect_error, expect_ok, q,
                     unique)

WAKE_UP_LIMIT_S = 1.0


def send_path(event_type, txn):
    return f"/sendToDevice/{q(event_type)}/{q(txn)}"


def send(user, messages, event_type="m.test", txn=None):
    txn = txn or unique("txn")
    expect_ok(user.put(send_path(event_type, txn), {"messages": messages}),
              f"sendToDevice {txn}")
    return txn


def login(ctx, user):
    """A second device of `user`."""
    body = expect_ok(ctx.api.post("/login", {
        "type": "m.login.password", "password": user.password,
        "identifier": {"type": "m.id.user", "user": user.localpart}}), "login")
    return User(ctx.api, user.localpart, user.password, user.user_id, body["access_token"],
                body["device_id"])


def to_device(resp):
    section = resp.get("to_device")
    expect(isinstance(section, dict) and isinstance(section.get("events"), list),
           f"to_device.events missing: {resp}")
    return section["events"]


def numbers(events):
    return [e["content"].get("n") for e in events]


@e2e_test
def to_device_exactly_once(ctx):
    alice, bob = ctx.user(), ctx.user()
    bob2 = login(ctx, bob)
    t0 = bob.sync()["next_batch"]
    t0_2 = bob2.sync()["next_batch"]
    a0 = alice.sync()["next_batch"]

    send(alice, {bob.user_id: {bob.device_id: {"n": 1}}}, txn="first")
    send(alice, {bob.user_id: {"*": {"n": 2}}})
    # A retried transaction (even with other content) delivers nothing again.
    send(alice, {bob.user_id: {bob.device_id: {"n": 99}}}, txn="first")
    # Unknown devices and unknown or remote users are skipped silently.
    send(alice, {bob.user_id: {"NOSUCHDEVICE": {"n": 3}},
                 f"@{unique('ghost')}:{SERVER_NAME}": {"*": {"n": 4}},
                 "@someone:remote.example": {"DEV": {"n": 5}}})

    first = bob.sync(since=t0)
    events = to_device(first)
    expect_eq(numbers(events), [1, 2], "bob's device: both messages, oldest first, once")
    for e in events:
        expect_eq((e["sender"], e["type"]), (alice.user_id, "m.test"), f"event fields: {e}")
    t1 = first["next_batch"]
    # The response may have been lost: the old token brings the same messages again.
    expect_eq(numbers(to_device(bob.sync(since=t0))), [1, 2], "re-sync with the old token")
    # Syncing with the new token acknowledges them: never again, whatever the token.
    later = bob.sync(since=t1)
    expect_eq(to_device(later), [], "after acknowledging")
    expect_eq(to_device(bob.sync(since=t0)), [], "the old token after acknowledging")
    expect_eq(to_device(bob.sync(since=later["next_batch"])), [], "next sync")

    expect_eq(numbers(to_device(bob2.sync(since=t0_2))), [2], "bob's second device: the * message")
    expect_eq(numbers(to_device(bob2.sync())), [2], "initial sync of the second device")
    expect_eq(to_device(alice.sync(since=a0)), [], "the sender gets nothing")
    # The same txn id from another of the sender's devices is a new transaction.
    alice2 = login(ctx, alice)
    send(alice2, {bob.user_id: {bob.device_id: {"n": 6}}}, txn="first")
    expect_eq(numbers(to_device(bob.sync(since=later["next_batch"]))), [6], "txn ids are per device")


@e2e_test
def to_device_capped_per_sync(ctx):
    alice, bob = ctx.user(), ctx.user()
    token = bob.sync()["next_batch"]
    for i in range(150):
        send(alice, {bob.user_id: {bob.device_id: {"n": i}}})
    got, sizes = [], []
    for _ in range(5):
        resp = bob.sync(since=token)
        events = to_device(resp)
        sizes.append(len(events))
        got += numbers(events)
        token = resp["next_batch"]
        if not events:
            break
    expect_eq(sizes, [100, 50, 0], "at most 100 per response, the rest on the next")
    expect_eq(got, list(range(150)), "every message once, in order, over several syncs")


def timed_sync(user, since, timeout_ms, out):
    t0 = time.monotonic()
    out["resp"] = user.sync(since=since, timeout=timeout_ms)
    out["t"] = time.monotonic()
    out["t0"] = t0


@e2e_test
def to_device_wakes_long_poll(ctx):
    alice, bob, carol = ctx.user(), ctx.user(), ctx.user()
    bob_token = bob.sync()["next_batch"]
    carol_token = carol.sync()["next_batch"]
    bob_out, carol_out = {}, {}
    waiters = [threading.Thread(target=timed_sync, args=(bob, bob_token, 30000, bob_out)),
               threading.Thread(target=timed_sync, args=(carol, carol_token, 2500, carol_out))]
    for w in waiters:
        w.start()
    time.sleep(0.4)  # let both requests park in the notifier
    expect("resp" not in bob_out and "resp" not in carol_out, "a sync returned before the send")
    t_send = time.monotonic()
    send(alice, {bob.user_id: {"*": {"n": "wake"}}})
    for w in waiters:
        w.join(40)
    expect("resp" in bob_out, "bob's long poll never returned")
    latency = bob_out["t"] - t_send
    print(f"    to-device long-poll wake-up: {latency * 1000:.0f} ms")
    expect(latency < WAKE_UP_LIMIT_S, f"bob woke {latency:.3f} s after the send")
    expect_eq(numbers(to_device(bob_out["resp"])), ["wake"], "bob's woken sync")
    expect("resp" in carol_out, "carol's long poll never returned")
    expect(carol_out["t"] - carol_out["t0"] >= 2.3,
           f"carol was woken by bob's message after {carol_out['t'] - carol_out['t0']:.3f} s")
    expect_eq(to_device(carol_out["resp"]), [], "carol's sync")


@e2e_test
def to_device_bad_input(ctx):
    alice, bob = ctx.user(), ctx.user()
    token = bob.sync()["next_batch"]
    good = {bob.device_id: {"n": "good"}}
    path = send_path("m.test", "bad")
    cases = [
        ("no messages", {}, 400, "M_MISSING_PARAM"),
        ("messages not an object", {"messages": [1]}, 400, "M_BAD_JSON"),
        ("messages a string", {"messages": "x"}, 400, "M_BAD_JSON"),
        ("devices not an object", {"messages": {bob.user_id: good, alice.user_id: ["x"]}},
         400, "M_BAD_JSON"),
        ("content not an object", {"messages": {bob.user_id: {bob.device_id: "text"}}},
         400, "M_BAD_JSON"),
        ("one bad content among good", {"messages": {bob.user_id: {bob.device_id: {"n": 1},
                                                                    "OTHER": 5}}},
         400, "M_BAD_JSON"),
        ("invalid user id", {"messages": {bob.user_id: good, "not-a-user": good}},
         400, "M_INVALID_PARAM"),
        ("oversized", {"messages": {bob.user_id: {bob.device_id: {"n": "x" * 70000}}}},
         413, "M_TOO_LARGE"),
    ]
    for what, body, status, errcode in cases:
        expect_error(alice.put(path, body), status, errcode, what)
    expect_error(alice.put(path, raw=b"{not json"), 400, "M_NOT_JSON", "not JSON")
    expect_error(ctx.api.put(path, {"messages": {bob.user_id: good}}), 401, "M_MISSING_TOKEN",
                 "no token")
    expect_eq(to_device(bob.sync(since=token)), [], "nothing stored by rejected requests")
    # The txn id of rejected requests was not used up.
    send(alice, {bob.user_id: good}, txn="bad")
    expect_eq(numbers(to_device(bob.sync(since=token))), ["good"], "the txn id works afterwards")
