"""Raw-HTTP tests of server-side key backups (/room_keys). matrix-nio 0.20 has no key
backup API, so raw HTTP only."""

from harness import e2e_test, expect, expect_eq, expect_error, expect_ok, q

ALGO = "m.megolm_backup.v1.curve25519-aes-sha2"
ROOM = "!room:localhost"
ROOM2 = "!other:localhost"


def key(index, forwarded=0, verified=False, tag="k"):
    return {"first_message_index": index, "forwarded_count": forwarded, "is_verified": verified,
            "session_data": {"ephemeral": "e", "ciphertext": tag, "mac": "m"}}


def new_version(user, auth_data=None):
    body = {"algorithm": ALGO, "auth_data": auth_data or {"public_key": "abc"}}
    return expect_ok(user.post("/room_keys/version", body), "create version")["version"]


def session_path(room, session):
    return f"/room_keys/keys/{q(room)}/{q(session)}"


def stored(user, version):
    return expect_ok(user.get("/room_keys/keys", query={"version": version}), "GET all keys")


def info(user, version=None):
    path = "/room_keys/version" + (f"/{version}" if version else "")
    return expect_ok(user.get(path), "GET version")


@e2e_test
def room_keys_versions(ctx):
    alice, bob = ctx.user(), ctx.user()
    err = expect_error(alice.get("/room_keys/version"), 404, "M_NOT_FOUND", "no backup yet")
    v1 = new_version(alice, {"public_key": "one"})
    v2 = new_version(alice, {"public_key": "two"})
    expect_eq([v1, v2], ["1", "2"], "versions are increasing integers as strings")
    expect_eq(new_version(bob), "1", "numbered per user")
    expect_eq(info(alice), {"algorithm": ALGO, "auth_data": {"public_key": "two"}, "count": 0,
                            "etag": info(alice)["etag"], "version": "2"}, "current version")
    expect_eq(info(alice, "1")["auth_data"], {"public_key": "one"}, "older version")
    expect_error(alice.get("/room_keys/version/9"), 404, "M_NOT_FOUND", "unknown version")
    expect_error(alice.get("/room_keys/version/abc"), 404, "M_NOT_FOUND", "non-numeric version")

    # Updating auth_data: version in the body must match, algorithm must match.
    expect_ok(alice.put("/room_keys/version/1", {"algorithm": ALGO, "auth_data": {"public_key": "new"},
                                                 "version": "1"}), "update")
    expect_eq(info(alice, "1")["auth_data"], {"public_key": "new"}, "auth_data updated")
    expect_error(alice.put("/room_keys/version/1", {"algorithm": ALGO, "auth_data": {}, "version": "2"}),
                 400, "M_INVALID_PARAM", "body version differs")
    expect_error(alice.put("/room_keys/version/1", {"algorithm": "m.other", "auth_data": {}}),
                 400, "M_INVALID_PARAM", "algorithm differs")
    expect_error(alice.put("/room_keys/version/7", {"algorithm": ALGO, "auth_data": {}}),
                 404, "M_NOT_FOUND", "update unknown version")
    expect_error(alice.put("/room_keys/version/1", {"algorithm": ALGO}), 400, "M_MISSING_PARAM",
                 "update without auth_data")
    expect_eq(info(alice, "1")["auth_data"], {"public_key": "new"}, "refused updates change nothing")

    # Bad creation bodies store nothing.
    expect_error(alice.post("/room_keys/version", {"auth_data": {}}), 400, "M_MISSING_PARAM", "no algorithm")
    expect_error(alice.post("/room_keys/version", {"algorithm": ALGO, "auth_data": "x"}), 400,
                 "M_BAD_JSON", "auth_data not an object")
    expect_error(alice.post("/room_keys/version", {"algorithm": 5, "auth_data": {}}), 400,
                 "M_BAD_JSON", "algorithm not a string")
    expect_eq(info(alice)["version"], "2", "no version created by bad requests")

    # Deleting: the keys go, the previous version becomes current, deleting again succeeds.
    expect_ok(alice.put(session_path(ROOM, "s"), key(0), query={"version": "2"}), "store a key")
    expect_ok(alice.delete("/room_keys/version/2"), "delete version")
    expect_ok(alice.delete("/room_keys/version/2"), "deleting a deleted version succeeds (spec)")
    expect_error(alice.delete("/room_keys/version/5"), 404, "M_NOT_FOUND", "delete unknown version")
    expect_error(alice.get("/room_keys/version/2"), 404, "M_NOT_FOUND", "deleted version is gone")
    expect_error(alice.get("/room_keys/keys", query={"version": "2"}), 404, "M_NOT_FOUND",
                 "keys of a deleted version")
    expect_eq(info(alice)["version"], "1", "older version is current again")
    expect_eq(new_version(alice), "3", "deleted numbers are not reused")
    expect_ok(alice.delete("/room_keys/version/3"))
    expect_ok(alice.delete("/room_keys/version/1"))
    err = expect_error(alice.get("/room_keys/version"), 404, "M_NOT_FOUND", "all deleted")
    expect_eq(err["error"], "No backup found", "error text as Synapse")
    # Someone else's backup is not visible.
    expect_error(alice.get("/room_keys/keys", query={"version": "1"}), 404, "M_NOT_FOUND",
                 "bob's version 1 is not alice's")
    expect_eq(info(bob)["version"], "1", "bob unaffected")


