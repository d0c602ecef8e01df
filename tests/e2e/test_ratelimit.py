"""Rate limiting (spec: Rate limiting): a server of its own with rc_message at 0.5/s, burst 2."""

import time

from harness import e2e_test, expect, expect_eq, expect_ok, q, register, timeline_bodies


@e2e_test
def rate_limited_messages(ctx):
    server = ctx.make_server("ratelimit", {"rc_message": {"per_second": 0.5, "burst_count": 2}})
    server.start()
    try:
        alice, bob = register(server.api), register(server.api)
        room = alice.create_room(preset="public_chat")
        bob.join(room)

        statuses, limited = [], None
        for i in range(8):
            resp = alice.put(f"/rooms/{q(room)}/send/m.room.message/rl{i}",
                             {"msgtype": "m.text", "body": f"rl{i}"})
            statuses.append(resp.status)
            if resp.status == 429 and limited is None:
                limited = resp
            expect(resp.status in (200, 429), f"rapid send {i}: {resp}")
        expect(limited is not None, f"8 rapid sends at 0.5/s burst 2 were never limited: {statuses}")
        sent = [f"rl{i}" for i, s in enumerate(statuses) if s == 200]
        expect(len(sent) <= 3, f"burst 2 let {len(sent)} sends through: {statuses}")

        body = limited.json or {}
        expect_eq(body.get("errcode"), "M_LIMIT_EXCEEDED", f"429 errcode ({limited})")
        expect(isinstance(body.get("error"), str), f"429 without an error string: {limited}")
        retry_ms = body.get("retry_after_ms")
        expect(isinstance(retry_ms, int) and 0 < retry_ms <= 10000,
               f"retry_after_ms must be a positive integer of milliseconds: {body}")
        header = limited.header("Retry-After")
        expect(header is None or header.strip().isdigit(), f"Retry-After must be seconds: {header!r}")

        # Rejected sends stored nothing; other users have their own budget.
        bodies = timeline_bodies(bob.messages(room, limit=50)["chunk"])[::-1]
        expect_eq(bodies, sent, "stored messages are exactly the accepted sends")
        expect_ok(bob.put(f"/rooms/{q(room)}/send/m.room.message/b0", {"msgtype": "m.text", "body": "b0"}),
                  "another user is not limited by alice's sends")

        # After waiting as told, sending works again.
        time.sleep(retry_ms / 1000 + 0.1)
        expect_ok(alice.put(f"/rooms/{q(room)}/send/m.room.message/after",
                            {"msgtype": "m.text", "body": "after"}), "send after retry_after_ms")
    finally:
        problem = server.stop()
    expect(problem is None, f"rate-limit server: {problem}")
