"""Test harness for Axon's end-to-end tests: the real binary, real clients.

What is here:
- `Server`: writes a Synapse-format homeserver.yaml into a temp dir, generates the signing key,
  starts `axon -c <cfg>` with its output in a log file, waits for /versions, stops it.
- `Api` / `Response`: a small urllib client that never raises on HTTP errors.
- `User` and `register()`: a registered account (User-Interactive Auth, m.login.dummy).
- `e2e_test`: the decorator that registers a test; `expect*`: assertions with useful messages.

Tests are plain functions `fn(ctx)` (or `async def` for matrix-nio) taking a `Context`.
"""

import asyncio
import itertools
import json
import os
import random
import shlex
import signal
import socket
import string
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

CLIENT = "/_matrix/client/v3"
CLIENT_R0 = "/_matrix/client/r0"
SERVER_NAME = "localhost"
# base_config's old_signing_keys entry (a real ed25519 public key).
OLD_KEY_ID = "ed25519:old_1"
OLD_KEY_B64 = "Noi6WqcDj0QmPxCNQqgezwTlBKrfqehY1u2FyWP9uYw"
OLD_KEY_EXPIRED_TS = 1600000000000

# Rate limits high enough that no test trips them, except the rate-limit test's own server.
HIGH = {"per_second": 10000, "burst_count": 10000}


# ---------------------------------------------------------------------------------------------
# Test registry and assertions


TESTS = []  # (qualified name, function), in definition order


def e2e_test(fn):
    """Registers `fn(ctx)` (plain or async) as an end-to-end test."""
    module = fn.__module__.split(".")[-1]
    TESTS.append((f"{module}.{fn.__name__}", fn))
    return fn


def layout_test(fn):
    """Registers a test that builds its own layout of several instances (ctx.start_layout):
    run with --engine postgres (several instances need a shared PostgreSQL), not with
    --layout workers (it brings its own)."""
    fn.own_layout = True
    return e2e_test(fn)


def workers_layout(redis_host, redis_port, writer_of=None, events="main", user_directory="main"):
    """homeserver.yaml keys for main + worker1, and (under "_worker1") worker1's own file keys:
    the streams in `writer_of` (default: every stream but events) written by worker1, the
    events stream by `events`, the user directory updated by `user_directory`, Redis and HTTP
    replication between them. Keys starting with "_"
    are not for homeserver.yaml: "_replication_listener" is main's replication port."""
    rep_main, rep_w1 = free_port(), free_port()
    streams = writer_of if writer_of is not None else [
        "typing", "to_device", "account_data", "receipts", "presence", "push_rules",
        "device_lists"]
    return {
        "redis": {"enabled": True, "host": redis_host, "port": int(redis_port)},
        "worker_replication_secret": "e2e-replication-secret",
        "instance_map": {"main": {"host": "127.0.0.1", "port": rep_main},
                         "worker1": {"host": "127.0.0.1", "port": rep_w1}},
        "stream_writers": {"events": events, **{s: "worker1" for s in streams}},
        "update_user_directory_from_worker": user_directory,
        "_replication_listener": rep_main,
        "_worker1": {
            "worker_app": "generic_worker",
            "worker_name": "worker1",
            "worker_listeners": [{"port": rep_w1, "bind_addresses": ["127.0.0.1"], "type": "http",
                                  "resources": [{"names": ["replication"]}]}],
        },
    }


class Failure(AssertionError):
    pass


def expect(condition, message):
    if not condition:
        raise Failure(message)


def expect_eq(actual, expected, what):
    if actual != expected:
        raise Failure(f"{what}: expected {expected!r}, got {actual!r}")


def expect_status(resp, status, what=""):
    """Checks an HTTP status; returns the decoded JSON body."""
    if resp.status != status:
        raise Failure(f"{what + ': ' if what else ''}expected HTTP {status}, got {resp}")
    return resp.json


def expect_ok(resp, what=""):
    return expect_status(resp, 200, what)


def expect_error(resp, status, errcode, what=""):
    """Checks a Matrix error response: HTTP status, `errcode`, and that `error` is a string."""
    prefix = f"{what}: " if what else ""
    body = resp.json
    if resp.status != status or not isinstance(body, dict) or body.get("errcode") != errcode:
        raise Failure(f"{prefix}expected HTTP {status} {errcode}, got {resp}")
    if not isinstance(body.get("error"), str):
        raise Failure(f"{prefix}error response without an 'error' string: {resp}")
    return body


