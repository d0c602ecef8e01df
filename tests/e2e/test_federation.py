"""Two Axon servers federating on loopback (fedlib: names localhost:PORT, TLS from a CA made
here, certificate checks on): remote profiles both ways (server-name resolution, X-Matrix
signing and verification, key fetching), the key notary, and the outbound policy (an unknown
CA, private addresses). Bad requests from a "server": unsigned, wrongly signed, replayed for
another path or body, for another destination, from a server whose keys can't be fetched.
"""

import http.server
import json
import ssl
import threading
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fedlib import (canonical, federating_server, federation_request, other_ca, signing_key, test_ca,
                    x_matrix)
from harness import e2e_test, expect, expect_eq, expect_error, expect_ok, q, register, unique
from test_federation_keys import unpadded_b64decode

_PAIR = {}


def pair(ctx):
    """Servers A and B, started once for this module's tests."""
    if not _PAIR:
        # A lets other servers read its public room directory; B keeps Synapse's default (no).
        a = federating_server(ctx, "fed-a", allow_public_rooms_over_federation=True)
        b = federating_server(ctx, "fed-b")
        a.start()
        b.start()
        _PAIR["servers"] = (a, b)
    return _PAIR["servers"]


def verify_signed(body, server, key_b64_by_id):
    signed = {k: v for k, v in body.items() if k not in ("signatures", "unsigned")}
    sigs = body.get("signatures", {}).get(server, {})
    expect(sigs, f"not signed by {server}: {body}")
    for key_id, sig in sigs.items():
        raw = unpadded_b64decode(key_b64_by_id[key_id])
        try:
            Ed25519PublicKey.from_public_bytes(raw).verify(unpadded_b64decode(sig), canonical(signed))
        except InvalidSignature:
            raise AssertionError(f"{server}'s signature by {key_id} does not verify: {body}")


@e2e_test
def remote_profiles_both_ways(ctx):
    a, b = pair(ctx)
    alice, bob = register(a.api), register(b.api)
    expect(alice.user_id.endswith(":" + a.server_name), f"a user of {a.server_name}: {alice.user_id}")
    expect_ok(alice.put(f"/profile/{q(alice.user_id)}/displayname", {"displayname": "Alice of A"}))
    expect_ok(bob.put(f"/profile/{q(bob.user_id)}/avatar_url", {"avatar_url": "mxc://b/avatar"}))
    # B asks A (its keys fetched and checked by A), A asks B.
    got = expect_ok(bob.get(f"/profile/{q(alice.user_id)}"), "Alice's profile through B")
    expect_eq(got.get("displayname"), "Alice of A", "remote displayname")
    got = expect_ok(alice.get(f"/profile/{q(bob.user_id)}/avatar_url"), "Bob's avatar through A")
    expect_eq(got, {"avatar_url": "mxc://b/avatar"}, "remote avatar_url")
    # Registration sets the displayname; Alice has no avatar.
    expect_error(bob.get(f"/profile/{q(alice.user_id)}/avatar_url"), 404, "M_NOT_FOUND",
                 "an unset remote field")
    expect_error(bob.get(f"/profile/{q('@nobody:' + a.server_name)}"), 404, "M_NOT_FOUND",
                 "an unknown remote user")


