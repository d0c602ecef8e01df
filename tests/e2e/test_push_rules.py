"""Push rules (spec "Push Notifications" > "Push Rules: API", pushrules.yaml): the server-default
ruleset, user rules with before/after, enabled and actions, DELETE, errors that change nothing,
and the m.push_rules account data in /sync (initial, incremental, long-poll wake-up)."""

import concurrent.futures
import time

from harness import e2e_test, expect, expect_eq, expect_error, expect_ok, q

WAKE_UP_LIMIT_S = 1.0  # a long-polling /sync must return within this of a change


def rule_path(kind, rule_id, attr=None):
    path = f"/pushrules/global/{kind}/{q(rule_id)}"
    return path if attr is None else f"{path}/{attr}"


def ids(rules):
    return [r["rule_id"] for r in rules]


def find(rules, rule_id):
    return next((r for r in rules if r["rule_id"] == rule_id), None)


def push_rules_in(sync):
    """The content of the m.push_rules global account data of a /sync, or None."""
    for e in sync.get("account_data", {}).get("events", []):
        if e["type"] == "m.push_rules":
            return e["content"]
    return None


def put_rule(user, kind, rule_id, body, **query):
    expect_eq(expect_ok(user.put(rule_path(kind, rule_id), body, query=query or None),
                        f"PUT {kind}/{rule_id}"), {}, f"PUT {kind}/{rule_id} reply")


@e2e_test
def push_rules_defaults(ctx):
    alice = ctx.user()
    everything = expect_ok(alice.get("/pushrules/"), "GET /pushrules/")
    expect_eq(sorted(everything), ["global"], "top-level keys")
    rules = everything["global"]
    expect_eq(expect_ok(alice.get("/pushrules/global/"), "GET /pushrules/global/"), rules,
              "GET /pushrules/global/ is the global ruleset")
    for kind in ("override", "content", "room", "sender", "underride"):
        expect(isinstance(rules.get(kind), list), f"{kind} is a list")
    master = rules["override"][0]
    expect_eq((master["rule_id"], master["enabled"], master["default"]), (".m.rule.master", False, True),
              ".m.rule.master first and disabled")
    for rid in (".m.rule.is_user_mention", ".m.rule.contains_display_name", ".m.rule.suppress_notices"):
        expect(find(rules["override"], rid) is not None, f"{rid} among the override defaults")
    expect(find(rules["content"], ".m.rule.contains_user_name") is not None, "contains_user_name")
    expect(find(rules["underride"], ".m.rule.message") is not None, ".m.rule.message")
    user_name = find(rules["content"], ".m.rule.contains_user_name")
    expect_eq(user_name["pattern"], alice.localpart, "contains_user_name pattern is the localpart")
    got = expect_ok(alice.get(rule_path("override", ".m.rule.master")), "GET master")
    expect_eq(got, master, "GET one rule")
    expect_eq(expect_ok(alice.get(rule_path("override", ".m.rule.master", "enabled"))),
              {"enabled": False}, "GET master/enabled")
    expect_eq(expect_ok(alice.get(rule_path("underride", ".m.rule.message", "actions"))),
              {"actions": find(rules["underride"], ".m.rule.message")["actions"]},
              "GET message/actions")
    # The initial /sync carries the ruleset as m.push_rules.
    expect_eq(push_rules_in(alice.sync()), everything, "m.push_rules in the initial /sync")


