"""Cross-signing (client-server API "End-to-End Encryption" > "Cross-signing"):
POST /keys/device_signing/upload (first upload without UIA, UIA on replacement, identical
re-upload free, invalid keys and signatures refused with nothing stored), POST
/keys/signatures/upload (self-signing key on own devices, devices on the master key, the
user-signing key on another user's master key; failures per entry, the others stored), the
cross-signing parts of /keys/query (user_signing_keys and user-signing signatures only for
their owner), and device_lists.changed in another user's /sync.
"""

import json

import olm

from harness import e2e_test, expect, expect_eq, expect_error, expect_ok, expect_status
from test_e2ee import canonical, device_keys, password_auth


# ---------------------------------------------------------------------------------------------
# helpers


class CSKey:
    """A cross-signing key pair (olm.PkSigning); its key id names its public key."""

    def __init__(self):
        self.signing = olm.PkSigning(olm.PkSigning.generate_seed())
        self.pub = self.signing.public_key
        self.key_id = f"ed25519:{self.pub}"

    def sign(self, user_id, obj):
        unsigned = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
        out = json.loads(json.dumps(obj))
        out.setdefault("signatures", {}).setdefault(user_id, {})[self.key_id] = \
            self.signing.sign(canonical(unsigned))
        return out

    def key(self, user_id, usage, signer=None):
        obj = {"user_id": user_id, "usage": [usage], "keys": {self.key_id: self.pub}}
        return signer.sign(user_id, obj) if signer else obj


def make_keys(user):
    """A fresh master, self-signing and user-signing key for `user`, as an upload body."""
    master, ssk, usk = CSKey(), CSKey(), CSKey()
    body = {"master_key": master.key(user.user_id, "master"),
            "self_signing_key": ssk.key(user.user_id, "self_signing", master),
            "user_signing_key": usk.key(user.user_id, "user_signing", master)}
    return (master, ssk, usk), body


def upload(user, body):
    return user.post("/keys/device_signing/upload", body)


def query(user, *users):
    return expect_ok(user.post("/keys/query", {"device_keys": {u.user_id: [] for u in users}}),
                     "keys/query")


def sign_device(user, account, obj):
    """`obj` signed by the user's device (olm account) as ed25519:<device_id>."""
    unsigned = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    out = json.loads(json.dumps(obj))
    out.setdefault("signatures", {}).setdefault(user.user_id, {})[f"ed25519:{user.device_id}"] = \
        account.sign(canonical(unsigned))
    return out


# ---------------------------------------------------------------------------------------------
# tests


@e2e_test
def cross_signing_upload_and_uia(ctx):
    alice, bob = ctx.user(), ctx.user()
    (master, ssk, usk), body = make_keys(alice)
    # First upload: no UIA (MSC3967, as Synapse).
    expect_eq(expect_ok(upload(alice, body), "first upload"), {}, "answer")
    got = query(alice, alice)
    expect_eq(got["master_keys"][alice.user_id], body["master_key"], "master key")
    expect_eq(got["self_signing_keys"][alice.user_id], body["self_signing_key"], "self-signing key")
    expect_eq(got["user_signing_keys"][alice.user_id], body["user_signing_key"], "user-signing key")
    # Others see the master and self-signing keys, never the user-signing key.
    got = query(bob, alice)
    expect_eq(got["master_keys"][alice.user_id], body["master_key"], "bob: master key")
    expect_eq(got["self_signing_keys"][alice.user_id], body["self_signing_key"], "bob: ssk")
    expect(alice.user_id not in got.get("user_signing_keys", {}), f"bob sees no usk: {got}")
    # The same keys again: nothing changes, no UIA.
    expect_ok(upload(alice, body), "identical re-upload")
    # Replacing them needs the password.
    (master2, ssk2, usk2), body2 = make_keys(alice)
    challenge = expect_status(upload(alice, body2), 401, "replacement without auth")
    expect_eq(challenge["flows"], [{"stages": ["m.login.password"]}], "flows")
    wrong = upload(alice, {**body2, "auth": password_auth(alice, challenge["session"], "nope")})
    expect_eq(expect_status(wrong, 401, "wrong password").get("errcode"), "M_FORBIDDEN", "errcode")
    expect_eq(query(alice, alice)["master_keys"][alice.user_id], body["master_key"],
              "unchanged without auth")
    expect_ok(upload(alice, {**body2, "auth": password_auth(alice, challenge["session"])}),
              "replacement with auth")
    got = query(alice, alice)
    expect_eq(got["master_keys"][alice.user_id], body2["master_key"], "new master key")
    expect_eq(got["user_signing_keys"][alice.user_id], body2["user_signing_key"], "new usk")
    # A user without keys has no entries.
    got = query(alice, bob)
    expect(bob.user_id not in got["master_keys"], f"bob has no master key: {got}")