@e2e_test
def notary_serves_keys_it_fetched(ctx):
    a, b = pair(ctx)
    own = federation_request(a, "GET", "/_matrix/key/v2/server")
    expect_eq(own.status, 200, f"A's keys: {own}")
    a_keys = {k: v["key"] for k, v in own.json["verify_keys"].items()}
    b_own = federation_request(b, "GET", "/_matrix/key/v2/server").json
    b_keys = {k: v["key"] for k, v in b_own["verify_keys"].items()}
    # B fetches A's keys from A now, and answers with A's answer, countersigned.
    for reply in (federation_request(b, "GET", f"/_matrix/key/v2/query/{a.server_name}"),
                  federation_request(b, "POST", "/_matrix/key/v2/query",
                                     {"server_keys": {a.server_name: {}}})):
        expect_eq(reply.status, 200, f"B as notary for A: {reply}")
        entries = reply.json["server_keys"]
        expect_eq(len(entries), 1, f"one answer for A: {entries}")
        entry = entries[0]
        expect_eq(entry["server_name"], a.server_name, "server_name")
        expect_eq({k: v["key"] for k, v in entry["verify_keys"].items()}, a_keys, "A's keys")
        verify_signed(entry, a.server_name, a_keys)
        verify_signed(entry, b.server_name, b_keys)
    # B about itself: its own answer; about a server that doesn't exist: nothing.
    me = federation_request(b, "GET", f"/_matrix/key/v2/query/{b.server_name}").json["server_keys"]
    expect_eq([e["server_name"] for e in me], [b.server_name], "B's own keys")
    none = federation_request(b, "POST", "/_matrix/key/v2/query",
                              {"server_keys": {"localhost:1": {"ed25519:x": {}}}})
    expect_eq((none.status, none.json), (200, {"server_keys": []}), "an unreachable server")
    for bad in ({"server_keys": []}, {"server_keys": {a.server_name: []}},
                {"server_keys": {a.server_name: {"k": {"minimum_valid_until_ts": "soon"}}}}):
        r = federation_request(b, "POST", "/_matrix/key/v2/query", bad)
        expect_eq((r.status, (r.json or {}).get("errcode")), (400, "M_BAD_JSON"), f"{bad}: {r}")
    r = federation_request(b, "GET", f"/_matrix/key/v2/query/{a.server_name}?minimum_valid_until_ts=x")
    expect_eq((r.status, r.json.get("errcode")), (400, "M_INVALID_PARAM"), f"a bad minimum: {r}")


@e2e_test
def signed_requests_only(ctx):
    a, b = pair(ctx)
    alice = register(a.api)
    uri = f"/_matrix/federation/v1/query/profile?user_id={q(alice.user_id)}"
    key = signing_key(b)
    # Signed as B with B's own key (what B itself would send): served.
    good = federation_request(a, "GET", uri, authorization=x_matrix(b.server_name, a.server_name, key, "GET", uri))
    expect_eq(good.status, 200, f"a correctly signed request: {good}")

    def refused(authorization, what, target=uri, method="GET", body=None):
        r = federation_request(a, method, target, body=body, authorization=authorization)
        expect_eq((r.status, (r.json or {}).get("errcode")), (401, "M_UNAUTHORIZED"), f"{what}: {r}")

    refused(None, "no Authorization header")
    refused("X-Matrix garbage", "a malformed header")
    refused("Bearer abc", "an access token instead of a signature")
    # The signature of another request, replayed here.
    other = f"/_matrix/federation/v1/query/profile?user_id={q('@someone:' + a.server_name)}"
    refused(x_matrix(b.server_name, a.server_name, key, "GET", other), "a signature for another uri")
    refused(x_matrix(b.server_name, b.server_name, key, "GET", uri), "a request for another destination")
    stranger = ("ed25519:" + key[0].split(":")[1], Ed25519PrivateKey.generate())
    refused(x_matrix(b.server_name, a.server_name, stranger, "GET", uri), "signed with a key B doesn't have")
    refused(x_matrix("localhost:1", a.server_name, key, "GET", uri), "an origin whose keys can't be fetched")
    # A body is covered too: a signed PUT whose body was changed.
    put_uri = "/_matrix/federation/v1/query/profile"
    auth = x_matrix(b.server_name, a.server_name, key, "GET", put_uri, {"a": 1})
    refused(auth, "a body that isn't the one signed", target=put_uri, body={"a": 2})
    # Still serving.
    expect_eq(federation_request(a, "GET", uri, authorization=x_matrix(b.server_name, a.server_name, key, "GET", uri)).status,
              200, "after the refusals")
    # Field checks of /query/profile itself.
    for target, status, code in ((f"/_matrix/federation/v1/query/profile", 400, "M_MISSING_PARAM"),
                                 (uri + "&field=email", 400, "M_INVALID_PARAM"),
                                 (f"/_matrix/federation/v1/query/profile?user_id={q('@x:' + b.server_name)}",
                                  400, "M_INVALID_PARAM")):
        r = federation_request(a, "GET", target, authorization=x_matrix(b.server_name, a.server_name, key, "GET", target))
        expect_eq((r.status, (r.json or {}).get("errcode")), (status, code), f"{target}: {r}")


