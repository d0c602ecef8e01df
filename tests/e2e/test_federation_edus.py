"""Transactions and E2EE keys between two Axon servers (fedlib): to-device messages both ways through the
federation sender (PUT /send/{txnId}), delivered once per message_id; a receiving server that is
down while messages are queued, and the sending server restarted meanwhile, gets them when it is
back (the queue lives in the database, and a signed request from the server that returned
wakes it). Bad transactions: oversized, malformed, unsigned, replayed, and EDUs speaking for
another server's users.
"""

import json
import socket
import ssl
import time

from fedlib import federating_server as fedlib_server
from fedlib import federation_request, signing_key, test_ca, x_matrix
from harness import e2e_test, expect, expect_eq, expect_error, expect_ok, q, register, timeline_bodies, unique, wait_until
from test_federation import pair
from test_e2ee import device_keys, one_time_keys
from test_to_device import send, to_device


def received(user, since, what, timeout=15.0):
    """Syncs `user` from `since` until to-device events arrive; returns (events, next_batch)."""
    deadline = time.monotonic() + timeout
    events = []
    while not events:
        body = user.sync(since=since, timeout=1000)
        events = to_device(body)
        since = body["next_batch"]
        expect(events or time.monotonic() < deadline, f"{what}: nothing within {timeout} s")
    return events, since


@e2e_test
def to_device_both_ways(ctx):
    a, b = pair(ctx)
    alice, bob = register(a.api), register(b.api)
    a_since, b_since = alice.sync()["next_batch"], bob.sync()["next_batch"]
    send(alice, {bob.user_id: {bob.device_id: {"n": 1}}}, "m.test.a2b")
    events, b_since = received(bob, b_since, "A to B")
    expect_eq([(e["sender"], e["type"], e["content"]) for e in events],
              [(alice.user_id, "m.test.a2b", {"n": 1})], "delivered on B")
    send(bob, {alice.user_id: {"*": {"n": 2}}}, "m.test.b2a")
    events, a_since = received(alice, a_since, "B to A")
    expect_eq([(e["sender"], e["content"]) for e in events], [(bob.user_id, {"n": 2})], "delivered on A")
    # Once: nothing more comes.
    again = bob.sync(since=b_since, timeout=500)
    expect_eq(to_device(again), [], "no second delivery")


def signed_send(origin_server, destination, txn_id, body):
    uri = f"/_matrix/federation/v1/send/{q(txn_id)}"
    auth = x_matrix(origin_server.server_name, destination.server_name, signing_key(origin_server), "PUT", uri, body)
    return federation_request(destination, "PUT", uri, body=body, authorization=auth)


def direct_to_device(sender, user, device, content, message_id):
    return {"edu_type": "m.direct_to_device",
            "content": {"sender": sender, "type": "m.test.raw", "message_id": message_id,
                        "messages": {user.user_id: {device: content}}}}


