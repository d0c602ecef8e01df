"""`axon routes nginx|haproxy` (reverse-proxy routes for a worker layout): command-line
errors, a three-instance layout whose nginx config passes `nginx -t`, and a real nginx
started with the generated config in front of the running server."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import harness
from harness import e2e_test, expect, expect_eq, expect_ok, free_port, q, register, to_yaml

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def _binary(ctx):
    return ctx.server.binary


def _routes(ctx, *args):
    return subprocess.run([_binary(ctx), "routes", *args], capture_output=True, text=True,
                          timeout=60)


def _write(path, value):
    with open(path, "w") as f:
        f.write(to_yaml(value) + "\n")
    return path


def _layout(directory, events=None):
    """main (client, federation) + w1 (client; typing and receipts writer) + w2 (client,
    media; presence writer), all on 127.0.0.1; `events`: the events writers, if any. Returns
    (shared files, worker files)."""
    shared = {
        "server_name": "routes.example.org",
        "max_upload_size": "20M",
        "database": {"name": "psycopg2", "args": {"user": "axon", "dbname": "axon"}},
        "listeners": [
            {"port": 18008, "bind_addresses": ["127.0.0.1"], "type": "http", "x_forwarded": True,
             "resources": [{"names": ["client", "federation"]}]},
            {"port": 19093, "bind_addresses": ["127.0.0.1"], "type": "http",
             "resources": [{"names": ["replication"]}]},
        ],
        "redis": {"enabled": True},
        "instance_map": {"main": {"host": "127.0.0.1", "port": 19093},
                         "w1": {"host": "127.0.0.1", "port": 19101},
                         "w2": {"host": "127.0.0.1", "port": 19102}},
        "stream_writers": {"typing": "w1", "receipts": ["w1", "w2"], "presence": "w2"},
    }
    if events:
        shared["stream_writers"]["events"] = events
    main = _write(os.path.join(directory, "homeserver.yaml"), shared)
    workers_dir = os.path.join(directory, "workers")
    os.makedirs(workers_dir, exist_ok=True)
    files = []
    for name, port, repl, res in (("w1", 18101, 19101, ["client"]),
                                  ("w2", 18102, 19102, ["client", "media"])):
        files.append(_write(os.path.join(workers_dir, f"{name}.yaml"), {
            "worker_app": "generic_worker", "worker_name": name,
            "worker_listeners": [
                {"port": repl, "bind_addresses": ["127.0.0.1"], "type": "http",
                 "resources": [{"names": ["replication"]}]},
                {"port": port, "bind_addresses": ["127.0.0.1"], "type": "http",
                 "x_forwarded": True, "resources": [{"names": res}]},
            ]}))
    return [main], files, workers_dir


def _nginx_conf(directory, snippet, extra=""):
    """A whole nginx.conf around the generated http-context snippet, everything in `directory`."""
    gen = os.path.join(directory, "axon.conf")
    with open(gen, "w") as f:
        f.write(snippet)
    conf = os.path.join(directory, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""{extra}
pid {directory}/nginx.pid;
error_log {directory}/error.log;
events {{}}
http {{
    access_log {directory}/access.log;
    client_body_temp_path {directory}/body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    include {gen};
}}
""")
    return conf


@e2e_test
def routes_command_errors(ctx):
    cfg = ctx.server.config_path
    r = _routes(ctx, "apache", "-c", cfg)
    expect_eq(r.returncode, 1, f"unknown proxy kind: {r.stderr}")
    expect("apache" in r.stderr and not r.stdout, f"stderr names the kind, stdout empty: {r}")

    missing = os.path.join(tempfile.gettempdir(), "axon-no-such-file.yaml")
    r = _routes(ctx, "nginx", "-c", missing)
    expect_eq(r.returncode, 1, f"unreadable file: {r.stderr}")
    expect(missing in r.stderr and not r.stdout, f"stderr names the file: {r.stderr!r}")

    with tempfile.TemporaryDirectory() as d:
        shared, workers, _ = _layout(d)
        bad = _write(os.path.join(d, "bad.yaml"), {
            "worker_app": "generic_worker", "worker_name": "bad",
            "worker_listeners": [{"port": 99999, "type": "http",
                                  "resources": [{"names": ["client"]}]}]})
        r = _routes(ctx, "nginx", "-c", shared[0], "--worker", bad)
        expect_eq(r.returncode, 1, f"bad worker file: {r.stderr}")
        expect("bad.yaml" in r.stderr and "worker_listeners[0].port" in r.stderr,
               f"stderr names the worker file and key: {r.stderr!r}")
        r = _routes(ctx, "nginx", "-c", shared[0], "--worker", shared[0])
        expect_eq(r.returncode, 1, f"a non-worker file as --worker: {r.stderr}")
        r = _routes(ctx, "haproxy", "-c", shared[0], "--listen", "0")
        expect(r.returncode != 0 and "--listen" in r.stderr, f"bad --listen: {r}")
        r = _routes(ctx, "nginx", "-c", shared[0], "--workers-dir", os.path.join(d, "nope"))
        expect(r.returncode == 1 and "nope" in r.stderr, f"missing --workers-dir: {r}")
        r = _routes(ctx, "haproxy", "-c", shared[0], "--js-dir", d)
        expect(r.returncode == 2 and "--js-dir" in r.stderr and not r.stdout,
               f"--js-dir is for nginx: {r}")
        r = _routes(ctx, "nginx", "-c", shared[0], "--js-dir", os.path.join(d, "nope"))
        expect(r.returncode == 1 and "nope" in r.stderr and not r.stdout,
               f"missing --js-dir: {r}")