@e2e_test
def outbound_policy_unknown_ca_and_private_addresses(ctx):
    a, _ = pair(ctx)
    alice = register(a.api)
    expect_ok(alice.put(f"/profile/{q(alice.user_id)}/displayname", {"displayname": "Alice"}))
    # C trusts another CA only: A's certificate fails verification. D trusts the right CA but
    # keeps the default ip_range_blacklist: loopback is refused before connecting.
    c = federating_server(ctx, "fed-c", federation_custom_ca_list=[other_ca()])
    d = federating_server(ctx, "fed-d", ip_range_whitelist=[])
    c.start()
    d.start()
    try:
        for server, why in ((c, "an unknown CA"), (d, "a private address")):
            carol = register(server.api)
            r = carol.get(f"/profile/{q(alice.user_id)}")
            expect_error(r, 502, "M_UNKNOWN", f"{why}: {r.body}")
        # A itself still answers, and federation_domain_whitelist-less servers may ask it.
        expect_eq(expect_ok(register(_PAIR['servers'][1].api).get(f"/profile/{q(alice.user_id)}"))["displayname"],
                  "Alice", "B still reaches A")
    finally:
        c.stop()
        d.stop()


@e2e_test
def public_rooms_and_aliases_of_another_server(ctx):
    a, b = pair(ctx)
    alice, bob = register(a.api), register(b.api)
    name = unique("Lobby")
    room = alice.create_room(preset="public_chat", name=name, room_alias_name=unique("lobby"),
                             visibility="public")
    alias = expect_ok(alice.get(f"/rooms/{q(room)}/state/m.room.canonical_alias"))["alias"]
    # B's user reads A's directory: GET, and POST with a search term.
    listed = expect_ok(bob.get("/publicRooms", query={"server": a.server_name}), "A's directory through B")
    entry = [c for c in listed["chunk"] if c["room_id"] == room]
    expect(entry and entry[0].get("name") == name, f"the room in A's directory: {listed}")
    found = expect_ok(bob.post("/publicRooms?server=" + q(a.server_name), {"filter": {"generic_search_term": name}}))
    expect_eq([c["room_id"] for c in found["chunk"]], [room], "searched")
    none = expect_ok(bob.post("/publicRooms?server=" + q(a.server_name), {"filter": {"generic_search_term": unique("zz")}}))
    expect_eq(none["chunk"], [], "nothing found")
    # B does not publish its directory over federation (the default).
    expect_error(alice.get("/publicRooms", query={"server": b.server_name}), 403, "M_FORBIDDEN", "B's directory")
    expect_error(alice.get("/publicRooms", query={"server": "localhost:1"}), 502, "M_UNKNOWN", "an unreachable server")
    # A's alias resolved through B.
    got = expect_ok(bob.get(f"/directory/room/{q(alias)}"), "A's alias through B")
    expect_eq((got["room_id"], got["servers"]), (room, [a.server_name]), "room and servers")
    expect_error(bob.get(f"/directory/room/{q('#' + unique('none') + ':' + a.server_name)}"), 404, "M_NOT_FOUND",
                 "an unknown alias of A")


@e2e_test
def openid_tokens_checked_by_a_third_party(ctx):
    a, _ = pair(ctx)
    alice, other = register(a.api), register(a.api)
    got = expect_ok(alice.post(f"/user/{q(alice.user_id)}/openid/request_token", {}), "request_token")
    expect_eq((got["token_type"], got["matrix_server_name"], got["expires_in"]), ("Bearer", a.server_name, 3600),
              f"the token: {got}")
    expect_error(alice.post(f"/user/{q(other.user_id)}/openid/request_token", {}), 403, "M_FORBIDDEN",
                 "a token for another user")
    # A third party (no signature) asks A's federation listener whose token it is.
    r = federation_request(a, "GET", "/_matrix/federation/v1/openid/userinfo?access_token=" + q(got["access_token"]))
    expect_eq((r.status, r.json), (200, {"sub": alice.user_id}), f"userinfo: {r}")
    r = federation_request(a, "GET", "/_matrix/federation/v1/openid/userinfo?access_token=nope")
    expect_eq((r.status, r.json.get("errcode")), (401, "M_UNKNOWN_TOKEN"), f"an unknown token: {r}")
    r = federation_request(a, "GET", "/_matrix/federation/v1/openid/userinfo")
    expect_eq((r.status, r.json.get("errcode")), (401, "M_MISSING_TOKEN"), f"no token: {r}")
    # The user's access token is not an OpenID token.
    r = federation_request(a, "GET", "/_matrix/federation/v1/openid/userinfo?access_token=" + q(alice.token))
    expect_eq(r.status, 401, f"an access token: {r}")