@e2e_test
def push_rules_put_enable_actions_delete(ctx):
    alice = ctx.user()
    head = alice.sync()["next_batch"]
    quiet = alice.sync(since=head)
    expect(push_rules_in(quiet) is None, "no m.push_rules in a /sync without changes")

    put_rule(alice, "content", "cats", {"pattern": "cat*", "actions": ["notify"]})
    put_rule(alice, "content", "dogs", {"pattern": "dog", "actions": ["notify"]})
    put_rule(alice, "content", "fish", {"pattern": "fish", "actions": ["notify"]}, after="cats")
    put_rule(alice, "content", "birds", {"pattern": "bird", "actions": []}, before="dogs")
    content = expect_ok(alice.get("/pushrules/"))["global"]["content"]
    expect_eq(ids(content)[:4], ["birds", "dogs", "cats", "fish"], "user content rules by priority")
    expect_eq(ids(content)[4:], [".m.rule.contains_user_name"], "defaults after user rules")
    cats = expect_ok(alice.get(rule_path("content", "cats")), "GET cats")
    expect_eq(cats, {"rule_id": "cats", "default": False, "enabled": True, "pattern": "cat*",
                     "actions": ["notify"]}, "GET cats")

    cond = [{"kind": "event_match", "key": "content.body", "pattern": "hello"}]
    put_rule(alice, "override", "hello", {"conditions": cond, "actions": ["notify"]})
    override = expect_ok(alice.get("/pushrules/global/"))["override"]
    expect_eq(ids(override)[:2], [".m.rule.master", "hello"], "user override rules after master")
    expect_eq(find(override, "hello")["conditions"], cond, "conditions stored")

    inc = alice.sync(since=head)
    pr = push_rules_in(inc)
    expect(pr is not None, "m.push_rules in the incremental /sync after changes")
    expect_eq(ids(pr["global"]["content"])[:4], ["birds", "dogs", "cats", "fish"], "synced rules")
    head = inc["next_batch"]

    expect_ok(alice.put(rule_path("content", "cats", "enabled"), {"enabled": False}))
    expect_eq(expect_ok(alice.get(rule_path("content", "cats", "enabled"))), {"enabled": False},
              "cats disabled")
    expect_ok(alice.put(rule_path("override", ".m.rule.master", "enabled"), {"enabled": True}))
    expect_eq(expect_ok(alice.get(rule_path("override", ".m.rule.master", "enabled"))),
              {"enabled": True}, "master enabled")
    actions = ["notify", {"set_tweak": "sound", "value": "ping"}]
    expect_ok(alice.put(rule_path("content", "dogs", "actions"), {"actions": actions}))
    expect_eq(expect_ok(alice.get(rule_path("content", "dogs", "actions"))), {"actions": actions},
              "dogs actions")
    expect_ok(alice.put(rule_path("underride", ".m.rule.message", "actions"), {"actions": []}))
    inc = alice.sync(since=head)
    pr = push_rules_in(inc)
    expect(pr is not None, "m.push_rules after enabled/actions changes")
    expect_eq(find(pr["global"]["content"], "cats")["enabled"], False, "synced enabled")
    expect_eq(pr["global"]["override"][0]["enabled"], True, "synced master")
    expect_eq(find(pr["global"]["content"], "dogs")["actions"], actions, "synced actions")
    expect_eq(find(pr["global"]["underride"], ".m.rule.message")["actions"], [], "synced default actions")
    head = inc["next_batch"]

    expect_eq(expect_ok(alice.delete(rule_path("content", "dogs"))), {}, "DELETE dogs")
    expect_error(alice.get(rule_path("content", "dogs")), 404, "M_NOT_FOUND", "deleted rule")
    expect_error(alice.delete(rule_path("content", "dogs")), 404, "M_NOT_FOUND", "deleted twice")
    content = expect_ok(alice.get("/pushrules/"))["global"]["content"]
    expect_eq(ids(content)[:3], ["birds", "cats", "fish"], "after DELETE")
    pr = push_rules_in(alice.sync(since=head))
    expect(pr is not None and find(pr["global"]["content"], "dogs") is None, "DELETE in /sync")

    # Bob is unaffected.
    bob = ctx.user()
    bob_rules = expect_ok(bob.get("/pushrules/"))["global"]
    expect_eq([r for r in bob_rules["content"] if not r["default"]], [], "bob has no user rules")
    expect_eq(bob_rules["override"][0]["enabled"], False, "bob's master")