@e2e_test
def routes_nginx_layout_passes_nginx_t(ctx):
    expect(os.access(NGINX, os.X_OK), f"nginx is needed for this test ({NGINX}); scripts/setup "
                                      "installs it")
    with tempfile.TemporaryDirectory() as d:
        shared, workers, workers_dir = _layout(d)
        by_file = _routes(ctx, "nginx", "-c", shared[0], "--worker", workers[0], "--worker",
                          workers[1], "--listen", "18448")
        expect_eq(by_file.returncode, 0, f"axon routes nginx: {by_file.stderr}")
        by_dir = _routes(ctx, "nginx", "-c", shared[0], "--workers-dir", workers_dir,
                         "--listen", "18448")
        expect_eq(by_dir.stdout, by_file.stdout, "--workers-dir is the same as each --worker")
        text = by_file.stdout

        expect("listen 18448;" in text, "listen port")
        expect("client_max_body_size 20971520;" in text, "max_upload_size")
        expect(re.search(r"upstream axon_typing \{\n\s+server 127\.0\.0\.1:18101;", text),
               "typing goes to its writer w1")
        expect(re.search(r"upstream axon_receipts \{\n\s+hash \$axon_room consistent;\n"
                         r"\s+server 127\.0\.0\.1:18101;.*\n\s+server 127\.0\.0\.1:18102;", text),
               "receipts hashed by room over its two writers")
        expect(re.search(r"upstream axon_media \{\n\s+server 127\.0\.0\.1:18102;", text),
               "media to the instance with the media resource")
        expect(re.search(r"upstream axon_federation_send \{\n\s+hash \$remote_addr consistent;\n"
                         r"\s+server 127\.0\.0\.1:18008;", text), "federation /send by origin")
        expect("map $http_authorization $axon_user" in text, "sticky /sync map")
        for port in ("19093", "19101", "19102"):
            expect(port not in text, f"replication listener {port} never routed")

        conf = _nginx_conf(d, text)
        t = subprocess.run([NGINX, "-t", "-p", d, "-c", conf], capture_output=True, text=True,
                           timeout=60)
        expect_eq(t.returncode, 0, f"nginx -t on the generated config:\n{t.stderr}\n{text}")

        hap = _routes(ctx, "haproxy", "-c", shared[0], "--workers-dir", workers_dir)
        expect_eq(hap.returncode, 0, f"axon routes haproxy: {hap.stderr}")
        for needle in ("frontend axon\n", "bind :8008\n", "default_backend axon_client\n",
                       "backend axon_typing\n", "server w1 127.0.0.1:18101\n",
                       "balance hash var(txn.axon_user)"):
            expect(needle in hap.stdout, f"haproxy output has {needle!r}")
        used = set(re.findall(r"use_backend (\S+)", hap.stdout))
        defined = set(re.findall(r"^backend (\S+)$", hap.stdout, re.M))
        expect(used <= defined, f"every backend used is defined: {used - defined}")


