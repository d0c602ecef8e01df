"""Federation across a server's workers (PostgreSQL; a layout of main + worker1 with Redis):
`outbound_federation_restricted_to: [main]` sends every federation request of worker1 through
main. worker1's own file refuses loopback (ip_range_whitelist: []), so a request it sent itself
could not reach the other server on 127.0.0.1: an answer proves it went through main.
"""

import os

from fedlib import federating_server, test_ca
from harness import expect, expect_eq, expect_ok, free_port, layout_test, q, register, wait_until, workers_layout
from test_faults import Redis


def federating_main(ctx, name, redis, **extra):
    """The main process of a federating layout (main + worker1 over `redis`): named
    localhost:PORT with a TLS federation listener on PORT, `extra` in its homeserver.yaml; not
    started. Returns it and workers_layout's keys."""
    layout = workers_layout("127.0.0.1", redis.port, writer_of=[])
    ca, crt, key = test_ca()
    fed_port = free_port()
    overrides = {k: v for k, v in layout.items() if not k.startswith("_")}
    overrides.update({
        "server_name": f"localhost:{fed_port}", "tls_certificate_path": crt, "tls_private_key_path": key,
        "federation_custom_ca_list": [ca], "ip_range_whitelist": ["127.0.0.0/8", "::1/128"], **extra,
    })
    main = ctx.make_server(name, overrides)
    main.config.pop("federation_domain_whitelist", None)
    main.config["listeners"] += [
        {"port": layout["_replication_listener"], "bind_addresses": ["127.0.0.1"], "type": "http",
         "resources": [{"names": ["replication"]}]},
        {"port": fed_port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": True,
         "resources": [{"names": ["federation"]}]},
    ]
    main.rewrite()
    return main, layout


@layout_test
def outbound_federation_restricted_to_main(ctx):
    redis = Redis(os.path.join(ctx.server.directory, "..", "fed-workers-redis"))
    redis.start()
    c = federating_server(ctx, "fedw-c")
    c.start()
    main = worker = None
    try:
        main, layout = federating_main(ctx, "fedw-main", redis, outbound_federation_restricted_to=["main"])
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


@layout_test
def remote_media_through_a_media_worker(ctx):
    """A layout whose media is served by two media_repository workers (enable_media_repo: false
    on main, as the workers page says): a worker fetches another server's media itself, keeps it
    in the shared media store and serves it and its thumbnails; the other serves that kept copy
    and the first one's uploads; main's client listener serves no media."""
    import io
    from PIL import Image
    from harness import Api
    from test_media import V1, upload
    redis = Redis(os.path.join(ctx.server.directory, "..", "fed-media-redis"))
    redis.start()
    c = federating_server(ctx, "fedm-c")
    c.start()
    main = media = media2 = None
    try:
        main, _ = federating_main(ctx, "fedm-main", redis, enable_media_repo=False,
                                  media_instance_running_background_jobs="media1")
        media_port = free_port()
        media = ctx.make_worker(main, "fedm-media1", {
            "worker_app": "media_repository", "worker_name": "media1",
            "worker_listeners": [{"port": media_port, "bind_addresses": ["127.0.0.1"], "type": "http",
                                  "resources": [{"names": ["media"]}]}]})
        media2_port = free_port()
        media2 = ctx.make_worker(main, "fedm-media2", {
            "worker_app": "media_repository", "worker_name": "media2",
            "worker_listeners": [{"port": media2_port, "bind_addresses": ["127.0.0.1"], "type": "http",
                                  "resources": [{"names": ["media"]}]}]})
        main.start()
        media.start()
        media2.start()
        out = io.BytesIO()
        Image.new("RGB", (640, 480), (30, 160, 90)).save(out, "JPEG")
        data = out.getvalue()
        server, media_id = upload(register(c.api), data, "image/jpeg")
        bob = register(main.api)
        expect_eq(bob.get(f"{V1}/download/{server}/{media_id}").status, 404, "main serves no media")
        bob.api = Api(f"http://127.0.0.1:{media_port}")
        r = bob.get(f"{V1}/download/{server}/{media_id}")
        expect_eq(r.status, 200, f"C's media through the media worker: {r}")
        expect_eq(r.body, data, "the same bytes")
        r = bob.get(f"{V1}/thumbnail/{server}/{media_id}", query={"width": 320, "height": 240})
        expect_eq(r.status, 200, f"its thumbnail: {r}")
        expect_eq(Image.open(io.BytesIO(r.body)).size, (320, 240), "thumbnail size")
        kept = os.path.join(main.config["media_store_path"], "remote_content", server)
        expect(os.path.isdir(kept), "kept in the shared store, Synapse's layout")
        files = [os.path.join(d, f) for d, _, fs in os.walk(kept) for f in fs]
        # Two media workers share the store: media2 serves what media1 fetched (no second
        # fetch: still one file) and what media1 took as an upload.
        other = Api(f"http://127.0.0.1:{media2_port}")
        bob.api = other
        r = bob.get(f"{V1}/download/{server}/{media_id}")
        expect_eq((r.status, r.body == data), (200, True), f"media2 serves media1's kept copy: {r}")
        expect_eq(len([os.path.join(d, f) for d, _, fs in os.walk(kept) for f in fs]), len(files),
                  "not fetched again")
        bob.api = Api(f"http://127.0.0.1:{media_port}")
        mine_server, mine = upload(bob, b"uploaded through media1", "text/plain")
        bob.api = other
        r = bob.get(f"{V1}/download/{mine_server}/{mine}")
        expect_eq((r.status, r.body), (200, b"uploaded through media1"), f"media1's upload through media2: {r}")
    finally:
        for s in (media2, media, main):
            if s:
                s.stop()
        c.stop()
        redis.stop()