@e2e_test
def transactions_replayed_oversized_or_forged(ctx):
    a, b = pair(ctx)
    alice = register(a.api)
    since = alice.sync()["next_batch"]
    bob_id = f"@{unique('bob')}:{b.server_name}"
    txn = {"origin": b.server_name, "origin_server_ts": int(time.time() * 1000), "pdus": [],
           "edus": [direct_to_device(bob_id, alice, alice.device_id, {"n": 1}, unique("mid"))]}
    first = signed_send(b, a, "t1", txn)
    expect_eq((first.status, first.json), (200, {"pdus": {}}), f"a transaction: {first}")
    # The same transaction id again, even with another body: the first answer, nothing delivered.
    again = dict(txn, edus=[direct_to_device(bob_id, alice, alice.device_id, {"n": 99}, unique("mid"))])
    second = signed_send(b, a, "t1", again)
    expect_eq((second.status, second.json), (200, {"pdus": {}}), f"a replayed transaction: {second}")
    # The same message_id in a new transaction: delivered once only.
    third = signed_send(b, a, "t2", txn)
    expect_eq(third.status, 200, f"a new transaction, same message: {third}")
    # B speaking for a user of another server: ignored.
    forged = dict(txn, edus=[direct_to_device("@eve:evil.example", alice, "*", {"n": 66}, unique("mid"))])
    expect_eq(signed_send(b, a, "t3", forged).status, 200, "a forged sender's transaction")
    events, since = received(alice, since, "the raw transaction")
    time.sleep(0.5)
    more = to_device(alice.sync(since=since, timeout=500))
    expect_eq([e["content"] for e in events + more], [{"n": 1}], "exactly the first message, once")
    expect_eq(events[0]["sender"], bob_id, "the sender as the EDU says")

    def bad(body, status, errcode, what, raw=None):
        uri = "/_matrix/federation/v1/send/" + unique("t")
        auth = x_matrix(b.server_name, a.server_name, signing_key(b), "PUT", uri, body)
        r = federation_request(a, "PUT", uri, body=None if raw else body, authorization=auth, raw=raw)
        expect_eq((r.status, (r.json or {}).get("errcode")), (status, errcode), f"{what}: {r}")

    bad(dict(txn, pdus=[{}] * 51), 400, "M_BAD_JSON", "51 PDUs")
    bad(dict(txn, edus=[{}] * 101), 400, "M_BAD_JSON", "101 EDUs")
    bad(dict(txn, pdus={}), 400, "M_BAD_JSON", "pdus not a list")
    bad(dict(txn, edus="x"), 400, "M_BAD_JSON", "edus not a list")
    bad({"x": 1}, 400, "M_NOT_JSON", "malformed JSON", raw=b'{"pdus": [')
    # A transaction may be larger than a client request (50 PDUs, 100 EDUs of 64 KiB): 2 MiB
    # goes through; past the limit, 413 unread.
    padding = "x" * 50000
    big = dict(txn, edus=[direct_to_device(bob_id, alice, "NODEVICE", {"pad": padding}, unique("mid"))
                          for _ in range(40)])
    r = signed_send(b, a, unique("t"), big)
    expect_eq(r.status, 200, f"a 2 MiB transaction: {r}")
    ca, _, _ = test_ca()
    tls = ssl.create_default_context(cafile=ca)
    with socket.create_connection(("127.0.0.1", a.federation_port), timeout=10) as raw, \
            tls.wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall((f"PUT /_matrix/federation/v1/send/{unique('t')} HTTP/1.1\r\nHost: {a.server_name}\r\n"
                   f"Content-Type: application/json\r\nContent-Length: {13 * 1024 * 1024}\r\n\r\n").encode())
        answer = s.recv(65536)
    expect(answer.startswith(b"HTTP/1.1 413"), f"a declared 13 MiB transaction: {answer[:80]!r}")
    unsigned = federation_request(a, "PUT", "/_matrix/federation/v1/send/u1", body=txn)
    expect_eq((unsigned.status, unsigned.json.get("errcode")), (401, "M_UNAUTHORIZED"), f"unsigned: {unsigned}")
    # A PDU for a room of A: refused in the per-PDU answer (rooms don't federate yet), not stored.
    room = alice.create_room()
    pdu = {"room_id": room, "type": "m.room.message", "sender": bob_id, "content": {"body": "hi"},
           "origin_server_ts": 1, "depth": 5, "prev_events": [], "auth_events": [],
           "hashes": {"sha256": "x"}, "signatures": {}}
    r = signed_send(b, a, unique("t"), dict(txn, edus=[], pdus=[pdu]))
    expect_eq(r.status, 200, f"a PDU: {r}")
    results = r.json["pdus"]
    expect(len(results) == 1 and "error" in next(iter(results.values())), f"the PDU's error: {results}")
    bodies = [e["content"].get("body") for e in alice.messages(room, limit=20)["chunk"]]
    expect("hi" not in bodies, f"the refused PDU is not in the room: {bodies}")


