"""The replication listener (DESIGN.md "Guarantees"): POST /_axon/replication/<wire_name> needs
`worker_replication_secret` as a bearer token, refuses malformed requests, changes nothing when it
refuses, answers a repeated transaction id once, and is never served on a client listener."""

import json
import socket
import time

from harness import Api, e2e_test, expect, expect_eq, expect_error, expect_ok, free_port, q, register

SECRET = "the-replication-secret"


def call(api, name, body, secret=None, raw=None):
    headers = {"Authorization": f"Bearer {secret}"} if secret is not None else None
    return api.request("POST", f"/_axon/replication/{name}", body=body, raw=raw, headers=headers)


@e2e_test
def replication_listener_checks_the_secret(ctx):
    rep_port = free_port()
    server = ctx.make_server("replication", {"worker_replication_secret": SECRET})
    server.config["listeners"].append({"port": rep_port, "bind_addresses": ["127.0.0.1"],
                                       "type": "http", "resources": [{"names": ["replication"]}]})
    server.rewrite()
    server.start()
    try:
        # The client listener answering doesn't mean the replication one is up yet.
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", rep_port), timeout=1).close()
                break
            except OSError:
                expect(time.monotonic() < deadline, "the replication listener never came up")
                time.sleep(0.05)
        rep = Api(f"http://127.0.0.1:{rep_port}")
        alice = register(server.api)
        kind = "org.example.replicated"
        path = f"/user/{q(alice.user_id)}/account_data/{kind}"
        request = {"user_id": alice.user_id, "room_id": "", "type": kind,
                   "content": json.dumps({"v": 1})}
        body = {"txn": "t1", "positions": [], "request": request}

        # Refused, and nothing written: no secret, a wrong one, a query-string token.
        expect_error(call(rep, "put_account_data", body), 401, "M_MISSING_TOKEN", "no secret")
        expect_error(call(rep, "put_account_data", body, secret="wrong"), 403, "M_FORBIDDEN",
                     "wrong secret")
        resp = rep.request("POST", "/_axon/replication/put_account_data", body=body,
                           query={"access_token": SECRET})
        expect_error(resp, 401, "M_MISSING_TOKEN", "secret in the query string")
        expect_error(alice.get(path), 404, "M_NOT_FOUND", "nothing stored after refusals")

        # Malformed requests.
        expect_error(call(rep, "put_account_data", None, secret=SECRET, raw=b"{nope"), 400,
                     "M_NOT_JSON", "not JSON")
        expect_error(call(rep, "put_account_data", {"positions": []}, secret=SECRET), 400,
                     "M_BAD_JSON", "no txn or request")
        expect_error(call(rep, "put_account_data", {"txn": "t0", "request": {"user_id": 5}},
                          secret=SECRET), 400, "M_BAD_JSON", "request of the wrong shape")
        expect_error(call(rep, "no_such_request", {"txn": "t9", "request": {}}, secret=SECRET),
                     404, "M_UNRECOGNIZED", "unknown wire name")
        expect_error(alice.get(path), 404, "M_NOT_FOUND", "nothing stored after bad requests")

        # Accepted: the reply carries a position and the receiver's positions; a repeat of the
        # same transaction id is answered from memory (same position, no second write).
        first = expect_ok(call(rep, "put_account_data", body, secret=SECRET), "with the secret")
        expect(isinstance(first["reply"], int) and first["reply"] > 0, f"a position: {first}")
        expect(isinstance(first["positions"], list) and first["positions"], "positions")
        expect_eq(expect_ok(alice.get(path), "GET after"), {"v": 1}, "stored")
        request["content"] = json.dumps({"v": 2})
        again = expect_ok(call(rep, "put_account_data", body, secret=SECRET), "repeated txn")
        expect_eq(again["reply"], first["reply"], "same answer for the same txn")
        expect_eq(expect_ok(alice.get(path), "GET after repeat"), {"v": 1}, "not written twice")

        # The client listener doesn't serve replication.
        expect_error(call(server.api, "put_account_data", dict(body, txn="t2"), secret=SECRET),
                     404, "M_UNRECOGNIZED", "replication on the client listener")
    finally:
        problem = server.stop()
    expect(problem is None, f"replication server: {problem}")


@e2e_test
def a_taken_port_stops_start_up(ctx):
    """A listener that can't bind stops the instance with an error (exit 1), after the actors
    it had started (no hang)."""
    import socket as _socket
    from harness import ServerError
    blocker = _socket.socket()
    blocker.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
    server = ctx.make_server("taken-port")
    blocker.bind(("127.0.0.1", server.port))
    blocker.listen(1)
    try:
        t0 = time.monotonic()
        try:
            server.start(timeout=20)
            started = True
        except ServerError as e:
            started = False
            detail = str(e)
        expect(not started, "axon started although its port was taken")
        expect("exited with 1" in detail, f"exit status: {detail}")
        expect(time.monotonic() - t0 < 15, "axon took too long to give up")
        with open(server.log_path) as f:
            expect("cannot listen" in f.read(), "the log says why")
    finally:
        blocker.close()
        server.stop()