# ---------------------------------------------------------------------------------------------
# HTTP


def q(part):
    """Percent-encodes one path segment (room ids, aliases, event ids, user ids)."""
    return urllib.parse.quote(part, safe="")


class Response:
    def __init__(self, method, url, status, headers, body):
        self.method, self.url, self.status, self.headers, self.body = method, url, status, headers, body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        text = self.body[:600].decode("utf-8", "replace")
        return f"HTTP {self.status} for {self.method} {self.url}: {text}"


class Api:
    """A blocking HTTP client for one homeserver. Never raises on HTTP error statuses."""

    def __init__(self, base_url):
        self.base = base_url.rstrip("/")

    def request(self, method, path, body=None, token=None, query=None, raw=None,
                headers=None, timeout=60):
        """`body` is sent as JSON; `raw` (bytes) is sent as is; `path` starts with /_matrix (or
        /.well-known/) or is relative to the v3 client API ("/sync" means /_matrix/client/v3/sync)."""
        if not path.startswith(("/_", "/.well-known/")):
            path = CLIENT + path
        url = self.base + path
        if query:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(query)
        data = raw
        all_headers = {}
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            all_headers["Content-Type"] = "application/json"
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        all_headers.update(headers or {})
        req = urllib.request.Request(url, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return Response(method, url, r.status, _lower(r.headers), r.read())
        except urllib.error.HTTPError as e:
            return Response(method, url, e.code, _lower(e.headers), e.read())

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


def _lower(headers):
    return {k.lower(): v for k, v in headers.items()}


# ---------------------------------------------------------------------------------------------
# Accounts

_counter = itertools.count(1)


def unique(prefix="user"):
    """A fresh, valid localpart."""
    suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=4))
    return f"{prefix}{next(_counter)}_{suffix}"


