#!/usr/bin/python3
"""Runs Axon's end-to-end tests against a freshly started `axon` binary.

    run_e2e.py --engine sqlite|postgres --binary build-test/axon [-k SUBSTRING]... [--keep]

postgres needs AXON_TEST_PG (a libpq conninfo, e.g. "host=127.0.0.1 port=5433 user=postgres
dbname=postgres"; scripts/test exports it); every server gets a database created for it with
`psql`. `--layout small` (postgres) runs everything against `scripts/layout up small`, which brings
its own PostgreSQL and Redis. Exits non-zero when any test fails, after printing a summary and the server log.
"""

import argparse
import inspect
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import test_http  # noqa: E402,F401  (registers tests)
import test_rooms  # noqa: E402,F401
import test_errors  # noqa: E402,F401
import test_nio  # noqa: E402,F401
import test_media  # noqa: E402,F401
import test_account_data  # noqa: E402,F401
import test_to_device  # noqa: E402,F401
import test_presence  # noqa: E402,F401
import test_e2ee  # noqa: E402,F401
import test_cross_signing  # noqa: E402,F401
import test_directory  # noqa: E402,F401
import test_user_directory  # noqa: E402,F401
import test_pushers  # noqa: E402,F401
import test_room_keys  # noqa: E402,F401
import test_push_rules  # noqa: E402,F401
import test_notifications  # noqa: E402,F401
import test_replication  # noqa: E402,F401
import test_faults  # noqa: E402,F401
import test_layout  # noqa: E402,F401
import test_account  # noqa: E402,F401
import test_ephemeral  # noqa: E402,F401
import test_ratelimit  # noqa: E402,F401
import test_routes  # noqa: E402,F401
import test_restart  # noqa: E402,F401
import test_room_versions  # noqa: E402,F401
import test_visibility  # noqa: E402,F401
import test_sync_semantics  # noqa: E402,F401
import test_room_content  # noqa: E402,F401
import test_legacy_sync  # noqa: E402,F401
import test_http_wire  # noqa: E402,F401
import test_devices  # noqa: E402,F401
import test_federation_keys  # noqa: E402,F401
import test_federation  # noqa: E402,F401
import test_federation_edus  # noqa: E402,F401
import test_federation_rooms  # noqa: E402,F401
import test_federation_history  # noqa: E402,F401
import test_spaces  # noqa: E402,F401
import test_federation_workers  # noqa: E402,F401
import test_media_federation  # noqa: E402,F401
import test_url_preview  # noqa: E402,F401
import test_js_sdk  # noqa: E402,F401


def parse_conninfo(conninfo):
    """Parses a libpq key=value conninfo (values may be single-quoted) into a dict."""
    out, i, n = {}, 0, len(conninfo)
    while i < n:
        while i < n and conninfo[i].isspace():
            i += 1
        if i >= n:
            break
        eq = conninfo.index("=", i)
        key = conninfo[i:eq].strip()
        i = eq + 1
        while i < n and conninfo[i].isspace():
            i += 1
        value = []
        if i < n and conninfo[i] == "'":
            i += 1
            while i < n and conninfo[i] != "'":
                if conninfo[i] == "\\" and i + 1 < n:
                    i += 1
                value.append(conninfo[i])
                i += 1
            i += 1
        else:
            while i < n and not conninfo[i].isspace():
                if conninfo[i] == "\\" and i + 1 < n:
                    i += 1
                value.append(conninfo[i])
                i += 1
        out[key] = "".join(value)
    return out