@e2e_test
def cross_signing_upload_errors_change_nothing(ctx):
    carol = ctx.user()
    (master, ssk, usk), body = make_keys(carol)
    other = CSKey()

    def nothing_stored(what):
        got = query(carol, carol)
        expect(carol.user_id not in got["master_keys"], f"{what}: nothing stored {got}")
        expect(carol.user_id not in got["self_signing_keys"], f"{what}: no ssk {got}")

    # The self-signing key signed by another key, not the master key.
    bad = {**body, "self_signing_key": ssk.key(carol.user_id, "self_signing", other)}
    expect_error(upload(carol, bad), 400, "M_INVALID_SIGNATURE", "ssk not signed by master")
    nothing_stored("bad ssk signature")
    unsigned = {**body, "user_signing_key": usk.key(carol.user_id, "user_signing")}
    expect_error(upload(carol, unsigned), 400, "M_INVALID_SIGNATURE", "usk unsigned")
    nothing_stored("unsigned usk")
    # Wrong user, wrong usage, malformed keys.
    bob = ctx.user()
    expect_error(upload(carol, {**body, "master_key": master.key(bob.user_id, "master")}), 400,
                 "M_INVALID_PARAM", "someone else's user id")
    expect_error(upload(carol, {**body, "master_key": master.key(carol.user_id, "self_signing")}),
                 400, "M_INVALID_PARAM", "wrong usage")
    two = master.key(carol.user_id, "master")
    two["keys"]["ed25519:extra"] = other.pub
    expect_error(upload(carol, {**body, "master_key": two}), 400, "M_INVALID_PARAM", "two keys")
    misnamed = {"user_id": carol.user_id, "usage": ["master"], "keys": {"ed25519:NAME": master.pub}}
    expect_error(upload(carol, {**body, "master_key": misnamed}), 400, "M_INVALID_PARAM",
                 "key id not the public key")
    nothing_stored("invalid keys")
    # No master key anywhere.
    expect_error(upload(carol, {"self_signing_key": body["self_signing_key"]}), 400,
                 "M_MISSING_PARAM", "no master key")
    nothing_stored("no master key")
    # Once set up, a bad self-signing key is refused before any UIA, keys unchanged.
    expect_ok(upload(carol, body), "valid upload")
    bad = {"self_signing_key": CSKey().key(carol.user_id, "self_signing", other)}
    expect_error(upload(carol, bad), 400, "M_INVALID_SIGNATURE", "later bad ssk")
    expect_eq(query(carol, carol)["self_signing_keys"][carol.user_id], body["self_signing_key"],
              "ssk unchanged")


