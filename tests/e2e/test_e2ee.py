"""Devices and end-to-end encryption keys: /devices (with password UIA), /keys/upload, /keys/query,
/keys/claim, /keys/changes, the /sync device_lists sections, and matrix-nio with encryption
(python3-olm) exchanging Megolm-encrypted messages in an encrypted room.
"""

import asyncio
import json
import tempfile

import nio
import olm

from harness import (SERVER_NAME, e2e_test, expect, expect_eq, expect_error, expect_ok,
                     expect_status, q, unique, wait_until)


# ---------------------------------------------------------------------------------------------
# helpers


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def signed(account, user, obj):
    """`obj` signed with the olm account's ed25519 key as the user's device (spec "Signing JSON")."""
    unsigned = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    sig = account.sign(canonical(unsigned))
    out = dict(obj)
    out["signatures"] = {user.user_id: {f"ed25519:{user.device_id}": sig}}
    return out


def device_keys(user, account=None):
    account = account or olm.Account()
    ik = account.identity_keys
    dk = {
        "user_id": user.user_id, "device_id": user.device_id,
        "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
        "keys": {f"curve25519:{user.device_id}": ik["curve25519"],
                 f"ed25519:{user.device_id}": ik["ed25519"]},
    }
    return account, signed(account, user, dk)


def one_time_keys(user, account, n):
    account.generate_one_time_keys(n)
    out = {}
    for key_id, key in account.one_time_keys["curve25519"].items():
        out[f"signed_curve25519:{key_id}"] = signed(account, user, {"key": key})
    account.mark_keys_as_published()
    return out


def login_again(ctx, user, device_id=None):
    body = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user.user_id},
            "password": user.password}
    if device_id:
        body["device_id"] = device_id
    return expect_ok(ctx.api.post("/login", body), "login")


def password_auth(user, session, password=None):
    return {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user.user_id},
            "password": password or user.password, "session": session}


def table_count(user):
    return len(expect_ok(user.get("/devices"), "GET /devices")["devices"])


# ---------------------------------------------------------------------------------------------
# devices


@e2e_test
def devices_list_rename_and_errors(ctx):
    alice = ctx.user()
    second = login_again(ctx, alice)
    devices = expect_ok(alice.get("/devices"), "GET /devices")["devices"]
    expect_eq(sorted(d["device_id"] for d in devices), sorted([alice.device_id, second["device_id"]]),
              "devices")
    expect_ok(alice.put(f"/devices/{q(alice.device_id)}", {"display_name": "Alice's phone"}), "rename")
    d = expect_ok(alice.get(f"/devices/{q(alice.device_id)}"), "GET device")
    expect_eq(d["display_name"], "Alice's phone", "display_name")
    expect_eq(d["device_id"], alice.device_id, "device_id")
    expect_error(alice.get("/devices/NOPE"), 404, "M_NOT_FOUND", "unknown device")
    expect_error(alice.put("/devices/NOPE", {"display_name": "x"}), 404, "M_NOT_FOUND", "rename unknown")
    expect_error(alice.delete("/devices/NOPE"), 404, "M_NOT_FOUND", "delete unknown")
    # Another user's device is unknown to me.
    bob = ctx.user()
    expect_error(bob.get(f"/devices/{q(alice.device_id)}"), 404, "M_NOT_FOUND", "other user's device")
    expect_error(alice.put(f"/devices/{q(alice.device_id)}", {"display_name": 5}), 400, "M_BAD_JSON",
                 "bad display_name")
    expect_eq(expect_ok(alice.get(f"/devices/{q(alice.device_id)}"), "")["display_name"],
              "Alice's phone", "name unchanged")