class User:
    """A logged-in account; `get/post/put/delete` send its access token."""

    def __init__(self, api, localpart, password, user_id, token, device_id):
        self.api, self.localpart, self.password = api, localpart, password
        self.user_id, self.token, self.device_id = user_id, token, device_id

    def request(self, method, path, **kw):
        kw.setdefault("token", self.token)
        return self.api.request(method, path, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    # Shortcuts for the calls most tests need; each checks for 200.

    def create_room(self, **content):
        return expect_ok(self.post("/createRoom", content), "createRoom")["room_id"]

    def join(self, room_id_or_alias):
        return expect_ok(self.post(f"/join/{q(room_id_or_alias)}", {}), "join")["room_id"]

    def invite(self, room_id, user):
        expect_ok(self.post(f"/rooms/{q(room_id)}/invite", {"user_id": user.user_id}), "invite")

    def send(self, room_id, body, txn=None, msgtype="m.text", event_type="m.room.message"):
        txn = txn or f"t{next(_counter)}_{time.monotonic_ns()}"
        resp = self.put(f"/rooms/{q(room_id)}/send/{q(event_type)}/{q(txn)}",
                        {"msgtype": msgtype, "body": body})
        return expect_ok(resp, f"send {body!r}")["event_id"]

    def state(self, room_id):
        return expect_ok(self.get(f"/rooms/{q(room_id)}/state"), "GET /state")

    def messages(self, room_id, dir="b", limit=100, **params):
        query = {"dir": dir, "limit": str(limit), **params}
        return expect_ok(self.get(f"/rooms/{q(room_id)}/messages", query=query), "/messages")

    def sync(self, since=None, timeout=0, filter=None, **extra):
        query = {"timeout": str(timeout), **extra}
        if since:
            query["since"] = since
        if filter is not None:
            query["filter"] = filter if isinstance(filter, str) else json.dumps(filter)
        return expect_ok(self.get("/sync", query=query, timeout=timeout / 1000 + 60), "/sync")

    def __repr__(self):
        return self.user_id


def register(api, localpart=None, password="correct horse battery"):
    """Registers through the two-step User-Interactive Auth flow (m.login.dummy)."""
    localpart = localpart or unique()
    first = api.post("/register", {"username": localpart, "password": password})
    body = expect_status(first, 401, "register without auth")
    session = body.get("session")
    second = api.post("/register", {
        "username": localpart, "password": password,
        "auth": {"type": "m.login.dummy", "session": session},
    })
    body = expect_ok(second, "register with m.login.dummy")
    return User(api, localpart, password, body["user_id"], body["access_token"], body["device_id"])


def timeline_bodies(events):
    return [e["content"].get("body") for e in events if e.get("type") == "m.room.message"]


def room_snapshot(user, room_id):
    """What a rejected request must leave untouched: the room's state and its latest events."""
    state = sorted((e["type"], e["state_key"], e["event_id"]) for e in user.state(room_id))
    latest = [e["event_id"] for e in user.messages(room_id, limit=20)["chunk"]]
    return {"state": state, "latest": latest}


def wait_until(predicate, timeout=5.0, interval=0.05):
    """Polls `predicate` until it returns a true value or `timeout` seconds pass; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------
# Server process


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def to_yaml(value, indent=0):
    """A minimal YAML writer for dicts, lists, strings, numbers and booleans."""
    pad = "  " * indent
    lines = []
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, (dict, list)) and v:
                lines.append(f"{pad}{k}:")
                lines.append(to_yaml(v, indent + 1))
            else:
                lines.append(f"{pad}{k}: {_scalar(v)}")
    elif isinstance(value, list):
        for v in value:
            if isinstance(v, dict) and v:
                inner = to_yaml(v, indent + 1).split("\n")
                lines.append(f"{pad}- {inner[0].lstrip()}")
                lines.extend(inner[1:])
            elif isinstance(v, list) and v:
                lines.append(f"{pad}-")
                lines.append(to_yaml(v, indent + 1))
            else:
                lines.append(f"{pad}- {_scalar(v)}")
    return "\n".join(lines)


def _scalar(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, dict):
        return "{}"
    if isinstance(v, list):
        return "[]"
    return json.dumps(v)  # a JSON string is a valid YAML double-quoted scalar


def base_config(directory, port, database):
    """A Synapse-format homeserver.yaml as a dict."""
    return {
        "server_name": SERVER_NAME,
        "report_stats": False,
        "pid_file": os.path.join(directory, "homeserver.pid"),
        "listeners": [{
            "port": port,
            "bind_addresses": ["127.0.0.1"],
            "type": "http",
            "tls": False,
            "x_forwarded": False,
            "resources": [{"names": ["client", "federation"], "compress": False}],
        }],
        "database": database,
        "media_store_path": os.path.join(directory, "media_store"),
        "signing_key_path": os.path.join(directory, "hs.signing.key"),
        "trusted_key_servers": [],
        # Federate with no one: a test's remote user ids are never looked up, nothing leaves
        # loopback. Federation tests (fedlib) remove it.
        "federation_domain_whitelist": [],
        # A rotated key, published as old_verify_keys (test_federation_keys).
        "old_signing_keys": {OLD_KEY_ID: {"key": OLD_KEY_B64, "expired_ts": OLD_KEY_EXPIRED_TS}},
        "key_refresh_interval": "2h",
        "enable_registration": True,
        "enable_registration_without_verification": True,
        "registration_shared_secret": "s3cret",
        "rc_message": dict(HIGH),
        "rc_registration": dict(HIGH),
        "rc_login": {"address": dict(HIGH), "account": dict(HIGH), "failed_attempts": dict(HIGH)},
        "rc_joins": {"local": dict(HIGH), "remote": dict(HIGH)},
        "rc_invites": {"per_room": dict(HIGH), "per_user": dict(HIGH), "per_issuer": dict(HIGH)},
        "rc_room_creation": dict(HIGH),
        "rc_admin_redaction": dict(HIGH),
    }


class ServerError(Exception):
    pass


class Server:
    """One `axon` process with its own config, database and log file inside `directory`."""

    def __init__(self, binary, directory, database, overrides=None, name="hs", worker_of=None,
                 worker=None):
        """`worker_of` (a Server) and `worker` (the worker file's keys, without its client
        listener, which is added here): this is a worker of that server's homeserver.yaml."""
        self.binary, self.directory, self.name = binary, directory, name
        os.makedirs(directory, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = Api(self.url)
        self.log_path = os.path.join(directory, f"{name}.log")
        self.proc = None
        self._log = None
        if worker_of is not None:
            self.config = dict(worker_of.config)
            worker = dict(worker)
            worker["worker_listeners"] = [{
                "port": self.port, "bind_addresses": ["127.0.0.1"], "type": "http",
                "resources": [{"names": ["client"]}],
            }] + list(worker.get("worker_listeners", []))
            worker["worker_pid_file"] = os.path.join(directory, "worker.pid")
            self.config_path = os.path.join(directory, "worker.yaml")
            self.config_args = ["-c", worker_of.config_path, "-c", self.config_path]
            with open(self.config_path, "w") as f:
                f.write("# Written by tests/e2e/harness.py\n" + to_yaml(worker) + "\n")
            return
        self.config = base_config(directory, self.port, database)
        self.config.update(overrides or {})
        self.config_path = os.path.join(directory, "homeserver.yaml")
        self.config_args = ["-c", self.config_path]
        with open(self.config_path, "w") as f:
            f.write("# Written by tests/e2e/harness.py\n" + to_yaml(self.config) + "\n")

    def rewrite(self):
        """Writes self.config again (after a change, before start)."""
        with open(self.config_path, "w") as f:
            f.write("# Written by tests/e2e/harness.py\n" + to_yaml(self.config) + "\n")

    def _run_once(self, *args):
        cmd = [self.binary, *self.config_args, *args]
        with open(self.log_path, "ab") as log:
            log.write(f"$ {shlex.join(cmd)}\n".encode())
            log.flush()
            rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, timeout=60).returncode
        if rc != 0:
            raise ServerError(f"{shlex.join(cmd)} exited with {rc}")

    def start(self, timeout=30):
        if not os.path.exists(self.config["signing_key_path"]):
            self._run_once("--generate-keys")
        cmd = [self.binary, *self.config_args]
        self._log = open(self.log_path, "ab")
        self._log.write(f"$ {shlex.join(cmd)}\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(f"axon exited with {self.proc.returncode} during start-up")
            try:
                if self.api.get("/_matrix/client/versions", timeout=2).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise ServerError(f"axon did not answer /_matrix/client/versions within {timeout} s")

    def stop(self, timeout=15):
        """Stops the server with SIGTERM (SIGKILL after `timeout`); returns a problem or None."""
        if self.proc is None:
            return None
        problem = None
        if self.proc.poll() is not None:
            problem = f"axon had already exited with {self.proc.returncode}"
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout)
                if rc not in (0, -signal.SIGTERM):
                    problem = f"axon exited with {rc} on SIGTERM"
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                problem = f"axon did not stop within {timeout} s of SIGTERM"
        self.proc = None
        self._log.close()
        return problem

    def restart(self):
        problem = self.stop()
        if problem:
            raise ServerError(problem)
        self.start()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines=200):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])


