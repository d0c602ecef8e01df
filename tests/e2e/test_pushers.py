"""Raw-HTTP tests of the pushers registry (GET /pushers, POST /pushers/set)."""

from harness import e2e_test, expect_eq, expect_error, expect_ok

GATEWAY = "https://push.example.org/_matrix/push/v1/notify"


def pusher(pushkey, **extra):
    body = {"pushkey": pushkey, "kind": "http", "app_id": "org.example.app",
            "app_display_name": "Example", "device_display_name": "Phone", "lang": "en",
            "data": {"url": GATEWAY, "format": "event_id_only"}}
    body.update(extra)
    return body


def listed(user):
    return expect_ok(user.get("/pushers"), "GET /pushers")["pushers"]


@e2e_test
def pushers_registry(ctx):
    alice, bob = ctx.user(), ctx.user()
    expect_eq(listed(alice), [], "no pushers at first")
    expect_ok(alice.post("/pushers/set", pusher("key-a", profile_tag="tag1")))
    got = listed(alice)
    expect_eq(len(got), 1, "one pusher")
    expect_eq(got[0]["pushkey"], "key-a", "pushkey")
    expect_eq(got[0]["data"], {"url": GATEWAY, "format": "event_id_only"}, "data")
    expect_eq(got[0]["profile_tag"], "tag1", "profile_tag")

    # Re-setting updates in place; another key adds one.
    expect_ok(alice.post("/pushers/set", pusher("key-a", device_display_name="Tablet")))
    expect_ok(alice.post("/pushers/set", pusher("key-b")))
    got = {p["pushkey"]: p for p in listed(alice)}
    expect_eq(sorted(got), ["key-a", "key-b"], "two pushers")
    expect_eq(got["key-a"]["device_display_name"], "Tablet", "updated in place")

    # Another user taking the same pushkey without append removes Alice's.
    expect_ok(bob.post("/pushers/set", pusher("key-b")))
    expect_eq([p["pushkey"] for p in listed(alice)], ["key-a"], "key-b moved to bob")
    expect_ok(alice.post("/pushers/set", pusher("key-a", append=True)))

    # kind null deletes.
    expect_ok(alice.post("/pushers/set", {"pushkey": "key-a", "app_id": "org.example.app", "kind": None}))
    expect_eq(listed(alice), [], "deleted")

    # Errors change nothing.
    before = listed(bob)
    expect_error(bob.post("/pushers/set", {"pushkey": "k", "kind": "http"}), 400, "M_MISSING_PARAM",
                 "missing app_id")
    expect_error(bob.post("/pushers/set", pusher("k", data={"url": "https://x/other"})), 400,
                 "M_INVALID_PARAM", "url not a push gateway")
    expect_error(bob.post("/pushers/set", pusher("k", data={})), 400, "M_MISSING_PARAM", "no url")
    expect_error(bob.post("/pushers/set", pusher("k", kind="smoke")), 400, "M_UNKNOWN", "unknown kind")
    expect_error(bob.post("/pushers/set", pusher("k", lang="much-too-long")), 400, "M_INVALID_PARAM",
                 "lang too long")
    expect_eq(listed(bob), before, "refused requests change nothing")