class Postgres:
    """Creates (and at the end drops) one database per server on the AXON_TEST_PG cluster."""

    def __init__(self, conninfo):
        self.conninfo = conninfo
        self.params = parse_conninfo(conninfo)
        self.created = []

    def psql(self, sql):
        cmd = ["psql", self.conninfo, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"{shlex.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}")

    def new_database(self, tag):
        name = f"axon_e2e_{os.getpid()}_{tag}_{int(time.time() * 1000) % 100000000}"
        # C collation, UTF8: what Synapse requires of its databases.
        self.psql(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' "
                  f"TEMPLATE template0")
        self.created.append(name)
        args = {"user": self.params.get("user", "postgres")}
        if "password" in self.params:
            args["password"] = self.params["password"]
        args["database"] = name
        args["host"] = self.params.get("host", "127.0.0.1")
        args["port"] = int(self.params.get("port", "5432"))
        args["cp_min"] = 2
        args["cp_max"] = 8
        return {"name": "psycopg2", "args": args}

    def drop_all(self):
        for name in self.created:
            try:
                self.psql(f"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")
            except Exception as e:  # leave it: the cluster is thrown away anyway
                print(f"warning: {e}", file=sys.stderr)


def redis_address():
    redis = os.environ.get("AXON_TEST_REDIS")
    if not redis:
        sys.exit("run_e2e: --layout workers needs AXON_TEST_REDIS (host:port); scripts/test "
                 "starts a Redis and exports it")
    return redis.rsplit(":", 1)


LAYOUT_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts",
                             "layout")