@e2e_test
def rc_federation_slows_then_refuses_a_flood(ctx):
    _, b = pair(ctx)
    # E: 2 requests a 10 s window at once, 3 more each after 300 ms, then 429.
    e = federating_server(ctx, "fed-e", rc_federation={"window_size": 10000, "sleep_limit": 2, "sleep_delay": 300,
                                                       "reject_limit": 5, "concurrent": 1})
    e.start()
    try:
        user = register(e.api)
        uri = f"/_matrix/federation/v1/query/profile?user_id={q(user.user_id)}"
        key = signing_key(b)
        outcomes = []
        for _ in range(7):
            t0 = time.monotonic()
            r = federation_request(e, "GET", uri, authorization=x_matrix(b.server_name, e.server_name, key, "GET", uri))
            outcomes.append((r.status, time.monotonic() - t0, r.json))
        statuses = [s for s, _, _ in outcomes]
        expect_eq(statuses, [200, 200, 200, 200, 200, 429, 429], f"the flood's answers: {outcomes}")
        expect(all(t >= 0.28 for _, t, _ in outcomes[2:5]), f"requests 3-5 waited 300 ms: {outcomes}")
        expect_eq((outcomes[5][2]["errcode"], outcomes[5][2]["retry_after_ms"]), ("M_LIMIT_EXCEEDED", 10000),
                  "the refusal")
        # Transactions are not limited.
        for i in range(4):
            uri_t = f"/_matrix/federation/v1/send/{unique('t')}"
            body = {"origin": b.server_name, "origin_server_ts": 1, "pdus": []}
            r = federation_request(e, "PUT", uri_t, body=body,
                                   authorization=x_matrix(b.server_name, e.server_name, key, "PUT", uri_t, body))
            expect_eq(r.status, 200, f"transaction {i} during the flood: {r}")
    finally:
        e.stop()


def serve_well_known(port, body, hits):
    """An HTTPS page server on 127.0.0.1:`port` (the test CA's localhost certificate) answering
    /.well-known/matrix/server with `body`; counts its answers in `hits`."""
    ca, crt, key = test_ca()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != "/.well-known/matrix/server":
                self.send_error(404)
                return
            hits.append(self.path)
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "max-age=3600")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(crt, key)
    httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


@e2e_test
def delegation_through_well_known(ctx):
    # A server named plainly "localhost" (no port): others find it through
    # https://localhost/.well-known/matrix/server, which needs port 443 on loopback.
    _, b = pair(ctx)
    x = federating_server(ctx, "fed-x", server_name="localhost", serve_server_wellknown=True,
                          public_baseurl="https://matrix.localhost/")
    hits = []
    try:
        page = serve_well_known(443, {"m.server": f"localhost:{x.federation_port}"}, hits)
    except (PermissionError, OSError) as e:
        print(f"    (delegation_through_well_known: 127.0.0.1:443 is not available here: {e}; "
              "only the served documents are checked)")
        page = None
    x.start()
    try:
        # X's own discovery documents (client listener), as Synapse serves them.
        expect_eq(expect_ok(x.api.get("/.well-known/matrix/server")), {"m.server": "localhost:443"},
                  "X's server well-known")
        expect_eq(expect_ok(x.api.get("/.well-known/matrix/client")),
                  {"m.homeserver": {"base_url": "https://matrix.localhost/"}}, "X's client well-known")
        expect_error(b.api.get("/.well-known/matrix/server"), 404, "M_NOT_FOUND", "B serves none")
        if page is None:
            return
        xavier, bob = register(x.api), register(b.api)
        expect(xavier.user_id.endswith(":localhost"), f"a user of localhost: {xavier.user_id}")
        for _ in range(2):
            got = expect_ok(bob.get(f"/profile/{q(xavier.user_id)}"), "X through its delegation")
            expect_eq(got.get("displayname"), xavier.localpart, "X's user's name")
        expect_eq(len(hits), 1, f"the well-known was fetched once, then cached: {hits}")
    finally:
        x.stop()
        if page:
            page.shutdown()
            page.server_close()