@e2e_test
def queued_while_down_delivered_when_back(ctx):
    a, b = pair(ctx)
    alice, bob = register(a.api), register(b.api)
    b_since = bob.sync()["next_batch"]
    b.stop()
    try:
        send(alice, {bob.user_id: {bob.device_id: {"n": "while down"}}})
        time.sleep(0.5)
        # A restarts too: what is queued for B is in A's database, not its memory.
        a.restart()
    finally:
        b.start()
    # B reaches A (a signed request: Bob looks Alice up), which wakes A's queue for B.
    wait_until(lambda: bob.get(f"/profile/{q(alice.user_id)}").status == 200, timeout=10)
    events, _ = received(bob, b_since, "after B came back", timeout=20)
    expect_eq([e["content"] for e in events], [{"n": "while down"}], "caught up")


@e2e_test
def e2ee_keys_query_and_claim_across_servers(ctx):
    a, b = pair(ctx)
    alice, bob = register(a.api), register(b.api)
    account, dk = device_keys(alice)
    otks = one_time_keys(alice, account, 2)
    expect_ok(alice.post("/keys/upload", {"device_keys": dk, "one_time_keys": otks}), "upload on A")
    expect_ok(alice.put(f"/devices/{q(alice.device_id)}", {"display_name": "laptop"}), "rename")
    # Bob on B asks for Alice's keys (B asks A over federation), with a local user mixed in.
    got = expect_ok(bob.post("/keys/query", {"device_keys": {alice.user_id: [], bob.user_id: []}}), "query")
    expect_eq(got["failures"], {}, "no failures")
    keys = got["device_keys"][alice.user_id][alice.device_id]
    expect_eq((keys["keys"], keys["signatures"]), (dk["keys"], dk["signatures"]), "Alice's keys through B")
    expect_eq(keys["unsigned"], {"device_display_name": "laptop"}, "the device name")
    expect(bob.user_id in got["device_keys"], "Bob's own entry")
    # Claims: each one-time key once, across servers.
    seen = set()
    for _ in range(2):
        r = expect_ok(bob.post("/keys/claim", {"one_time_keys": {alice.user_id: {alice.device_id: "signed_curve25519"}}}),
                      "claim through B")
        expect_eq(r["failures"], {}, "claim failures")
        (key_id, _), = r["one_time_keys"][alice.user_id][alice.device_id].items()
        expect(key_id in otks and key_id not in seen, f"claimed {key_id}")
        seen.add(key_id)
    r = expect_ok(bob.post("/keys/claim", {"one_time_keys": {alice.user_id: {alice.device_id: "signed_curve25519"}}}))
    expect_eq(r["one_time_keys"], {}, "none left")
    # A server that can't be reached is a failure entry, not an error.
    r = expect_ok(bob.post("/keys/query", {"device_keys": {"@x:localhost:1": []}, "timeout": 2000}))
    expect_eq(r["failures"].get("localhost:1", {}).get("status"), 503, f"unreachable: {r}")
    # The federation endpoints themselves, signed as B.
    key = signing_key(b)
    uri = f"/_matrix/federation/v1/user/devices/{q(alice.user_id)}"
    d = federation_request(a, "GET", uri, authorization=x_matrix(b.server_name, a.server_name, key, "GET", uri))
    expect_eq(d.status, 200, f"/user/devices: {d}")
    expect_eq(d.json["user_id"], alice.user_id, "user_id")
    expect_eq([(x["device_id"], x.get("device_display_name"), x["keys"]["keys"]) for x in d.json["devices"]],
              [(alice.device_id, "laptop", dk["keys"])], "the device list")
    expect(isinstance(d.json["stream_id"], int), "stream_id")
    body = {"device_keys": {"@nobody:" + b.server_name: []}}
    uri = "/_matrix/federation/v1/user/keys/query"
    r = federation_request(a, "POST", uri, body=body, authorization=x_matrix(b.server_name, a.server_name, key, "POST", uri, body))
    expect_eq((r.status, r.json["device_keys"]), (200, {}), f"another server's users are not answered for: {r}")
    bad = {"device_keys": {alice.user_id: "all"}}
    r = federation_request(a, "POST", uri, body=bad, authorization=x_matrix(b.server_name, a.server_name, key, "POST", uri, bad))
    expect_eq((r.status, r.json.get("errcode")), (400, "M_BAD_JSON"), f"a malformed query: {r}")