class LayoutServer:
    """A whole layout run by `scripts/layout` (PostgreSQL, Redis, every instance, nginx), seen by
    the tests as one server: `url`/`api` are nginx's, `restart()` restarts every instance."""

    def __init__(self, binary, tmp, layout, proxy="nginx"):
        self.binary, self.layout, self.proxy = binary, layout, proxy
        self.name = f"layout {layout} ({proxy})"
        self.directory = os.path.join(tmp, "layout")
        self.env = dict(os.environ, AXON_BINARY=binary)
        # What the e2e tests need of every instance: open registration, the shared secret, rate
        # limits out of the way (read after homeserver.yaml; a later file replaces a whole key).
        base = harness.base_config(tmp, 1, None)
        extra = {k: v for k, v in base.items()
                 if k.startswith("rc_") or k.startswith("enable_registration")
                 or k == "registration_shared_secret"}
        self.extra_path = os.path.join(tmp, "e2e-extra.yaml")
        with open(self.extra_path, "w") as f:
            f.write("# Written by tests/e2e/run_e2e.py\n" + harness.to_yaml(extra) + "\n")
        self.config_path = os.path.join(self.directory, "config", "homeserver.yaml")
        # As `axon routes` takes them: the shared files and the workers' directory.
        self.config_args = ["-c", self.config_path, "-c", os.path.join(self.directory, "config",
                                                                       "extra1.yaml"),
                            "--workers-dir", os.path.join(self.directory, "config", "workers")]
        self.url = None
        self.api = None
        self.started = False
        self.log_path = os.path.join(self.directory, "logs")

    def _run(self, *args, timeout=180):
        cmd = [LAYOUT_SCRIPT, *args]
        r = subprocess.run(cmd, capture_output=True, text=True, env=self.env, timeout=timeout)
        if r.stderr:
            print(r.stderr.rstrip(), flush=True)
        return r

    def start(self):
        self.started = True
        r = self._run("up", self.layout, self.directory, "--proxy", self.proxy,
                      "-c", self.extra_path)
        if r.returncode != 0:
            raise harness.ServerError(f"scripts/layout up {self.layout} failed ({r.returncode})")
        self.url = r.stdout.strip().splitlines()[-1]
        self.api = harness.Api(self.url)

    def setting(self, key):
        """A value from the layout's layout.env (AXON_TEST_PG, AXON_TEST_REDIS, ...)."""
        with open(os.path.join(self.directory, "layout.env")) as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition("=")
                if k == key:
                    return v
        return None

    def restart(self):
        r = self._run("restart", self.directory)
        if r.returncode != 0:
            raise harness.ServerError(f"scripts/layout restart failed ({r.returncode})")

    def _pids(self):
        run = os.path.join(self.directory, "run")
        out = {}
        for f in sorted(os.listdir(run)) if os.path.isdir(run) else []:
            if f.endswith(".launched"):
                with open(os.path.join(run, f)) as fh:
                    out[f[:-len(".launched")]] = int(fh.read().strip())
        return out

    def alive(self):
        pids = self._pids()
        return bool(pids) and all(os.path.exists(f"/proc/{p}") for p in pids.values())

    def dead(self):
        return [n for n, p in self._pids().items() if not os.path.exists(f"/proc/{p}")]

    def stop(self):
        if not self.started:
            return None
        self.started = False
        dead = self.dead()
        r = self._run("down", self.directory)
        problems = []
        if dead:
            problems.append(f"instances had already exited: {', '.join(dead)}")
        if r.returncode != 0:
            problems.append(f"scripts/layout down failed ({r.returncode}): {r.stderr.strip()}")
        return "; ".join(problems) or None

    def instance_logs(self, lines=200):
        """(path, last lines) of every instance's log."""
        if not os.path.isdir(self.log_path):
            return []
        out = []
        for f in sorted(os.listdir(self.log_path)):
            path = os.path.join(self.log_path, f)
            with open(path, "rb") as fh:
                text = fh.read().decode("utf-8", "replace").splitlines()
            out.append((path, "\n".join(text[-lines:])))
        return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--engine", choices=["sqlite", "postgres"], required=True)
    ap.add_argument("--binary", default=os.environ.get("AXON_BINARY"),
                    help="the axon binary (default: $AXON_BINARY)")
    ap.add_argument("-k", dest="select", action="append", default=[],
                    help="run only tests whose name contains this (repeatable)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir and databases")
    ap.add_argument("--layout", choices=["monolith", "workers", "small"], default="monolith",
                    help="workers: main plus a generic worker; both write events (rooms "
                         "sharded), the worker every other stream; Redis ($AXON_TEST_REDIS, "
                         "host:port) and HTTP replication between them; users take turns between "
                         "the two (postgres only); small: scripts/layout up small (its own "
                         "PostgreSQL and Redis, six instances, nginx in front), every user "
                         "through nginx (postgres only)")
    ap.add_argument("--proxy", choices=["nginx", "haproxy"], default="nginx",
                    help="--layout small: the reverse proxy in front (scripts/layout --proxy)")
    args = ap.parse_args()
    if args.layout in ("workers", "small") and args.engine != "postgres":
        sys.exit(f"run_e2e: --layout {args.layout} needs --engine postgres")

    if not args.binary or not os.access(args.binary, os.X_OK):
        sys.exit(f"run_e2e: no executable axon binary (--binary {args.binary!r})")
    binary = os.path.abspath(args.binary)

    pg = None
    if args.engine == "postgres" and args.layout != "small":
        conninfo = os.environ.get("AXON_TEST_PG")
        if not conninfo:
            sys.exit("run_e2e: --engine postgres needs AXON_TEST_PG (a libpq conninfo); "
                     "scripts/test starts a PostgreSQL and exports it")
        pg = Postgres(conninfo)

    if args.layout == "small":
        # ctest's timeout sends SIGTERM: stop the layout's processes on the way out (finally).
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = tempfile.mkdtemp(prefix=f"axon-e2e-{args.engine}-")
    # --layout small: PostgreSQL (run as user postgres when we are root) lives in here.
    os.chmod(tmp, 0o755)
    servers = []

    def make_server(name, overrides=None):
        directory = os.path.join(tmp, name)
        os.makedirs(directory, exist_ok=True)
        if pg:
            database = pg.new_database(name)
        else:
            database = {"name": "sqlite3", "args": {"database": os.path.join(directory, "hs.db")}}
        server = harness.Server(binary, directory, database, overrides, name=name)
        servers.append(server)
        return server

    def make_worker(main_server, name, worker_keys):
        w = harness.Server(binary, os.path.join(tmp, name), None, name=name,
                           worker_of=main_server, worker=worker_keys)
        servers.append(w)
        return w

    # Tests that build their own layout of several instances need PostgreSQL, and are not
    # repeated under --layout workers.
    # Under --layout small they use the layout's PostgreSQL.
    own_ok = args.engine == "postgres" and args.layout in ("monolith", "small")
    tests = [(n, f) for n, f in harness.TESTS
             if (not args.select or any(s in n for s in args.select))
             and (own_ok or not getattr(f, "own_layout", False))]
    results = []  # (name, ok, seconds, detail)
    main_server = None
    t_start = time.monotonic()
    workers = []
    try:
        # Two events writers (rooms sharded between main and worker1), every other stream
        # written by worker1, which also updates the user directory.
        layout = (harness.workers_layout(*redis_address(), events=["main", "worker1"],
                                         user_directory="worker1")
                  if args.layout == "workers" else None)
        overrides = {k: v for k, v in (layout or {}).items() if not k.startswith("_")}
        if args.layout == "small":
            main_server = LayoutServer(binary, tmp, "small", args.proxy)
            servers.append(main_server)
        else:
            main_server = make_server("main", overrides)
        if layout:
            main_server.config["listeners"].append({
                "port": layout["_replication_listener"], "bind_addresses": ["127.0.0.1"],
                "type": "http", "resources": [{"names": ["replication"]}]})
            main_server.rewrite()
            workers.append(make_worker(main_server, "worker1", layout["_worker1"]))
        try:
            main_server.start()
            for w in workers:
                w.start()
            if args.layout == "small":
                pg = Postgres(main_server.setting("AXON_TEST_PG"))
        except harness.ServerError as e:
            results.append(("server start", False, 0.0, str(e)))
            tests = []
        ctx = harness.Context(main_server, args.engine, make_server, workers, make_worker)
        for name, fn in tests:
            t0 = time.monotonic()
            try:
                if inspect.iscoroutinefunction(fn):
                    harness.run_async(fn(ctx))
                else:
                    fn(ctx)
                ok, detail = True, ""
            except Exception as e:  # noqa: BLE001 - every failure is reported the same way
                ok = False
                if isinstance(e, harness.Failure):
                    detail = f"{e}"
                else:
                    detail = traceback.format_exc()
            seconds = time.monotonic() - t0
            results.append((name, ok, seconds, detail))
            print(f"{'PASS' if ok else 'FAIL'} {name} ({seconds:.2f} s)", flush=True)
            if not ok:
                print("    " + detail.replace("\n", "\n    "), flush=True)
            for w in workers:
                if not w.alive():
                    results.append(("worker alive", False, 0.0, f"{w.name} died during {name}"))
            if not main_server.alive():
                exit_info = (f"instances {main_server.dead()}"
                             if isinstance(main_server, LayoutServer)
                             else f"exit {main_server.proc.returncode}")
                results.append(("server alive", False, 0.0,
                                f"axon died during {name} ({exit_info})"))
                print(f"FAIL axon died during {name}; stopping", flush=True)
                break
    finally:
        # The layout goes last, its own PostgreSQL with it: drop the tests' databases before.
        for server in sorted(servers, key=lambda s: isinstance(s, LayoutServer)):
            if isinstance(server, LayoutServer) and pg and not args.keep:
                pg.drop_all()
                pg = None
            problem = server.stop()
            if problem:
                results.append((f"{server.name} shutdown", False, 0.0, problem))
        failed = [r for r in results if not r[1]]
        print()
        label = args.engine + (", workers" if workers else "") + (
            f", layout small, {args.proxy}" if args.layout == "small" else "")
        print(f"e2e ({label}): {len(results) - len(failed)} passed, {len(failed)} failed, "
              f"{time.monotonic() - t_start:.1f} s")
        for name, _, _, detail in failed:
            lines = detail.strip().splitlines() or [""]
            short = lines[-1] if lines[0].startswith("Traceback") else lines[0]
            print(f"  FAILED {name}: {short[:300]}")
        if failed:
            for server in servers:
                if isinstance(server, LayoutServer):
                    for path, tail in server.instance_logs(200):
                        print(f"\n---- {path} (last 200 lines) ----")
                        print(tail)
                    continue
                print(f"\n---- {server.log_path} (last 200 lines) ----")
                print(server.log_tail(200))
        if args.keep:
            print(f"kept {tmp}" + (f" and databases {pg.created}" if pg else ""))
        else:
            if pg:
                pg.drop_all()
            subprocess.run(["rm", "-rf", tmp], check=False)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
