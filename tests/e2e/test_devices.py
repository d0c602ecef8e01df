"""Raw-HTTP tests of device management: user-interactive auth with another user's password,
and what GET /devices reports (display_name, last_seen_ip, last_seen_ts)."""

import time

from harness import (e2e_test, expect, expect_eq, expect_error, expect_ok, expect_status, q,
                     wait_until)
from test_cross_signing import CSKey


def login(ctx, user, password=None, device_id=None, **kw):
    body = {"type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": user.localpart},
            "password": password or user.password}
    if device_id:
        body["device_id"] = device_id
    return expect_ok(ctx.api.post("/login", body, **kw), "login")


def auth(user, password, session):
    return {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user.user_id},
            "password": password, "session": session}


def session_of(resp, what):
    return expect_status(resp, 401, what)["session"]


@e2e_test
def uia_with_another_users_password_is_forbidden(ctx):
    alice, mallory = ctx.user(), ctx.user()
    second = login(ctx, alice)["device_id"]
    victim = login(ctx, alice)["device_id"]

    # DELETE /devices/{id}: Mallory's own correct password does not prove Alice.
    s = session_of(alice.delete(f"/devices/{q(second)}"), "challenge")
    body = {"auth": auth(mallory, mallory.password, s)}
    expect_error(alice.request("DELETE", f"/devices/{q(second)}", body=body), 403, "M_FORBIDDEN",
                 "DELETE /devices with another user's password")
    # The other user's wrong password is a failed stage, as for any wrong password.
    s = session_of(alice.delete(f"/devices/{q(second)}"), "challenge")
    wrong = expect_status(alice.request("DELETE", f"/devices/{q(second)}",
                                        body={"auth": auth(mallory, "nope", s)}), 401, "wrong")
    expect_eq(wrong.get("errcode"), "M_FORBIDDEN", "a failed stage's errcode")
    expect_eq(wrong.get("session"), s, "the same session")

    s = session_of(alice.post("/delete_devices", {"devices": [second]}), "challenge")
    expect_error(alice.post("/delete_devices", {"devices": [second, victim],
                                                 "auth": auth(mallory, mallory.password, s)}),
                 403, "M_FORBIDDEN", "POST /delete_devices with another user's password")

    s = session_of(alice.post("/account/password", {"new_password": "x"}), "challenge")
    expect_error(alice.post("/account/password", {"new_password": "x",
                                                   "auth": auth(mallory, mallory.password, s)}),
                 403, "M_FORBIDDEN", "password change with another user's password")

    s = session_of(alice.post("/account/deactivate", {}), "challenge")
    expect_error(alice.post("/account/deactivate", {"auth": auth(mallory, mallory.password, s)}),
                 403, "M_FORBIDDEN", "deactivation with another user's password")

    # Cross-signing keys replaced once some exist: UIA needed.
    master = CSKey().key(alice.user_id, "master")
    expect_ok(alice.post("/keys/device_signing/upload", {"master_key": master}), "first master key")
    other = CSKey().key(alice.user_id, "master")
    s = session_of(alice.post("/keys/device_signing/upload", {"master_key": other}), "challenge")
    expect_error(alice.post("/keys/device_signing/upload",
                            {"master_key": other, "auth": auth(mallory, mallory.password, s)}),
                 403, "M_FORBIDDEN", "cross-signing upload with another user's password")

    # Nothing changed.
    ids = sorted(d["device_id"] for d in expect_ok(alice.get("/devices"))["devices"])
    expect_eq(ids, sorted([alice.device_id, second, victim]), "no device deleted")
    login(ctx, alice)  # the password is unchanged
    expect_ok(alice.get("/account/whoami"), "not deactivated")
    # And Alice's own password still works in a fresh session.
    s = session_of(alice.delete(f"/devices/{q(second)}"), "challenge")
    expect_ok(alice.request("DELETE", f"/devices/{q(second)}",
                            body={"auth": auth(alice, alice.password, s)}), "own password")


@e2e_test
def devices_report_last_seen_ip_and_ts(ctx):
    alice = ctx.user()
    before = int(time.time() * 1000)
    second = login(ctx, alice, device_id="SEEN2")
    # Every field is present, null when unknown.
    fresh = expect_ok(ctx.api.get("/devices/SEEN2", token=second["access_token"]), "GET device")
    expect_eq(sorted(fresh), ["device_id", "display_name", "last_seen_ip", "last_seen_ts"],
              "the fields of a device")
    expect_eq(fresh["display_name"], None, "no display name: null")
    expect_eq(fresh["last_seen_ip"], "127.0.0.1", "the request itself is a sighting")
    expect(fresh["last_seen_ts"] >= before - 1000, f"last_seen_ts {fresh}")

    # Sightings are written in batches every 5 s: an instance that did not see the request
    # itself (workers) reads it from the database after the next flush, as in Synapse.
    def list_devices():
        return {d["device_id"]: d for d in expect_ok(alice.get("/devices"))["devices"]}
    def listed_with_sightings():
        listed = list_devices()
        return listed if all(d["last_seen_ip"] for d in listed.values()) else None
    listed = wait_until(listed_with_sightings, timeout=15) or list_devices()
    expect_eq(set(listed), {alice.device_id, "SEEN2"}, "both devices")
    for d in listed.values():
        expect_eq(sorted(d), ["device_id", "display_name", "last_seen_ip", "last_seen_ts"],
                  f"fields of {d['device_id']}")
        expect_eq(d["last_seen_ip"], "127.0.0.1", f"{d['device_id']} seen from loopback")
        expect(isinstance(d["last_seen_ts"], int), f"{d['device_id']} last_seen_ts {d}")

    # whois: the user themselves, with each connection's user agent.
    expect_ok(ctx.api.get("/account/whoami", token=second["access_token"],
                          headers={"User-Agent": "axon-e2e-agent/1.0"}))
    for path in (f"/_synapse/admin/v1/whois/{q(alice.user_id)}",
                 f"/_matrix/client/v3/admin/whois/{q(alice.user_id)}"):
        def whois_with_agent():
            who = expect_ok(alice.get(path), path)
            conns = who["devices"][""]["sessions"][0]["connections"]
            return who if "axon-e2e-agent/1.0" in {c["user_agent"] for c in conns} else None
        # (another instance's batch, see above)
        who = wait_until(whois_with_agent, timeout=15) or expect_ok(alice.get(path), path)
        expect_eq(who["user_id"], alice.user_id, "whois user_id")
        conns = who["devices"][""]["sessions"][0]["connections"]
        agents = {c["user_agent"] for c in conns}
        expect("axon-e2e-agent/1.0" in agents, f"the User-Agent is recorded: {conns}")
        expect(all(c["ip"] == "127.0.0.1" and isinstance(c["last_seen"], int) for c in conns),
               f"connections {conns}")
    bob = ctx.user()
    expect_error(bob.get(f"/_synapse/admin/v1/whois/{q(alice.user_id)}"), 403, "M_FORBIDDEN",
                 "whois of another user needs a server admin")
    expect_error(alice.get("/_synapse/admin/v1/whois/@x:elsewhere.example"), 403, "M_FORBIDDEN",
                 "a non-admin asking about a remote user")
    expect_error(ctx.api.get(f"/_synapse/admin/v1/whois/{q(alice.user_id)}"), 401,
                 "M_MISSING_TOKEN", "whois needs an access token")