@e2e_test
def hostile_bodies_on_every_federation_endpoint(ctx):
    # Every federation endpoint, correctly signed by B (so the body itself is what is judged),
    # with bodies of the wrong shape: each answered 4xx (or 200 where the spec ignores junk),
    # never 5xx, and A still serving.
    a, b = pair(ctx)
    alice = register(a.api)
    key = signing_key(b)
    uid = q(alice.user_id)
    endpoints = [
        ("PUT", "/_matrix/federation/v1/send/" + unique("t")),
        ("POST", "/_matrix/federation/v1/user/keys/query"),
        ("POST", "/_matrix/federation/v1/user/keys/claim"),
        ("GET", f"/_matrix/federation/v1/user/devices/{uid}"),
        ("GET", f"/_matrix/federation/v1/query/profile?user_id={uid}"),
        ("GET", "/_matrix/federation/v1/query/directory?room_alias=%23x%3A" + q(a.server_name)),
        ("GET", "/_matrix/federation/v1/publicRooms?limit=5"),
        ("POST", "/_matrix/federation/v1/publicRooms"),
        ("POST", "/_matrix/key/v2/query"),
    ]
    bodies = [
        [], "text", 12, None, {"pdus": "x", "edus": {}}, {"device_keys": []}, {"one_time_keys": {"@u:x": []}},
        {"server_keys": {"x": {"k": []}}}, {"limit": -1}, {"limit": "5"}, {"filter": []},
        {"pdus": [None, 1, "x", [], {"room_id": 5}]}, {"edus": [None, {"edu_type": 5}, {"edu_type": "m.typing"}]},
        {"a": {"b": {"c": [[[[[[[[[[1]]]]]]]]]]}}}, {"device_keys": {alice.user_id: [1, None]}},
        {"one_time_keys": {alice.user_id: {"DEV": 5}}}, {"x": 1e308}, {"x": -9007199254740993},
    ]
    for method, uri in endpoints:
        for body in bodies if method in ("PUT", "POST") else [None]:
            auth = x_matrix(b.server_name, a.server_name, key, method, uri, body)
            r = federation_request(a, method, uri, body=body, authorization=auth)
            expect(r.status < 500, f"{method} {uri} with {str(body)[:60]}: {r}")
            if r.status >= 400:
                expect(isinstance(r.json, dict) and str(r.json.get("errcode", "")).startswith("M_"),
                       f"{method} {uri} with {str(body)[:60]}: a Matrix error: {r}")
        # Raw bytes that are not JSON at all, and a truncated document.
        if method in ("PUT", "POST"):
            for raw in (b"\xff\xfe\x00garbage", b'{"pdus": [', b"[" * 5000):
                r = federation_request(a, method, uri, raw=raw, authorization=x_matrix(b.server_name, a.server_name, key, method, uri))
                expect(400 <= r.status < 500, f"{method} {uri} with raw {raw[:20]!r}: {r}")
    # Deeply nested JSON, signed: refused before parsing, not a crash.
    deep = {"pdus": [], "x": json.loads("[" * 200 + "]" * 200)}
    uri = "/_matrix/federation/v1/send/" + unique("t")
    r = federation_request(a, "PUT", uri, body=deep, authorization=x_matrix(b.server_name, a.server_name, key, "PUT", uri, deep))
    expect(400 <= r.status < 500, f"deep nesting: {r}")
    expect_ok(alice.get("/account/whoami"), "A still serving")


def admin_of(server):
    """A server admin of `server`, through shared-secret registration."""
    from harness import User
    from test_http import ADMIN_REGISTER, shared_secret_mac
    localpart = unique("admin")
    nonce = expect_ok(server.api.get(ADMIN_REGISTER))["nonce"]
    body = expect_ok(server.api.post(ADMIN_REGISTER, {
        "nonce": nonce, "username": localpart, "password": "pw", "admin": True,
        "mac": shared_secret_mac(nonce, localpart, "pw", admin=True)}), "admin registration")
    return User(server.api, localpart, "pw", body["user_id"], body["access_token"], body["device_id"])