@e2e_test
def cross_signing_signatures_upload_and_query(ctx):
    alice, bob, carol = ctx.user(), ctx.user(), ctx.user()
    account, dk = device_keys(alice)
    expect_ok(alice.post("/keys/upload", {"device_keys": dk}), "alice device keys")
    (a_master, a_ssk, a_usk), a_body = make_keys(alice)
    expect_ok(upload(alice, a_body), "alice cross-signing keys")
    (b_master, b_ssk, b_usk), b_body = make_keys(bob)
    expect_ok(upload(bob, b_body), "bob cross-signing keys")

    # Alice's device signed by her self-signing key, her master key signed by her device; an
    # unknown device and a bad signature fail on their own.
    signed_dev = a_ssk.sign(alice.user_id, dk)
    signed_master = sign_device(alice, account, a_body["master_key"])
    forged = dict(dk, signatures={alice.user_id: {a_ssk.key_id: "AAAA"}})
    unknown = a_ssk.sign(alice.user_id, dict(dk, device_id="NOPE"))
    reply = expect_ok(alice.post("/keys/signatures/upload", {alice.user_id: {
        alice.device_id: signed_dev, a_master.pub: signed_master}}), "own signatures")
    expect_eq(reply["failures"], {}, "no failures")
    reply = expect_ok(alice.post("/keys/signatures/upload", {alice.user_id: {
        alice.device_id: forged, "NOPE": unknown}}), "bad own signatures")
    expect_eq(reply["failures"][alice.user_id][alice.device_id]["errcode"], "M_INVALID_SIGNATURE",
              "forged signature")
    expect_eq(reply["failures"][alice.user_id]["NOPE"]["errcode"], "M_NOT_FOUND", "unknown device")

    got = query(carol, alice)
    sigs = got["device_keys"][alice.user_id][alice.device_id]["signatures"][alice.user_id]
    expect_eq(sigs.get(a_ssk.key_id), signed_dev["signatures"][alice.user_id][a_ssk.key_id],
              "device signed by the self-signing key (not the forged one)")
    expect(f"ed25519:{alice.device_id}" in sigs, "the device's own signature kept")
    msigs = got["master_keys"][alice.user_id]["signatures"][alice.user_id]
    expect(f"ed25519:{alice.device_id}" in msigs, f"master signed by the device: {msigs}")

    # Alice signs bob's master key with her user-signing key; bob's device can't be signed so.
    signed_bob = a_usk.sign(alice.user_id, b_body["master_key"])
    bad_bob = b_body["master_key"] | {"signatures": {alice.user_id: {a_usk.key_id: "AAAA"}}}
    reply = expect_ok(alice.post("/keys/signatures/upload", {bob.user_id: {b_master.pub: signed_bob},
                                                             carol.user_id: {"X": {"a": 1}}}),
                      "user-signing signature")
    expect_eq(list(reply["failures"].keys()), [carol.user_id], "only carol (no master key) fails")
    expect_eq(reply["failures"][carol.user_id]["X"]["errcode"], "M_NOT_FOUND", "no master key")
    reply = expect_ok(alice.post("/keys/signatures/upload", {bob.user_id: {b_master.pub: bad_bob}}),
                      "bad user-signing signature")
    expect_eq(reply["failures"][bob.user_id][b_master.pub]["errcode"], "M_INVALID_SIGNATURE",
              "bad signature of bob's master key")
    # Only alice sees her signature of bob's master key.
    got = query(alice, bob)
    expect_eq(got["master_keys"][bob.user_id]["signatures"].get(alice.user_id, {}).get(a_usk.key_id),
              signed_bob["signatures"][alice.user_id][a_usk.key_id], "alice sees her signature")
    got = query(carol, bob)
    expect(alice.user_id not in got["master_keys"][bob.user_id].get("signatures", {}),
           f"carol does not see alice's signature: {got['master_keys']}")
    got = query(bob, bob)
    expect(alice.user_id not in got["master_keys"][bob.user_id].get("signatures", {}), "nor bob")
    # Carol has no user-signing key: her signature of bob's master key fails.
    reply = expect_ok(carol.post("/keys/signatures/upload", {bob.user_id: {b_master.pub: signed_bob}}),
                      "no user-signing key")
    expect_eq(reply["failures"][bob.user_id][b_master.pub]["errcode"], "M_NOT_FOUND", "no usk")
    # Malformed bodies fail as a whole.
    expect_error(alice.post("/keys/signatures/upload", {bob.user_id: "x"}), 400, "M_INVALID_PARAM",
                 "entries not an object")


@e2e_test
def cross_signing_changes_reach_device_lists(ctx):
    alice, bob = ctx.user(), ctx.user()
    room = alice.create_room()
    alice.invite(room, bob)
    bob.join(room)
    since = bob.sync()["next_batch"]
    (master, ssk, usk), body = make_keys(alice)
    expect_ok(upload(alice, body), "upload")
    later = bob.sync(since=since)
    expect(alice.user_id in later["device_lists"]["changed"],
           f"bob sees alice's new cross-signing keys: {later['device_lists']}")
    account, dk = device_keys(alice)
    expect_ok(alice.post("/keys/upload", {"device_keys": dk}), "device keys")
    since = bob.sync(since=later["next_batch"])["next_batch"]
    reply = expect_ok(alice.post("/keys/signatures/upload",
                                 {alice.user_id: {alice.device_id: ssk.sign(alice.user_id, dk)}}),
                      "sign device")
    expect_eq(reply["failures"], {}, "no failures")
    later = bob.sync(since=since)
    expect(alice.user_id in later["device_lists"]["changed"],
           f"bob sees alice's device signature: {later['device_lists']}")


@e2e_test
def cross_signing_unstable_paths(ctx):
    # Older clients use /unstable for both uploads; the same handlers answer.
    alice = ctx.user()
    (master, ssk, usk), body = make_keys(alice)
    expect_ok(alice.post("/_matrix/client/unstable/keys/device_signing/upload", body),
              "unstable device_signing/upload")
    got = query(alice, alice)
    expect_eq(got["master_keys"][alice.user_id], body["master_key"], "stored through /unstable")
    s = expect_status(alice.post("/_matrix/client/unstable/keys/device_signing/upload",
                                 make_keys(alice)[1]), 401, "UIA on replacement")["session"]
    expect(bool(s), "a UIA session")
    account, dk = device_keys(alice)
    expect_ok(alice.post("/keys/upload", {"device_keys": dk}), "device keys")
    resp = expect_ok(alice.post("/_matrix/client/unstable/keys/signatures/upload",
                                {alice.user_id: {alice.device_id: ssk.sign(alice.user_id, dk)}}),
                     "unstable signatures/upload")
    expect_eq(resp.get("failures"), {}, "no failures")
    # Other endpoints are not under /unstable.
    expect_error(alice.post("/_matrix/client/unstable/keys/query", {"device_keys": {}}), 404,
                 "M_UNRECOGNIZED", "only the two cross-signing uploads")