@e2e_test
def room_keys_upload_and_replacement(ctx):
    alice = ctx.user()
    v = new_version(alice)
    ver = {"version": v}
    etag0 = info(alice)["etag"]

    # The three PUT shapes.
    r1 = expect_ok(alice.put(session_path(ROOM, "s1"), key(5, 2, tag="first"), query=ver))
    expect_eq(r1["count"], 1, "count after one key")
    expect(r1["etag"] != etag0, "etag changed on insert")
    r2 = expect_ok(alice.put(f"/room_keys/keys/{q(ROOM)}", {"sessions": {"s2": key(0, tag="s2")}}, query=ver))
    expect_eq(r2["count"], 2, "count after a room upload")
    r3 = expect_ok(alice.put("/room_keys/keys", {"rooms": {ROOM2: {"sessions": {"s3": key(0, tag="s3")}}}},
                             query=ver))
    expect_eq(r3["count"], 3, "count after a rooms upload")
    expect(len({etag0, r1["etag"], r2["etag"], r3["etag"]}) == 4, "every change moves the etag")
    expect_eq(info(alice)["count"], 3, "version count")
    expect_eq(info(alice)["etag"], r3["etag"], "version etag")

    # GET at three levels.
    expect_eq(expect_ok(alice.get(session_path(ROOM, "s1"), query=ver)), key(5, 2, tag="first"), "one session")
    room = expect_ok(alice.get(f"/room_keys/keys/{q(ROOM)}", query=ver))
    expect_eq(sorted(room["sessions"]), ["s1", "s2"], "a room's sessions")
    everything = stored(alice, v)
    expect_eq(sorted(everything["rooms"]), sorted([ROOM, ROOM2]), "all rooms")
    expect_eq(everything["rooms"][ROOM2]["sessions"]["s3"], key(0, tag="s3"), "key as stored")
    expect_error(alice.get(session_path(ROOM, "nope"), query=ver), 404, "M_NOT_FOUND", "unknown session")
    expect_eq(expect_ok(alice.get(f"/room_keys/keys/{q('!empty:localhost')}", query=ver)), {"sessions": {}},
              "a room without keys")

    # Replacement rule: worse keys are dropped without moving the etag.
    def put(k):
        return expect_ok(alice.put(session_path(ROOM, "s1"), k, query=ver))

    def current_tag():
        return expect_ok(alice.get(session_path(ROOM, "s1"), query=ver))["session_data"]["ciphertext"]

    etag = r3["etag"]
    for worse in (key(6, 0, tag="higher-index"), key(5, 3, tag="more-forwarded"), key(5, 2, tag="same")):
        r = put(worse)
        expect_eq(r["etag"], etag, f"etag kept for {worse['session_data']['ciphertext']}")
        expect_eq(r["count"], 3, "count unchanged")
        expect_eq(current_tag(), "first", "existing key kept")
    for better in (key(5, 1, tag="less-forwarded"), key(4, 9, tag="lower-index"), key(9, 9, True, tag="verified")):
        r = put(better)
        expect(r["etag"] != etag, "etag moves on replacement")
        etag = r["etag"]
        expect_eq(current_tag(), better["session_data"]["ciphertext"], "better key replaces")
    r = put(key(0, 0, False, tag="unverified"))
    expect_eq(r["etag"], etag, "unverified never replaces verified")
    expect_eq(current_tag(), "verified", "verified kept")

    # Deleting keys at three levels.
    r = expect_ok(alice.delete(session_path(ROOM, "s2"), query=ver))
    expect_eq(r["count"], 2, "one session deleted")
    expect(r["etag"] != etag, "etag moves on delete")
    r = expect_ok(alice.delete(f"/room_keys/keys/{q(ROOM2)}", query=ver))
    expect_eq(r["count"], 1, "a room deleted")
    r = expect_ok(alice.delete("/room_keys/keys", query=ver))
    expect_eq(r["count"], 0, "all deleted")
    expect_eq(stored(alice, v), {"rooms": {}}, "nothing left")
    expect_error(alice.delete("/room_keys/keys", query={"version": "42"}), 404, "M_NOT_FOUND",
                 "delete from unknown version")


