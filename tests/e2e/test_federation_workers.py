"""Federation across a server's workers (PostgreSQL; a layout of main + worker1 with Redis):
`outbound_federation_restricted_to: [main]` sends every federation request of worker1 through
main. worker1's own file refuses loopback (ip_range_whitelist: []), so a request it sent itself
could not reach the other server on 127.0.0.1: an answer proves it went through main.
"""

import os

from fedlib import federating_server, test_ca
from harness import expect, expect_eq, expect_ok, free_port, layout_test, q, register, wait_until, workers_layout
from test_faults import Redis


@layout_test
def outbound_federation_restricted_to_main(ctx):
    redis = Redis(os.path.join(ctx.server.directory, "..", "fed-workers-redis"))
    redis.start()
    c = federating_server(ctx, "fedw-c")
    c.start()
    main = worker = None
    try:
        layout = workers_layout("127.0.0.1", redis.port, writer_of=[])
        ca, crt, key = test_ca()
        fed_port = free_port()
        overrides = {k: v for k, v in layout.items() if not k.startswith("_")}
        overrides.update({
            "server_name": f"localhost:{fed_port}", "tls_certificate_path": crt, "tls_private_key_path": key,
            "federation_custom_ca_list": [ca], "ip_range_whitelist": ["127.0.0.0/8", "::1/128"],
            "outbound_federation_restricted_to": ["main"],
        })
        main = ctx.make_server("fedw-main", overrides)
        main.config.pop("federation_domain_whitelist", None)
        main.config["listeners"] += [
            {"port": layout["_replication_listener"], "bind_addresses": ["127.0.0.1"], "type": "http",
             "resources": [{"names": ["replication"]}]},
            {"port": fed_port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": True,
             "resources": [{"names": ["federation"]}]},
        ]
        main.rewrite()
        worker = ctx.make_worker(main, "fedw-worker1", dict(layout["_worker1"], ip_range_whitelist=[]))
        main.start()
        worker.start()
        carol = register(c.api)
        expect_ok(carol.put(f"/profile/{q(carol.user_id)}/displayname", {"displayname": "Carol of C"}))
        bob = register(worker.api)
        got = expect_ok(bob.get(f"/profile/{q(carol.user_id)}"), "C's user through worker1 (sent by main)")
        expect_eq(got.get("displayname"), "Carol of C", "the remote profile")
        # E2EE keys the same way (two requests at once through the relay).
        got = expect_ok(bob.post("/keys/query", {"device_keys": {carol.user_id: []}}), "keys through worker1")
        expect_eq(got["failures"], {}, "no failures")
        # And the other way: C asks the layout (main's federation listener answers).
        got = expect_ok(carol.get(f"/profile/{q(bob.user_id)}"), "the layout's user through C")
        expect_eq(got.get("displayname"), bob.localpart, "the layout user's name")
        # Rooms: bob (a client of worker1) joins C's room; C's events reach worker1's /sync
        # (main's events writer over Redis) and bob's reach C (main's federation sender).
        room = carol.create_room(preset="public_chat", room_version="10")
        expect_eq(bob.join(room), room, "join through worker1")
        carol.put(f"/rooms/{q(room)}/send/m.room.message/c1", {"msgtype": "m.text", "body": "from C"})

        def bodies(user):
            chunk = expect_ok(user.get(f"/rooms/{q(room)}/messages", query={"dir": "b", "limit": "20"}))["chunk"]
            return [e["content"].get("body") for e in reversed(chunk) if e["type"] == "m.room.message"]
        expect(wait_until(lambda: bodies(bob) == ["from C"], timeout=15), f"C's message on worker1: {bodies(bob)}")
        bob.put(f"/rooms/{q(room)}/send/m.room.message/b1", {"msgtype": "m.text", "body": "from the layout"})
        expect(wait_until(lambda: bodies(carol) == ["from C", "from the layout"], timeout=15),
               f"the layout's message on C: {bodies(carol)}")
        # And C's user joins a room of the layout.
        mine = bob.create_room(preset="public_chat", room_version="10")
        expect_eq(carol.join(mine), mine, "C joins the layout's room")
        members = expect_ok(bob.get(f"/rooms/{q(mine)}/joined_members"))["joined"]
        expect_eq(sorted(members), sorted([bob.user_id, carol.user_id]), "both members seen on worker1")
    finally:
        for s in (worker, main):
            if s:
                s.stop()
        c.stop()
        redis.stop()
