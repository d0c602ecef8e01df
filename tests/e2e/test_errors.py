"""Bad input gets a Matrix error (errcode, error, HTTP status) and leaves stored data unchanged."""

from harness import (CLIENT, e2e_test, expect_eq, expect_error, expect_ok, q, room_snapshot)


@e2e_test
def unknown_endpoints_and_methods(ctx):
    api = ctx.api
    alice = ctx.user()
    for path in (CLIENT + "/no_such_endpoint", "/_matrix/client/v3/rooms/x/y/z/w/v",
                 "/_matrix/client/v99/account/whoami", "/_matrix/nonsense"):
        expect_error(alice.get(path), 404, "M_UNRECOGNIZED", f"GET {path}")
    expect_error(api.post("/_matrix/client/versions", {}), 405, "M_UNRECOGNIZED", "POST /versions")
    expect_error(alice.delete("/account/whoami"), 405, "M_UNRECOGNIZED", "DELETE /account/whoami")
    expect_error(alice.get("/createRoom"), 405, "M_UNRECOGNIZED", "GET /createRoom")
    expect_error(alice.put("/login", {}), 405, "M_UNRECOGNIZED", "PUT /login")


@e2e_test
def malformed_and_mistyped_json(ctx):
    alice, bob = ctx.user(), ctx.user()
    room = alice.create_room(name="json", preset="public_chat")
    rooms_before = expect_ok(alice.get("/joined_rooms"))["joined_rooms"]
    before = room_snapshot(alice, room)
    send = f"/rooms/{q(room)}/send/m.room.message/"

    not_json = [
        ("POST /createRoom", "POST", "/createRoom", b"{not json"),
        ("PUT send", "PUT", send + "bad1", b'{"msgtype": "m.text", "body": '),
        ("PUT state", "PUT", f"/rooms/{q(room)}/state/m.room.topic/", b"\xff\xfe"),
        ("POST /login", "POST", "/login", b"{'single': 'quotes'}"),
    ]
    for what, method, path, raw in not_json:
        expect_error(alice.request(method, path, raw=raw), 400, "M_NOT_JSON", what)

    bad_json = [
        ("createRoom with an array body", "POST", "/createRoom", []),
        ("send with a string body", "PUT", send + "bad2", "just a string"),
        ("state with an array body", "PUT", f"/rooms/{q(room)}/state/m.room.topic/", [1, 2]),
        ("createRoom with invite not a list", "POST", "/createRoom", {"invite": "@x:localhost"}),
        ("createRoom with a numeric name", "POST", "/createRoom", {"name": 5}),
        ("invite with a numeric user_id", "POST", f"/rooms/{q(room)}/invite", {"user_id": 5}),
    ]
    for what, method, path, body in bad_json:
        expect_error(alice.request(method, path, body=body), 400, "M_BAD_JSON", what)

    expect_eq(expect_ok(alice.get("/joined_rooms"))["joined_rooms"], rooms_before,
              "joined rooms after rejected createRoom requests")
    expect_eq(room_snapshot(alice, room), before, "room after rejected requests")
    # The rejected transaction ids are not burnt: they can carry a good request now.
    expect_ok(alice.put(send + "bad1", {"msgtype": "m.text", "body": "fine"}), "txn id after M_NOT_JSON")
    expect_ok(bob.get("/account/whoami"), "server still fine")


@e2e_test
def oversized_event(ctx):
    alice = ctx.user()
    room = alice.create_room()
    before = room_snapshot(alice, room)
    huge = "x" * 70000  # an event must fit in 65536 bytes of canonical JSON
    resp = alice.put(f"/rooms/{q(room)}/send/m.room.message/big", {"msgtype": "m.text", "body": huge})
    expect_error(resp, 413, "M_TOO_LARGE", "oversized message")
    resp = alice.put(f"/rooms/{q(room)}/state/com.example.big/", {"data": huge})
    expect_error(resp, 413, "M_TOO_LARGE", "oversized state event")
    expect_eq(room_snapshot(alice, room), before, "room after rejected oversized events")
    # Just under the limit is fine.
    expect_ok(alice.put(f"/rooms/{q(room)}/send/m.room.message/ok",
                        {"msgtype": "m.text", "body": "y" * 60000}), "a 60 kB message")


@e2e_test
def bad_tokens_change_nothing(ctx):
    api = ctx.api
    alice = ctx.user()
    room = alice.create_room(name="tokens")
    before = room_snapshot(alice, room)
    body = {"msgtype": "m.text", "body": "sneaky"}
    path = f"/rooms/{q(room)}/send/m.room.message/tk1"
    expect_error(api.put(path, body), 401, "M_MISSING_TOKEN", "send without a token")
    expect_error(api.put(path, body, token="syt_forged_abcdefghij_0000"), 401, "M_UNKNOWN_TOKEN",
                 "send with an unknown token")
    expect_error(api.put(f"/rooms/{q(room)}/state/m.room.name/", {"name": "x"}, token="garbage"),
                 401, "M_UNKNOWN_TOKEN", "set state with an unknown token")
    expect_error(api.post("/createRoom", {}, token="garbage"), 401, "M_UNKNOWN_TOKEN",
                 "createRoom with an unknown token")
    expect_eq(room_snapshot(alice, room), before, "room after rejected tokens")


@e2e_test
def forbidden_to_non_members(ctx):
    alice, carol = ctx.user(), ctx.user()
    room = alice.create_room(name="private", preset="private_chat")
    alice.send(room, "members only")
    before = room_snapshot(alice, room)
    r = q(room)
    expect_error(carol.put(f"/rooms/{r}/send/m.room.message/f1", {"msgtype": "m.text", "body": "hi"}),
                 403, "M_FORBIDDEN", "send to a room one is not in")
    expect_error(carol.get(f"/rooms/{r}/state"), 403, "M_FORBIDDEN", "GET /state as a non-member")
    expect_error(carol.get(f"/rooms/{r}/state/m.room.name/"), 403, "M_FORBIDDEN",
                 "GET /state/m.room.name as a non-member")
    expect_error(carol.put(f"/rooms/{r}/state/m.room.name/", {"name": "mine"}), 403, "M_FORBIDDEN",
                 "PUT state as a non-member")
    expect_error(carol.get(f"/rooms/{r}/messages", query={"dir": "b"}), 403, "M_FORBIDDEN",
                 "/messages as a non-member")
    expect_error(carol.post(f"/join/{r}", {}), 403, "M_FORBIDDEN", "joining an invite-only room")
    expect_error(carol.post(f"/rooms/{r}/invite", {"user_id": carol.user_id}), 403, "M_FORBIDDEN",
                 "inviting oneself into a room one is not in")
    expect_eq(room_snapshot(alice, room), before, "room after forbidden requests")
    expect_eq(expect_ok(carol.get("/joined_rooms"))["joined_rooms"], [], "carol's rooms")