@e2e_test
def devices_delete_with_password_uia(ctx):
    alice = ctx.user()
    other = login_again(ctx, alice)
    path = f"/devices/{q(other['device_id'])}"
    first = expect_status(alice.request("DELETE", path, body={}), 401, "delete without auth")
    expect_eq(first["flows"], [{"stages": ["m.login.password"]}], "flows")
    expect("session" in first and "params" in first, f"challenge {first}")
    wrong = alice.request("DELETE", path, body={"auth": password_auth(alice, first["session"], "nope")})
    body = expect_status(wrong, 401, "wrong password")
    expect_eq(body.get("errcode"), "M_FORBIDDEN", "errcode for a wrong password")
    expect_eq(table_count(alice), 2, "nothing deleted after a wrong password")
    expect_ok(alice.get("/account/whoami", token=other["access_token"]), "token still valid")
    ok = alice.request("DELETE", path, body={"auth": password_auth(alice, first["session"])})
    expect_ok(ok, "delete with password")
    expect_eq(table_count(alice), 1, "device deleted")
    expect_error(alice.get("/account/whoami", token=other["access_token"]), 401, "M_UNKNOWN_TOKEN",
                 "deleted device's token")
    # Bulk delete.
    a = login_again(ctx, alice)
    b = login_again(ctx, alice)
    first = expect_status(alice.post("/delete_devices", {"devices": [a["device_id"], b["device_id"]]}),
                          401, "bulk without auth")
    expect_error(alice.post("/delete_devices", {"devices": "x", "auth": password_auth(alice, first["session"])}),
                 400, "M_BAD_JSON", "devices not a list")
    expect_eq(table_count(alice), 3, "nothing deleted by a bad request")
    expect_ok(alice.post("/delete_devices", {"devices": [a["device_id"], b["device_id"], "GONE"],
                                             "auth": password_auth(alice, first["session"])}), "bulk")
    expect_eq(table_count(alice), 1, "bulk deleted")
    expect_error(alice.get("/account/whoami", token=b["access_token"]), 401, "M_UNKNOWN_TOKEN", "bulk token")


# ---------------------------------------------------------------------------------------------
# keys


@e2e_test
def keys_upload_query_claim(ctx):
    alice, bob = ctx.user(), ctx.user()
    account, dk = device_keys(alice)
    otks = one_time_keys(alice, account, 3)
    reply = expect_ok(alice.post("/keys/upload", {"device_keys": dk, "one_time_keys": otks}), "upload")
    expect_eq(reply["one_time_key_counts"].get("signed_curve25519"), 3, "counts")
    expect_ok(alice.put(f"/devices/{q(alice.device_id)}", {"display_name": "laptop"}), "rename")
    got = expect_ok(bob.post("/keys/query", {"device_keys": {alice.user_id: []}}), "query")
    keys = got["device_keys"][alice.user_id][alice.device_id]
    expect_eq(keys["keys"], dk["keys"], "queried keys")
    expect_eq(keys["signatures"], dk["signatures"], "queried signatures")
    expect_eq(keys["unsigned"], {"device_display_name": "laptop"}, "unsigned")
    got = expect_ok(bob.post("/keys/query", {"device_keys": {alice.user_id: ["OTHER"]}}), "query one")
    expect_eq(got["device_keys"][alice.user_id], {}, "unknown device")
    # Fallback key.
    account.generate_fallback_key()
    fb = {f"signed_curve25519:{k}": signed(account, alice, {"key": v, "fallback": True})
          for k, v in account.fallback_key["curve25519"].items()}
    expect_ok(alice.post("/keys/upload", {"fallback_keys": fb}), "upload fallback")
    sync = alice.sync()
    expect_eq(sync["device_unused_fallback_key_types"], ["signed_curve25519"], "unused fallback")
    expect_eq(sync["device_one_time_keys_count"]["signed_curve25519"], 3, "sync counts")
    seen = set()
    for _ in range(3):
        r = expect_ok(bob.post("/keys/claim", {"one_time_keys": {alice.user_id: {alice.device_id: "signed_curve25519"}}}),
                      "claim")
        (key_id, key), = r["one_time_keys"][alice.user_id][alice.device_id].items()
        expect(key_id in otks and key_id not in seen, f"claimed {key_id}")
        seen.add(key_id)
    r = expect_ok(bob.post("/keys/claim", {"one_time_keys": {alice.user_id: {alice.device_id: "signed_curve25519"}}}),
                  "claim fallback")
    expect_eq(r["one_time_keys"][alice.user_id][alice.device_id], fb, "fallback key handed out")
    sync = alice.sync()
    expect_eq(sync["device_unused_fallback_key_types"], [], "fallback used")
    expect_eq(sync["device_one_time_keys_count"].get("signed_curve25519", 0), 0, "no one-time keys left")