@e2e_test
def routes_nginx_in_front_of_the_server(ctx):
    """The generated config, run by a real nginx in front of this test's server(s)."""
    expect(os.access(NGINX, os.X_OK), f"nginx is needed for this test ({NGINX})")
    args = list(ctx.server.config_args)
    gen = _routes(ctx, "nginx", *args, "--listen", str(free_port()))
    expect_eq(gen.returncode, 0, f"axon routes nginx: {gen.stderr}")
    port = int(re.search(r"listen (\d+);", gen.stdout).group(1))
    with tempfile.TemporaryDirectory() as d:
        os.chmod(d, 0o755)
        conf = _nginx_conf(d, gen.stdout, extra="daemon off;\nmaster_process off;")
        proc = subprocess.Popen([NGINX, "-p", d, "-c", conf], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        try:
            proxy = harness.Api(f"http://127.0.0.1:{port}")
            deadline = time.monotonic() + 10
            while True:
                try:
                    if proxy.get("/_matrix/client/versions", timeout=2).status == 200:
                        break
                except OSError:
                    pass
                expect(proc.poll() is None, f"nginx exited: {proc.stderr.read()}")
                expect(time.monotonic() < deadline, "nginx did not answer within 10 s")
                time.sleep(0.05)

            alice = register(proxy)
            room = alice.create_room()
            event_id = alice.send(room, "through the proxy")
            expect(event_id, "send through the proxy")
            first = alice.sync()  # initial sync: the initial-sync upstream
            expect(room in first["rooms"]["join"], "initial /sync through the proxy")
            expect_ok(alice.put(f"/rooms/{q(room)}/typing/{q(alice.user_id)}",
                                {"typing": True, "timeout": 10000}), "typing via its writer")
            later = alice.sync(since=first["next_batch"])  # incremental: the sync upstream
            expect("next_batch" in later, "incremental /sync through the proxy")
            # Query-string tokens reach the server too.
            resp = proxy.get("/_matrix/client/v3/account/whoami",
                             query={"access_token": alice.token})
            expect_eq(expect_ok(resp, "whoami")["user_id"], alice.user_id, "whoami via ?access_token")
            # Replication is never exposed.
            resp = proxy.post("/_axon/replication/anything", {})
            expect_eq(resp.status, 404, "replication refused by the proxy")
            expect_eq((resp.json or {}).get("errcode"), "M_UNRECOGNIZED", "refusal errcode")
            resp = proxy.get("/_matrix/client/v3/not_an_endpoint", token=alice.token)
            expect_eq(resp.status, 404, "unknown endpoint via the default upstream")
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# --- event writes to the room's events writer -------------------------------------------------

NJS_MODULE = "/usr/lib/nginx/modules/ngx_http_js_module.so"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def _writer_index(room_id, n):
    """Synapse's sharding (and config::stream_writer_for): the little-endian sha256 mod n."""
    return int.from_bytes(hashlib.sha256(room_id.encode("utf-8")).digest(), "little") % n


def _rooms(count):
    return [f"!{i:04d}shard{i * 7919 % 1000}:routes.example.org" for i in range(count)]


@e2e_test
def routes_shard_rooms_like_the_server(ctx):
    """Three events writers (w1, main, w2 -- not the instances' order): the nginx snippet with
    its njs module passes `nginx -t` with the module loaded; the module, run by node, gives each
    room Synapse's writer; the haproxy config passes `haproxy -c` and its converter arithmetic
    gives the same writers."""
    with tempfile.TemporaryDirectory() as d:
        shared, _, workers_dir = _layout(d, events=["w1", "main", "w2"])
        js_dir = os.path.join(d, "js")
        os.makedirs(js_dir)
        gen = _routes(ctx, "nginx", "-c", shared[0], "--workers-dir", workers_dir,
                      "--js-dir", js_dir, "--listen", str(free_port()))
        expect_eq(gen.returncode, 0, f"axon routes nginx --js-dir: {gen.stderr}")
        module = os.path.join(js_dir, "axon_routes.js")
        expect(os.path.isfile(module), "--js-dir writes axon_routes.js")
        expect(f"js_import axon_routes from {module};" in gen.stdout, "the snippet imports it")
        expect("proxy_pass http://$axon_events_upstream;" in gen.stdout, "sends use the shard")
        if os.path.exists(NJS_MODULE):
            conf = _nginx_conf(d, gen.stdout, extra=f"load_module {NJS_MODULE};")
            t = subprocess.run([NGINX, "-t", "-p", d, "-c", conf], capture_output=True,
                               text=True, timeout=60)
            expect_eq(t.returncode, 0, f"nginx -t with njs:\n{t.stderr}")
        rooms = _rooms(200)
        want = [_writer_index(r, 3) for r in rooms]
        node = shutil.which("node") or shutil.which("nodejs")
        if node:
            # The same module under node (its crypto has njs's createHash): ESM for `export default`.
            mjs = os.path.join(js_dir, "check.mjs")
            with open(mjs, "w") as f:
                f.write("import { createRequire } from 'module';\n"
                        "const require = createRequire(import.meta.url);\n"
                        + open(module).read().replace("export default", "const axon =")
                        + "\nconst rooms = JSON.parse(process.argv[2]);\n"
                        "console.log(JSON.stringify(rooms.map(r => axon.room_shard(\n"
                        "    {uri: '/_matrix/client/v3/rooms/' + r + '/send/m.room.message/1'}))));\n")
            r = subprocess.run([node, mjs, json.dumps(rooms)], capture_output=True, text=True,
                               timeout=60)
            expect_eq(r.returncode, 0, f"node on the njs module: {r.stderr}")
            got = [int(x) for x in json.loads(r.stdout)]
            expect_eq(got, want, "njs module's writer index == Synapse's")

        hap = _routes(ctx, "haproxy", "-c", shared[0], "--workers-dir", workers_dir)
        expect_eq(hap.returncode, 0, f"axon routes haproxy: {hap.stderr}")
        terms = [(int(i), int(w)) for i, w in
                 re.findall(r"bytes\((\d+),1\),hex,hex2i,mul\((\d+)\)", hap.stdout)]
        mod = int(re.search(r"var\(txn\.axon_sum\),mod\((\d+)\)", hap.stdout).group(1))
        expect_eq(mod, 3, "mod the number of writers")
        for room, w in zip(rooms, want):
            digest = hashlib.sha256(room.encode()).digest()
            expect_eq(sum(digest[i] * weight for i, weight in terms) % mod, w,
                      f"haproxy arithmetic for {room}")
        if os.access(HAPROXY, os.X_OK):
            cfg_path = os.path.join(d, "haproxy.cfg")
            with open(cfg_path, "w") as f:
                f.write(hap.stdout)
            c = subprocess.run([HAPROXY, "-c", "-f", cfg_path], capture_output=True, text=True,
                               timeout=60)
            expect_eq(c.returncode, 0, f"haproxy -c:\n{c.stdout}{c.stderr}")


@e2e_test
def routes_event_writes_reach_their_writer(ctx):
    """Under `--layout small`: sends and state into many rooms through the real proxy (nginx
    with njs, or haproxy) each land on the room's own events writer (the proxy's access log
    names the upstream). Elsewhere: nothing to check (no events writers behind a proxy)."""
    server = ctx.server
    if not getattr(server, "proxy", None):
        return
    directory = server.directory
    with open(os.path.join(directory, "config", "homeserver.yaml")) as f:
        writers = re.search(r"^\s+events:\s*\[([^\]]*)\]", f.read(), re.M).group(1)
    writers = [w.strip() for w in writers.split(",")]
    expect(len(writers) > 1, f"the layout shards events: {writers}")
    ports = {}
    with open(os.path.join(directory, "ports.env")) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            m = re.match(r"PORT_(.+)_CLIENT$", k)
            if m:
                ports[f"127.0.0.1:{v}"] = m.group(1).lower()
    alice = register(server.api)
    rooms = [alice.create_room() for _ in range(24)]
    tag = f"shard{int(time.time() * 1000)}"
    expected = {}
    for n, room in enumerate(rooms):
        txn = f"{tag}-{n}"
        expect_ok(alice.put(f"/rooms/{q(room)}/send/m.room.message/{txn}",
                            {"msgtype": "m.text", "body": txn}), f"send {txn}")
        expected[txn] = writers[_writer_index(room, len(writers))]
        state_key = f"{tag}s{n}"
        expect_ok(alice.put(f"/rooms/{q(room)}/state/m.room.topic/{state_key}",
                            {"topic": state_key}), f"state {state_key}")
        expected[state_key] = expected[txn]
    log = os.path.join(directory, server.proxy, "access.log")
    deadline = time.monotonic() + 5
    while True:
        seen = {}
        with open(log, errors="replace") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 3 or tag not in parts[1]:
                    continue
                key = parts[1].rstrip("/").rsplit("/", 1)[-1].split("?")[0]
                upstream = parts[2]
                # nginx: 127.0.0.1:PORT; haproxy: backend/server (server = instance name).
                seen[key] = ports.get(upstream, upstream.rpartition("/")[2])
        if len(seen) >= len(expected) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    wrong = {k: (v, seen.get(k)) for k, v in expected.items() if seen.get(k) != v}
    expect(not wrong, f"{len(wrong)} of {len(expected)} event writes not handled by the "
                      f"room's writer (key: (owner, handled by)): {wrong}")
