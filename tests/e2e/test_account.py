"""Raw-HTTP tests of /account/password and /account/deactivate (user-interactive auth)."""

from harness import (e2e_test, expect, expect_eq, expect_error, expect_ok, expect_status, q)


def login(ctx, user, password):
    return ctx.api.post("/login", {"type": "m.login.password",
                                   "identifier": {"type": "m.id.user", "user": user.localpart},
                                   "password": password})


def auth(user, password, session):
    return {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user.user_id},
            "password": password, "session": session}


@e2e_test
def change_password(ctx):
    alice = ctx.user()
    other = expect_ok(login(ctx, alice, alice.password), "second device")["access_token"]
    first = expect_status(alice.post("/account/password", {"new_password": "new secret"}), 401,
                          "password change without auth")
    session = first["session"]
    expect_eq(first["flows"], [{"stages": ["m.login.password"]}], "flows")
    wrong = alice.post("/account/password", {"new_password": "new secret",
                                              "auth": auth(alice, "wrong", session)})
    expect_eq(expect_status(wrong, 401, "wrong password").get("errcode"), "M_FORBIDDEN", "errcode")
    expect_ok(login(ctx, alice, alice.password), "old password still works after a refused change")
    expect_ok(alice.post("/account/password", {"new_password": "new secret",
                                               "auth": auth(alice, alice.password, session)}))
    expect_error(login(ctx, alice, alice.password), 403, "M_FORBIDDEN", "old password refused")
    expect_ok(login(ctx, alice, "new secret"), "new password accepted")
    expect_ok(alice.get("/account/whoami"), "the changing device stays logged in")
    expect_error(ctx.api.get("/account/whoami", token=other), 401, "M_UNKNOWN_TOKEN",
                 "other devices are logged out")
    caps = expect_ok(alice.get("/capabilities"))["capabilities"]
    expect_eq(caps["m.change_password"], {"enabled": True}, "capability")


@e2e_test
def deactivate_account(ctx):
    alice, bob = ctx.user(), ctx.user()
    room = bob.create_room(preset="public_chat")
    alice.join(room)
    session = expect_status(alice.post("/account/deactivate", {}), 401, "deactivate without auth")["session"]
    expect_ok(alice.post("/account/deactivate", {"auth": auth(alice, alice.password, session)}))
    expect_error(alice.get("/account/whoami"), 401, "M_UNKNOWN_TOKEN", "tokens erased")
    expect_error(login(ctx, alice, alice.password), 403, "M_USER_DEACTIVATED", "login refused")
    member = expect_ok(bob.get(f"/rooms/{q(room)}/state/m.room.member/{q(alice.user_id)}"))
    expect_eq(member.get("membership"), "leave", "deactivated user left the room")


@e2e_test
def password_change_deletes_other_devices_pushers(ctx):
    # Synapse deletes the pushers of the access tokens it deletes.
    alice = ctx.user()
    other = expect_ok(login(ctx, alice, alice.password), "second device")["access_token"]
    kept = expect_ok(login(ctx, alice, alice.password), "third device")["access_token"]

    def pusher(key):
        return {"pushkey": key, "kind": "http", "app_id": "org.example.app",
                "app_display_name": "Example", "device_display_name": "Phone", "lang": "en",
                "data": {"url": "https://push.example.org/_matrix/push/v1/notify"}}

    expect_ok(alice.post("/pushers/set", pusher("mine")))
    expect_ok(ctx.api.post("/pushers/set", pusher("other"), token=other))
    expect_ok(ctx.api.post("/pushers/set", pusher("kept"), token=kept))

    def keys():
        return sorted(p["pushkey"] for p in expect_ok(alice.get("/pushers"))["pushers"])

    session = expect_status(alice.post("/account/password", {"new_password": "second"}), 401)["session"]
    expect_ok(alice.post("/account/password", {"new_password": "second", "logout_devices": False,
                                               "auth": auth(alice, alice.password, session)}))
    expect_eq(keys(), ["kept", "mine", "other"], "logout_devices false keeps every pusher")
    expect_ok(ctx.api.get("/account/whoami", token=other), "and every device")

    session = expect_status(alice.post("/account/password", {"new_password": "third"}), 401)["session"]
    expect_ok(alice.post("/account/password", {"new_password": "third",
                                               "auth": auth(alice, "second", session)}))
    expect_eq(keys(), ["mine"], "the other devices' pushers are deleted with their tokens")
    expect_error(ctx.api.get("/account/whoami", token=kept), 401, "M_UNKNOWN_TOKEN", "logged out")


@e2e_test
def logout_deletes_the_tokens_pushers(ctx):
    alice = ctx.user()
    other = expect_ok(login(ctx, alice, alice.password), "second device")["access_token"]
    body = {"pushkey": "k", "kind": "http", "app_id": "org.example.app",
            "app_display_name": "Example", "device_display_name": "Phone", "lang": "en",
            "data": {"url": "https://push.example.org/_matrix/push/v1/notify"}}
    expect_ok(ctx.api.post("/pushers/set", body, token=other))
    expect_eq(len(expect_ok(alice.get("/pushers"))["pushers"]), 1, "registered")
    expect_ok(ctx.api.post("/logout", {}, token=other))
    expect_eq(expect_ok(alice.get("/pushers"))["pushers"], [], "gone with the token")