@e2e_test
def keys_upload_errors_change_nothing(ctx):
    alice, bob = ctx.user(), ctx.user()
    account, dk = device_keys(alice)
    _, bobs = device_keys(bob)
    expect_error(alice.post("/keys/upload", {"device_keys": bobs}), 400, "M_INVALID_PARAM", "other user's keys")
    expect_error(alice.post("/keys/upload", {"device_keys": {**dk, "device_id": "OTHER"}}), 400,
                 "M_INVALID_PARAM", "another device's keys")
    # The shape of DeviceKeys and KeyObject (spec), as Synapse checks it: M_BAD_JSON.
    shapes = {
        "algorithms not a list": {"device_keys": {**dk, "algorithms": "x"}},
        "algorithms of non-strings": {"device_keys": {**dk, "algorithms": [1]}},
        "no algorithms": {"device_keys": {k: v for k, v in dk.items() if k != "algorithms"}},
        "no keys": {"device_keys": {k: v for k, v in dk.items() if k != "keys"}},
        "keys not strings": {"device_keys": {**dk, "keys": {f"ed25519:{alice.device_id}": 1}}},
        "no signatures": {"device_keys": {k: v for k, v in dk.items() if k != "signatures"}},
        "signatures flat": {"device_keys": {**dk, "signatures": {alice.user_id: "sig"}}},
        "no user_id": {"device_keys": {k: v for k, v in dk.items() if k != "user_id"}},
        "device_keys not an object": {"device_keys": ["x"]},
        "one_time_keys not an object": {"one_time_keys": "x"},
        "bad key id": {"one_time_keys": {"nocolon": "k"}},
        "key a number": {"one_time_keys": {"signed_curve25519:A": 5}},
        "key object without key": {"one_time_keys": {"signed_curve25519:A": {"signatures": {}}}},
        "key object without signatures": {"one_time_keys": {"signed_curve25519:A": {"key": "k"}}},
        "fallback not a boolean": {"fallback_keys": {"signed_curve25519:A": {
            "key": "k", "fallback": "yes", "signatures": {}}}},
    }
    for what, body in shapes.items():
        expect_error(alice.post("/keys/upload", body), 400, "M_BAD_JSON", what)
    got = expect_ok(bob.post("/keys/query", {"device_keys": {alice.user_id: []}}), "query")
    expect_eq(got["device_keys"][alice.user_id], {}, "nothing stored")
    otks = one_time_keys(alice, account, 1)
    expect_ok(alice.post("/keys/upload", {"one_time_keys": otks}), "upload otk")
    (kid, _), = otks.items()
    changed = {kid: {"key": "different"}, "signed_curve25519:NEW": {"key": "n"}}
    expect_status(alice.post("/keys/upload", {"one_time_keys": changed}), 400, "reused key id")
    counts = expect_ok(alice.post("/keys/upload", {}), "counts")["one_time_key_counts"]
    expect_eq(counts["signed_curve25519"], 1, "nothing of a refused upload is stored")
    expect_error(bob.post("/keys/claim", {"one_time_keys": {alice.user_id: "x"}}), 400, "M_BAD_JSON", "bad claim")
    expect_error(bob.post("/keys/query", {}), 400, "M_MISSING_PARAM", "query without device_keys")


@e2e_test
def keys_upload_stores_keys_as_given(ctx):
    # Synapse neither decodes key strings nor verifies signatures on upload: clients verify
    # what /keys/query returns.
    alice, bob = ctx.user(), ctx.user()
    dk = {"user_id": alice.user_id, "device_id": alice.device_id,
          "algorithms": ["m.olm.v1.curve25519-aes-sha2"],
          "keys": {f"curve25519:{alice.device_id}": "not base64!",
                   f"ed25519:{alice.device_id}": "key1"},
          "signatures": {alice.user_id: {f"ed25519:{alice.device_id}": "sig1"}}}
    otks = {"curve25519:AAAA": "??", "signed_curve25519:AAAB": {
        "key": "%%", "signatures": {alice.user_id: {f"ed25519:{alice.device_id}": "nope"}}}}
    reply = expect_ok(alice.post("/keys/upload", {"device_keys": dk, "one_time_keys": otks}),
                      "keys that are not base64")
    expect_eq(reply["one_time_key_counts"].get("signed_curve25519"), 1, "counted")
    expect_eq(reply["one_time_key_counts"].get("curve25519"), 1, "counted")
    got = expect_ok(bob.post("/keys/query", {"device_keys": {alice.user_id: []}}), "query")
    stored = got["device_keys"][alice.user_id][alice.device_id]
    expect_eq(stored["keys"], dk["keys"], "keys as uploaded")
    expect_eq(stored["signatures"], dk["signatures"], "signatures as uploaded")
    r = expect_ok(bob.post("/keys/claim", {"one_time_keys": {alice.user_id: {
        alice.device_id: "signed_curve25519"}}}), "claim")
    expect_eq(r["one_time_keys"][alice.user_id][alice.device_id], {
        "signed_curve25519:AAAB": otks["signed_curve25519:AAAB"]}, "claimed as uploaded")