class Context:
    """What a test gets: the server, an API client for it and the engine name."""

    def __init__(self, server, engine, make_server, workers=(), make_worker=None):
        self.server = server
        # make_worker(main_server, name, worker_keys) -> a worker Server of that main's config.
        self.make_worker = make_worker
        self.api = server.api
        self.url = server.url
        self.engine = engine
        # make_server(name, overrides) -> a new, not yet started Server on a fresh database.
        self.make_server = make_server
        # With workers, users take turns among the instances' client listeners, so the two
        # users of a conversation are served by different processes.
        self.apis = [server.api] + [w.api for w in workers]
        self._turn = 0

    def start_layout(self, name, layout):
        """Starts main + worker1 for `layout` (from workers_layout) on a fresh database; returns
        (main, worker1). Stop both when done (stop_all)."""
        overrides = {k: v for k, v in layout.items() if not k.startswith("_")}
        main = self.make_server(name, overrides)
        main.config["listeners"].append({
            "port": layout["_replication_listener"], "bind_addresses": ["127.0.0.1"],
            "type": "http", "resources": [{"names": ["replication"]}]})
        main.rewrite()
        worker = self.make_worker(main, name + "-worker1", layout["_worker1"])
        main.start()
        worker.start()
        return main, worker

    def user(self, localpart=None):
        api = self.apis[self._turn % len(self.apis)]
        self._turn += 1
        return register(api, localpart)


def run_async(coro):
    return asyncio.run(coro)
