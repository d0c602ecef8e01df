"""What a layout of several instances must keep whole for a client that talks to more than one
of them (as behind a round-robin proxy): user-interactive auth sessions, logged-out tokens."""

import os

from harness import User, e2e_test, expect, expect_eq, expect_error, expect_ok, layout_test, q, register, workers_layout
from test_faults import Redis


def same_user_on(user, api):
    """The same session (token and device) talking to another instance."""
    return User(api, user.localpart, user.password, user.user_id, user.token, user.device_id)


@layout_test
def sessions_and_tokens_span_instances(ctx):
    redis = Redis(os.path.join(ctx.server.directory, "..", "layout-redis"))
    redis.start()
    main = worker = None
    try:
        main, worker = ctx.start_layout("spans", workers_layout("127.0.0.1", redis.port))
        alice = register(main.api)
        alice_w = same_user_on(alice, worker.api)
        # A second device to delete.
        other = expect_ok(main.api.post("/login", {
            "type": "m.login.password", "password": alice.password,
            "identifier": {"type": "m.id.user", "user": alice.localpart}}), "login")
        path = f"/devices/{q(other['device_id'])}"
        # UIA begun through main ...
        challenge = alice.delete(path)
        expect_eq(challenge.status, 401, "UIA challenge")
        session = challenge.json["session"]
        # ... finished through worker1.
        auth = {"type": "m.login.password", "session": session, "password": alice.password,
                "identifier": {"type": "m.id.user", "user": alice.user_id}}
        expect_ok(alice_w.delete(path, body={"auth": auth}), "UIA completed on another instance")
        # The deleted device's token is refused everywhere, at once (each instance caches
        # tokens; the logout is announced to the others).
        for api, where in ((main.api, "main"), (worker.api, "worker1")):
            resp = api.get("/account/whoami", token=other["access_token"])
            expect_error(resp, 401, "M_UNKNOWN_TOKEN", f"deleted device's token on {where}")
        # Logging out through one instance ends the session on the other.
        expect_eq(expect_ok(alice_w.get("/account/whoami"), "whoami on worker1")["user_id"],
                  alice.user_id, "token works on worker1")
        expect_ok(alice.post("/logout", {}), "logout through main")
        expect_error(alice_w.get("/account/whoami"), 401, "M_UNKNOWN_TOKEN",
                     "logged-out token on worker1")
    finally:
        for s in (worker, main):
            if s:
                s.stop()
        redis.stop()