@e2e_test
def device_lists_in_sync_and_changes(ctx):
    alice, bob, carol = ctx.user(), ctx.user(), ctx.user()
    room = alice.create_room()
    alice.invite(room, bob)
    bob.join(room)
    initial = bob.sync()
    expect_eq(initial["device_lists"]["changed"], [], "initial sync: nothing changed")
    since = initial["next_batch"]
    carol_since = carol.sync()["next_batch"]
    account, dk = device_keys(alice)
    expect_ok(alice.post("/keys/upload", {"device_keys": dk}), "upload")
    later = bob.sync(since=since)
    expect(alice.user_id in later["device_lists"]["changed"], f"bob sees alice's change: {later['device_lists']}")
    expect(alice.user_id not in carol.sync(since=carol_since)["device_lists"]["changed"], "carol shares no room")
    changes = expect_ok(bob.get("/keys/changes", query={"from": since, "to": later["next_batch"]}), "changes")
    expect(alice.user_id in changes["changed"], f"/keys/changes {changes}")
    expect_eq(changes["left"], [], "left")
    # Long-poll: a key change wakes bob.
    import threading, time
    since = later["next_batch"]
    result = {}
    t = threading.Thread(target=lambda: result.update(bob.sync(since=since, timeout=20000)))
    t.start()
    time.sleep(0.5)
    start = time.monotonic()
    _, dk2 = device_keys(alice)
    expect_ok(alice.post("/keys/upload", {"device_keys": dk2}), "upload new keys")
    t.join(25)
    expect(time.monotonic() - start < 5, "long-poll woken by the key change")
    expect(alice.user_id in result.get("device_lists", {}).get("changed", []), f"woken with {result.get('device_lists')}")
    # A new member's devices are news to the others.
    dave = ctx.user()
    since = result["next_batch"]
    alice.invite(room, dave)
    dave.join(room)
    expect(dave.user_id in bob.sync(since=since)["device_lists"]["changed"], "newly joined user listed")
    # Leaving: dave no longer shares a room with bob.
    since = bob.sync()["next_batch"]
    expect_ok(dave.post(f"/rooms/{q(room)}/leave", {}), "leave")
    later = bob.sync(since=since)
    expect_eq(later["device_lists"]["left"], [dave.user_id], "left")
    changes = expect_ok(bob.get("/keys/changes", query={"from": since, "to": later["next_batch"]}), "changes")
    expect_eq(changes["left"], [dave.user_id], "/keys/changes left")
    expect_error(bob.get("/keys/changes", query={"from": "garbage"}), 400, "M_INVALID_PARAM", "bad from")


@e2e_test
def deleting_a_device_deletes_its_keys(ctx):
    alice, bob = ctx.user(), ctx.user()
    other = login_again(ctx, alice)
    from harness import User
    second = User(alice.api, alice.localpart, alice.password, alice.user_id, other["access_token"],
                  other["device_id"])
    _, dk = device_keys(second)
    expect_ok(second.post("/keys/upload", {"device_keys": dk}), "upload")
    got = expect_ok(bob.post("/keys/query", {"device_keys": {alice.user_id: []}}), "query")
    expect(second.device_id in got["device_keys"][alice.user_id], "keys present")
    first = expect_status(alice.request("DELETE", f"/devices/{q(second.device_id)}", body={}), 401, "")
    expect_ok(alice.request("DELETE", f"/devices/{q(second.device_id)}",
                            body={"auth": password_auth(alice, first["session"])}), "delete")
    got = expect_ok(bob.post("/keys/query", {"device_keys": {alice.user_id: []}}), "query")
    expect_eq(got["device_keys"][alice.user_id], {}, "keys gone with the device")