@e2e_test
def room_keys_wrong_version_and_bad_bodies(ctx):
    alice = ctx.user()
    expect_error(alice.put(session_path(ROOM, "s"), key(0), query={"version": "1"}), 404, "M_NOT_FOUND",
                 "upload without any backup")
    old = new_version(alice)
    expect_ok(alice.put(session_path(ROOM, "s"), key(0), query={"version": old}))
    cur = new_version(alice)
    body = expect_error(alice.put(session_path(ROOM, "t"), key(0), query={"version": old}), 403,
                        "M_WRONG_ROOM_KEYS_VERSION", "upload to an old version")
    expect_eq(body.get("current_version"), cur, "current_version in the error")
    expect_error(alice.put("/room_keys/keys", {"rooms": {}}, query={"version": "99"}), 404, "M_NOT_FOUND",
                 "upload to an unknown version")
    # Old versions stay readable and deletable.
    expect_eq(sorted(stored(alice, old)["rooms"][ROOM]["sessions"]), ["s"], "old version readable")

    ver = {"version": cur}
    expect_error(alice.put(session_path(ROOM, "s"), key(0)), 400, "M_MISSING_PARAM", "no version param")
    expect_error(alice.get("/room_keys/keys"), 400, "M_MISSING_PARAM", "GET without version")
    expect_error(alice.delete("/room_keys/keys"), 400, "M_MISSING_PARAM", "DELETE without version")
    bad = [
        ({k: v for k, v in key(0).items() if k != "session_data"}, "M_MISSING_PARAM", "no session_data"),
        ({k: v for k, v in key(0).items() if k != "is_verified"}, "M_MISSING_PARAM", "no is_verified"),
        (dict(key(0), first_message_index="1"), "M_BAD_JSON", "index as a string"),
        (dict(key(0), first_message_index=1.5), "M_BAD_JSON", "index as a float"),
        (dict(key(0), forwarded_count=-1), "M_BAD_JSON", "negative count"),
        (dict(key(0), is_verified="yes"), "M_BAD_JSON", "is_verified not a bool"),
        (dict(key(0), session_data="b64"), "M_BAD_JSON", "session_data not an object"),
    ]
    for k, errcode, what in bad:
        expect_error(alice.put(session_path(ROOM, "s"), k, query=ver), 400, errcode, what)
        # A bad key among good ones stores none of them.
        expect_error(alice.put("/room_keys/keys", {"rooms": {ROOM: {"sessions": {"good": key(0), "bad": k}}}},
                               query=ver), 400, errcode, what + " (in a batch)")
    expect_error(alice.put("/room_keys/keys", {"rooms": {ROOM: []}}, query=ver), 400, "M_BAD_JSON", "room not object")
    expect_error(alice.put("/room_keys/keys", {"rooms": []}, query=ver), 400, "M_BAD_JSON", "rooms not object")
    expect_error(alice.put("/room_keys/keys", {}, query=ver), 400, "M_MISSING_PARAM", "no rooms")
    expect_error(alice.put(f"/room_keys/keys/{q(ROOM)}", {"sessions": 3}, query=ver), 400, "M_BAD_JSON",
                 "sessions not object")
    expect_error(alice.put(f"/room_keys/keys/{q(ROOM)}", {}, query=ver), 400, "M_MISSING_PARAM", "no sessions")
    expect_error(alice.put(session_path(ROOM, "s"), raw=b"not json", query=ver), 400, "M_NOT_JSON", "not json")
    got = info(alice)
    expect_eq((got["count"], stored(alice, cur)), (0, {"rooms": {}}), "refused uploads store nothing")
    expect_error(alice.get("/room_keys/version", token="bogus"), 401, "M_UNKNOWN_TOKEN", "auth required")