@e2e_test
def destinations_admin_api_shows_and_resets_a_backoff(ctx):
    a, b = pair(ctx)
    admin, alice = admin_of(a), register(a.api)
    # C goes away: what A sends it fails, twice retried, then A backs off (10 min).
    c = fedlib_server(ctx, "fed-dest")
    c.start()
    carol = register(c.api)
    c.stop()
    send(alice, {carol.user_id: {carol.device_id: {"n": 1}}})
    path = f"/_synapse/admin/v1/federation/destinations/{q(c.server_name)}"

    def backing_off():
        r = admin.get(path)
        return r.status == 200 and r.json["retry_interval"] > 0 and r.json
    row = wait_until(backing_off, timeout=15)
    expect(row, f"A backs off C: {admin.get(path)}")
    expect(480000 <= row["retry_interval"] <= 840000 and row["failure_ts"], f"10 min x U(0.8, 1.4): {row}")
    listed = expect_ok(admin.get("/_synapse/admin/v1/federation/destinations",
                                 query={"destination": c.server_name.split(":")[1]}))
    expect_eq([d["destination"] for d in listed["destinations"]], [c.server_name], f"filtered list: {listed}")
    expect_eq(listed["total"], 1, "total")
    page = expect_ok(admin.get("/_synapse/admin/v1/federation/destinations", query={"limit": 1, "order_by": "retry_interval",
                                                                                   "dir": "b"}))
    expect(len(page["destinations"]) == 1 and page["destinations"][0]["destination"] == c.server_name,
           f"the longest backoff first: {page}")
    # Errors: not an admin, unknown destination, bad order, nothing to reset.
    expect_error(alice.get(path), 403, "M_FORBIDDEN", "not an admin")
    expect_error(admin.get("/_synapse/admin/v1/federation/destinations/nowhere.example"), 404, "M_NOT_FOUND", "unknown")
    expect_error(admin.get("/_synapse/admin/v1/federation/destinations", query={"order_by": "x"}), 400,
                 "M_INVALID_PARAM", "bad order_by")
    expect_eq(expect_ok(admin.get(path + "/rooms")), {"rooms": [], "total": 0}, "C shares no room with A")
    expect_error(admin.get("/_synapse/admin/v1/federation/destinations/nowhere.example/rooms"), 404, "M_NOT_FOUND",
                 "rooms of an unknown destination")
    bob = register(b.api)
    shared = alice.create_room(preset="public_chat", room_version="10")
    bob.join(shared)
    alice.send(shared, "for B")
    wait_until(lambda: "for B" in timeline_bodies(bob.messages(shared)["chunk"]), timeout=10)
    b_rooms = f"/_synapse/admin/v1/federation/destinations/{q(b.server_name)}/rooms"
    rooms = expect_ok(admin.get(b_rooms, query={"limit": "1000"}), "B's rooms")
    entry = next((r for r in rooms["rooms"] if r["room_id"] == shared), None)
    expect(entry and entry["stream_ordering"] > 0 and rooms["total"] >= 1, f"the room shared with B: {rooms}")
    one = expect_ok(admin.get(b_rooms, query={"limit": "1"}), "a page of one")
    expect(len(one["rooms"]) == 1 and (rooms["total"] == 1 or one["next_token"] == "1"), f"paged: {one}")
    # C is back; the admin resets the backoff: A sends at once.
    c.start()
    c_since = carol.sync()["next_batch"]
    expect_ok(admin.post(path + "/reset_connection", {}), "reset_connection")
    events = received(carol, c_since, "after the reset", timeout=15)[0]
    expect_eq([e["content"] for e in events], [{"n": 1}], "the queued message")
    row = wait_until(lambda: admin.get(path).json["retry_interval"] == 0 and admin.get(path).json, timeout=10)
    expect(row and row["retry_last_ts"] == 0, f"no backoff after the success: {admin.get(path)}")
    expect_error(admin.post(path + "/reset_connection", {}), 400, "M_UNKNOWN", "nothing to reset")
    c.stop()