# ---------------------------------------------------------------------------------------------
# matrix-nio with encryption


PASSWORD = "nio-e2ee-password"


def enc_config():
    return nio.AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True,
                                 max_limit_exceeded=0, max_timeouts=0, request_timeout=60)


async def nio_client(url, store_dir):
    localpart = unique("e2ee")
    reg = nio.AsyncClient(url, config=enc_config(), store_path=store_dir)
    reply = await reg.register(localpart, PASSWORD, "registrar")
    expect(isinstance(reply, nio.RegisterResponse), f"register: {reply!r}")
    await reg.close()
    user_id = f"@{localpart}:{SERVER_NAME}"
    client = nio.AsyncClient(url, user_id, config=enc_config(), store_path=store_dir)
    reply = await client.login(PASSWORD, device_name="nio-e2ee")
    expect(isinstance(reply, nio.LoginResponse), f"login: {reply!r}")
    return client


async def sync_once(client):
    reply = await client.sync(timeout=0, full_state=False)
    expect(isinstance(reply, nio.SyncResponse), f"sync: {reply!r}")
    if client.should_upload_keys:
        r = await client.keys_upload()
        expect(isinstance(r, nio.KeysUploadResponse), f"keys_upload: {r!r}")
    if client.should_query_keys:
        r = await client.keys_query()
        expect(isinstance(r, nio.KeysQueryResponse), f"keys_query: {r!r}")
    return reply


async def receive_text(client, room_id, body, attempts=20):
    """Syncs until `body` arrives decrypted; fails on an undecryptable MegolmEvent."""
    for _ in range(attempts):
        reply = await sync_once(client)
        room = reply.rooms.join.get(room_id)
        for ev in room.timeline.events if room else []:
            expect(not isinstance(ev, nio.MegolmEvent), f"undecryptable event {ev!r}")
            if isinstance(ev, nio.RoomMessageText) and ev.body == body:
                expect(ev.decrypted, "the message arrived encrypted and was decrypted")
                return ev
        await asyncio.sleep(0.2)
    raise AssertionError(f"{client.user_id} never received {body!r}")


@e2e_test
async def nio_megolm_conversation(ctx):
    with tempfile.TemporaryDirectory() as da, tempfile.TemporaryDirectory() as db:
        alice = await nio_client(ctx.url, da)
        bob = await nio_client(ctx.url, db)
        try:
            await sync_once(alice)
            await sync_once(bob)
            expect(not alice.should_upload_keys, "alice's keys uploaded")
            created = await alice.room_create(
                invite=[bob.user_id],
                initial_state=[{"type": "m.room.encryption", "state_key": "",
                                "content": {"algorithm": "m.megolm.v1.aes-sha2"}}])
            expect(isinstance(created, nio.RoomCreateResponse), f"createRoom {created!r}")
            room_id = created.room_id
            await sync_once(bob)
            joined = await bob.join(room_id)
            expect(isinstance(joined, nio.JoinResponse), f"join {joined!r}")
            await sync_once(alice)
            await sync_once(bob)
            expect(alice.rooms[room_id].encrypted, "room is encrypted for alice")
            # nio: queries keys, claims one-time keys, shares the Megolm session over to-device.
            sent = await alice.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": "secret 1"},
                                         ignore_unverified_devices=True)
            expect(isinstance(sent, nio.RoomSendResponse), f"send {sent!r}")
            ev = await receive_text(bob, room_id, "secret 1")
            expect_eq(ev.sender, alice.user_id, "sender")
            sent = await bob.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": "secret 2"},
                                       ignore_unverified_devices=True)
            expect(isinstance(sent, nio.RoomSendResponse), f"send {sent!r}")
            ev = await receive_text(alice, room_id, "secret 2")
            expect_eq(ev.sender, bob.user_id, "sender")
        finally:
            await alice.close()
            await bob.close()
