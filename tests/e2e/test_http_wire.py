"""The HTTP wire under load and abuse (the event-driven listener, actors/http/listener.cpp):
long-polls that hold no thread, slow clients dropped after the header timeout, malformed and
oversize requests answered or closed cleanly with the server still serving, and TLS listeners.
Each test runs a server of its own with small limits."""

import asyncio
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request

import aiohttp

from harness import (Api, e2e_test, expect, expect_eq, expect_ok, free_port, q, register,
                     wait_until)

SMALL = {"http": {"request_threads": 2, "header_timeout_ms": 1000, "keep_alive_timeout_ms": 3000,
                  "body_timeout_ms": 1000, "max_header_size": 4096}}


def raw(port, data, timeout=10.0, read=True):
    """Sends `data` on a new connection; returns all the server sends until it closes (or the
    timeout)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        if not read:
            return out
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        return out


def still_serving(server, what):
    expect_eq(server.api.get("/_matrix/client/versions").status, 200, f"still serving after {what}")


@e2e_test
def long_polls_hold_no_thread(ctx):
    # Two request threads, 200 parked /sync long-polls on their own connections: a thread per
    # waiting request would leave none for anything else.
    server = ctx.make_server("wire-polls", SMALL)
    server.start()
    try:
        alice, bob = register(server.api), register(server.api)
        room = alice.create_room(preset="public_chat")
        bob.join(room)
        since = bob.sync()["next_batch"]
        n = 200

        async def run():
            conn = aiohttp.TCPConnector(limit=0, force_close=True)
            async with aiohttp.ClientSession(connector=conn) as session:
                url = f"{server.url}/_matrix/client/v3/sync"
                params = {"since": since, "timeout": "30000", "set_presence": "offline"}
                headers = {"Authorization": f"Bearer {bob.token}"}

                async def poll():
                    async with session.get(url, params=params, headers=headers) as r:
                        body = await r.json()
                        return r.status, body, time.monotonic()

                polls = [asyncio.ensure_future(poll()) for _ in range(n)]
                await asyncio.sleep(1.5)  # all parked
                expect(not any(p.done() for p in polls), "a long-poll returned before any event")
                # Other requests are served while they wait.
                t0 = time.monotonic()
                async with session.get(f"{server.url}/_matrix/client/v3/account/whoami",
                                       headers={"Authorization": f"Bearer {alice.token}"}) as r:
                    expect_eq(r.status, 200, "whoami while 200 polls are parked")
                expect(time.monotonic() - t0 < 2, "whoami answered at once")
                sent_at = time.monotonic()
                event_id = await asyncio.get_running_loop().run_in_executor(
                    None, lambda: alice.send(room, "wake everyone"))
                results = await asyncio.wait_for(asyncio.gather(*polls), timeout=30)
                return event_id, sent_at, results

        event_id, sent_at, results = asyncio.run(run())
        woken = [body for status, body, _ in results if status == 200 and any(
            e.get("event_id") == event_id
            for e in body["rooms"]["join"].get(room, {}).get("timeline", {}).get("events", []))]
        expect_eq(len(woken), n, "every parked poll came back with the event")
        latest = max(t for _, _, t in results) - sent_at
        expect(latest < 10, f"all woken within seconds of the send ({latest:.2f} s)")
    finally:
        server.stop()


@e2e_test
def slow_headers_are_dropped(ctx):
    server = ctx.make_server("wire-slow", SMALL)
    server.start()
    try:
        request = b"GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 40 + b"\r\n\r\n"
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            t0 = time.monotonic()
            closed_after = None
            for byte in request:
                try:
                    s.sendall(bytes([byte]))
                except OSError:
                    closed_after = time.monotonic() - t0
                    break
                # Others are served meanwhile.
                if byte == ord("\n"):
                    still_serving(server, "a slow client's line")
                time.sleep(0.1)
                if time.monotonic() - t0 > 5:
                    break
            s.settimeout(3)
            try:
                rest = s.recv(65536)
            except OSError:
                rest = b""
            if closed_after is None:
                closed_after = time.monotonic() - t0
        expect(not rest.startswith(b"HTTP/1.1 200"), f"a slowloris request was answered: {rest[:80]!r}")
        expect(closed_after < 5, f"dropped after the header timeout, not later ({closed_after:.1f} s)")
        still_serving(server, "a slow client")
    finally:
        server.stop()


@e2e_test
def malformed_requests_answered_or_closed(ctx):
    server = ctx.make_server("wire-bad", SMALL)
    server.start()
    try:
        port = server.port
        # Not HTTP at all: 400 and a closed connection.
        answer = raw(port, b"HELLO THERE\r\n\r\n")
        expect(answer.startswith(b"HTTP/1.1 400"), f"garbage request line: {answer[:80]!r}")
        still_serving(server, "a garbage request line")
        # Headers over max_header_size: 431 and closed.
        answer = raw(port, b"GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 8192 +
                     b"\r\n\r\n")
        expect(answer.startswith(b"HTTP/1.1 431"), f"oversize headers: {answer[:80]!r}")
        still_serving(server, "oversize headers")
        # A body longer than declared: the rest is the next request, which is not HTTP.
        alice = register(server.api)
        body = json.dumps({"presence": "online"}).encode()
        req = (f"PUT /_matrix/client/v3/presence/{q(alice.user_id)}/status HTTP/1.1\r\nHost: x\r\n"
               f"Authorization: Bearer {alice.token}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body + b"TRAILING JUNK\r\n\r\n"
        answer = raw(port, req)
        expect(answer.startswith(b"HTTP/1.1 200"), f"the declared body was served: {answer[:80]!r}")
        expect(b"HTTP/1.1 400" in answer, f"the extra bytes are a bad request: {answer!r}")
        still_serving(server, "a body longer than declared")
        # A truncated chunked body, then the client goes away: nothing is left waiting.
        raw(port, b"PUT /_matrix/client/v3/profile/x/displayname HTTP/1.1\r\nHost: x\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n10\r\nabc", read=False)
        # A connection closed in the middle of its headers.
        raw(port, b"GET /_matrix/client/vers", read=False)
        # A body that never comes is dropped after body_timeout_ms.
        t0 = time.monotonic()
        answer = raw(port, b"POST /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
                     timeout=8)
        expect(time.monotonic() - t0 < 6, "a body that never comes is dropped")
        expect(not answer.startswith(b"HTTP/1.1 200"), f"an incomplete body was served: {answer[:80]!r}")
        # Expect: 100-continue gets its interim answer, then the response.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            body = json.dumps({"displayname": "Continued"}).encode()
            s.sendall((f"PUT /_matrix/client/v3/profile/{q(alice.user_id)}/displayname HTTP/1.1\r\n"
                       f"Host: x\r\nAuthorization: Bearer {alice.token}\r\nContent-Type: application/json\r\n"
                       f"Expect: 100-continue\r\nContent-Length: {len(body)}\r\n\r\n").encode())
            interim = s.recv(65536)
            expect(interim.startswith(b"HTTP/1.1 100"), f"100 Continue: {interim[:80]!r}")
            s.sendall(body)
            final = s.recv(65536)
            expect(final.startswith(b"HTTP/1.1 200"), f"after 100 Continue: {final[:80]!r}")
        name = expect_ok(server.api.get(f"/profile/{q(alice.user_id)}/displayname"))["displayname"]
        expect_eq(name, "Continued", "the body sent after 100 Continue")
        still_serving(server, "all of the above")
    finally:
        server.stop()


@e2e_test
def tls_listener(ctx):
    directory = tempfile.mkdtemp(prefix="axon-tls-")
    cert, key = os.path.join(directory, "tls.crt"), os.path.join(directory, "tls.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=localhost"], check=True, capture_output=True)
    server = ctx.make_server("wire-tls", {"tls_certificate_path": cert, "tls_private_key_path": key})
    tls_port = server.port
    server.config["listeners"][0]["tls"] = True
    # The harness polls plain HTTP: a second, plain listener for it.
    plain = dict(server.config["listeners"][0], tls=False)
    plain["port"] = free_port()
    server.config["listeners"].append(plain)
    server.url = f"http://127.0.0.1:{plain['port']}"
    server.api = Api(server.url)
    server.rewrite()
    server.start()
    try:
        context = ssl.create_default_context(cafile=cert)
        context.check_hostname = False
        url = f"https://127.0.0.1:{tls_port}/_matrix/client/versions"
        for _ in range(3):
            with urllib.request.urlopen(url, context=context, timeout=10) as r:
                expect_eq(r.status, 200, "/versions over TLS")
                expect("versions" in json.loads(r.read()), "a versions body over TLS")
        # Plain HTTP on the TLS port is not served.
        answer = raw(tls_port, b"GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5)
        expect(not answer.startswith(b"HTTP/1.1 200"), f"plain HTTP on a TLS listener: {answer[:60]!r}")
        still_serving(server, "TLS requests")
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@e2e_test
def request_ids_in_log_lines(ctx):
    # A request that causes a log line names itself in it ("PUT-42"), from accept to response.
    server = ctx.make_server("wire-ids", {})
    server.start()
    try:
        alice = register(server.api)
        expect_ok(alice.put("/sendToDevice/m.test/ids1",
                            {"messages": {"@someone:elsewhere.example": {"DEV": {"x": 1}}}}), "sendToDevice")
        def logged():
            with open(server.log_path, errors="replace") as f:
                # harness.base_config federates with no one: the remote user is skipped, logged.
                return [line for line in f if "to_device: not sending" in line]
        lines = wait_until(logged, timeout=5)
        expect(lines, "the to-device request's log line")
        expect(re.match(r"^\[PUT-\d+\] ", lines[-1]), f"the request id starts the line: {lines[-1]!r}")
    finally:
        server.stop()