@e2e_test
def push_rules_errors_change_nothing(ctx):
    alice = ctx.user()
    put_rule(alice, "content", "cats", {"pattern": "cat*", "actions": ["notify"]})
    before = expect_ok(alice.get("/pushrules/"))
    head = alice.sync()["next_batch"]

    checks = [
        (alice.get(rule_path("content", "nope")), 404, "M_NOT_FOUND", "GET unknown rule"),
        (alice.get(rule_path("content", "nope", "enabled")), 404, "M_NOT_FOUND", "GET unknown enabled"),
        (alice.get(rule_path("content", "nope", "actions")), 404, "M_NOT_FOUND", "GET unknown actions"),
        (alice.put(rule_path("content", "nope", "enabled"), {"enabled": True}), 404, "M_NOT_FOUND",
         "enable unknown rule"),
        (alice.put(rule_path("room", ".m.rule.master", "enabled"), {"enabled": True}), 404,
         "M_NOT_FOUND", "default rule under the wrong kind"),
        (alice.put(rule_path("content", "nope", "actions"), {"actions": ["notify"]}), 404,
         "M_NOT_FOUND", "actions of unknown rule"),
        (alice.delete(rule_path("content", "nope")), 404, "M_NOT_FOUND", "DELETE unknown rule"),
        (alice.put(rule_path("content", ".m.mine"), {"pattern": "x", "actions": ["notify"]}), 400,
         "M_INVALID_PARAM", "rule id starting with a dot"),
        (alice.put(rule_path("content", "x"), {"actions": ["notify"]}), 400, "M_MISSING_PARAM",
         "content rule without pattern"),
        (alice.put(rule_path("content", "x"), {"pattern": "x"}), 400, "M_MISSING_PARAM",
         "rule without actions"),
        (alice.put(rule_path("content", "x"), {"pattern": "x", "actions": ["explode"]}), 400,
         "M_INVALID_PARAM", "bad actions"),
        (alice.put(rule_path("content", "cats", "actions"), {"actions": [42]}), 400,
         "M_INVALID_PARAM", "bad actions update"),
        (alice.put(rule_path("content", "cats", "actions"), {}), 400, "M_MISSING_PARAM",
         "actions update without actions"),
        (alice.put(rule_path("content", "cats", "enabled"), {}), 400, "M_MISSING_PARAM",
         "enabled update without enabled"),
        (alice.put(rule_path("content", "cats", "enabled"), {"enabled": "yes"}), 400, "M_BAD_JSON",
         "enabled not a boolean"),
        (alice.put(rule_path("content", "x"), {"pattern": "x", "actions": ["notify"]},
                   query={"before": "missing"}), 404, "M_NOT_FOUND", "before an unknown rule"),
        (alice.put(rule_path("content", "x"), {"pattern": "x", "actions": ["notify"]},
                   query={"after": ".m.rule.contains_user_name"}), 400, "M_INVALID_PARAM",
         "after a default rule"),
        (alice.delete(rule_path("override", ".m.rule.master")), 400, "M_INVALID_PARAM",
         "DELETE a default rule"),
        (alice.get(rule_path("bogus", "cats")), 400, "M_INVALID_PARAM", "unknown kind"),
        (alice.put(rule_path("bogus", "cats"), {"actions": ["notify"]}), 400, "M_INVALID_PARAM",
         "PUT unknown kind"),
        (alice.get("/pushrules/device/content/cats"), 404, "M_UNRECOGNIZED", "scope other than global"),
    ]
    for resp, status, errcode, what in checks:
        expect_error(resp, status, errcode, what)
    expect_error(alice.put(rule_path("content", "x"), raw=b"[1, 2]"), 400, "M_BAD_JSON",
                 "a body that is not an object")
    expect_eq(expect_ok(alice.get("/pushrules/")), before, "rules unchanged by the errors")
    expect(push_rules_in(alice.sync(since=head)) is None, "no m.push_rules after failed changes")


@e2e_test
def long_poll_wakes_on_own_push_rules(ctx):
    alice, bob = ctx.user(), ctx.user()
    head = alice.sync()["next_batch"]
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        t0 = time.monotonic()
        poll = pool.submit(alice.sync, since=head, timeout=2000)
        time.sleep(0.3)
        put_rule(bob, "room", "!somewhere:example.org", {"actions": ["notify"]})
        resp = poll.result(timeout=30)
        waited = time.monotonic() - t0
        expect(waited >= 1.8, f"alice's /sync woke after {waited:.2f} s for bob's push rules")
        expect(push_rules_in(resp) is None, "no m.push_rules for bob's change")
        head = resp["next_batch"]

        poll = pool.submit(alice.sync, since=head, timeout=30000)
        time.sleep(0.3)
        expect(not poll.done(), "long-poll /sync returned early")
        t0 = time.monotonic()
        put_rule(alice, "sender", "@spammer:example.org", {"actions": []})
        resp = poll.result(timeout=30)
        woke = time.monotonic() - t0
        expect(woke < WAKE_UP_LIMIT_S, f"long-poll /sync woke {woke:.2f} s after the change")
        pr = push_rules_in(resp)
        expect(pr is not None and ids(pr["global"]["sender"]) == ["@spammer:example.org"],
               f"the change in the woken /sync: {pr}")
        print(f"    push rules wake-up: {woke * 1000:.0f} ms")
