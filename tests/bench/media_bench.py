#!/usr/bin/python3
"""The media repository (media issue's benchmark), one Axon on SQLite in a temp dir:

  upload:     1 MiB and 50 MiB files, MB/s from the first byte sent to the answer, and the
              server's resident memory during the 50 MiB upload (peak minus before);
  download:   the same files once stored, MB/s (one connection, keep-alive);
  small:      downloads per second of a 100 KiB file, --clients connections at once in
              --procs client processes, keep-alive, for --seconds.

  thumbnails: the upload of a 4000x3000 JPEG as image/jpeg minus the same bytes as
              application/octet-stream: the time the server spends making its thumbnails at
              upload (both Axon and Synapse make them before answering);

    media_bench.py --binary build/axon [--clients 20] [--procs 4] [--seconds 5] [--runs 3]
    media_bench.py --synapse /opt/synapse-1.67 [...]   the same scenarios on Synapse 1.67
                                                       (legacy routes; ../shared/tools/synapse)

The thumbnails alone are also timed in-process (build/axon-thumbnail-bench).
"""
import argparse
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import harness  # noqa: E402


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def read_response(sock, buf):
    """Reads one HTTP response on a keep-alive connection: (status, body length). `buf` holds
    bytes already read past the previous response."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    del buf[:]
    have = len(rest)
    if have >= length:
        buf += rest[length:]
        return status, length
    # Large bodies: into a reused buffer, not a growing string.
    view = bytearray(min(length - have, 4 << 20))
    left = length - have
    while left:
        n = sock.recv_into(view, min(left, len(view)))
        if n == 0:
            raise ConnectionError("closed mid-body")
        left -= n
    return status, length


def connect(url):
    parts = urllib.parse.urlsplit(url)
    s = socket.create_connection((parts.hostname, parts.port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def upload(url, token, data, content_type="application/octet-stream"):
    """POST /upload: (server/id, seconds from the first byte sent to the whole answer)."""
    import http.client
    import json
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    t0 = time.perf_counter()
    conn.request("POST", "/_matrix/media/v3/upload?filename=bench.bin", body=data,
                 headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})
    r = conn.getresponse()
    body = r.read()
    seconds = time.perf_counter() - t0
    conn.close()
    assert r.status == 200, (r.status, body[:200])
    uri = json.loads(body)["content_uri"]
    return uri[len("mxc://"):], seconds


def download_speed(url, token, path, size, repeat):
    s = connect(url)
    req = (f"GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n").encode()
    buf = bytearray()
    t0 = time.perf_counter()
    for _ in range(repeat):
        s.sendall(req)
        status, length = read_response(s, buf)
        assert status == 200 and length == size, (status, length)
    seconds = time.perf_counter() - t0
    s.close()
    return size * repeat / seconds / 1e6


def small_worker(args):
    url, token, path, conns, seconds, size = args
    socks = [connect(url) for _ in range(conns)]
    req = (f"GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n").encode()
    bufs = [bytearray() for _ in socks]
    done = 0
    deadline = time.perf_counter() + seconds
    # Every connection has one request out; answer, send the next.
    for s in socks:
        s.sendall(req)
    import selectors
    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        sel.register(s, selectors.EVENT_READ, i)
    while time.perf_counter() < deadline:
        for key, _ in sel.select(timeout=1):
            i = key.data
            status, length = read_response(socks[i], bufs[i])
            assert status == 200 and length == size, (status, length)
            done += 1
            socks[i].sendall(req)
    for s in socks:
        s.close()
    return done


def photo_jpeg():
    """A 4000x3000 JPEG with a photo's detail (noise over a gradient), as a camera makes."""
    import io
    from PIL import Image
    w, h = 4000, 3000
    im = Image.linear_gradient("L").resize((w, h)).convert("RGB")
    noise = Image.effect_noise((w, h), 40).convert("RGB")
    im = Image.blend(im, noise, 0.5)
    out = io.BytesIO()
    im.save(out, "JPEG", quality=90)
    return out.getvalue()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--binary")
    ap.add_argument("--synapse", help="Synapse's SYN_ROOT: bench it instead of Axon")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if not args.binary and not args.synapse:
        ap.error("--binary or --synapse")
    tmp = tempfile.mkdtemp(prefix="axon-media-bench-")
    if args.synapse:
        sys.path.insert(0, os.path.join(HERE, "..", "interop"))
        from run_interop import Synapse
        server = Synapse(args.synapse, os.path.join(tmp, "synapse"))
        server.config["max_upload_size"] = "100M"
        with open(server.config_path, "w") as f:
            f.write(harness.to_yaml(server.config) + "\n")
        download_prefix = "/_matrix/media/v3/download"  # Synapse 1.67 has no authenticated media
    else:
        db = {"name": "sqlite3", "args": {"database": os.path.join(tmp, "hs.db")}}
        server = harness.Server(args.binary, os.path.join(tmp, "hs"), db,
                                {"max_upload_size": "100M", "enable_authenticated_media": True}, name="media")
        download_prefix = "/_matrix/client/v1/media/download"
    server.start()
    try:
        user = harness.register(server.api)
        pid = server.proc.pid
        print(f"machine: {os.cpu_count()} cores; server pid {pid}", flush=True)
        for mib in (1, 50):
            data = os.urandom(mib << 20)
            speeds, peaks = [], []
            for _ in range(args.runs):
                before = rss_kib(pid)
                peak = [before]
                stop = threading.Event()

                def sample():
                    while not stop.is_set():
                        peak[0] = max(peak[0], rss_kib(pid))
                        time.sleep(0.002)
                t = threading.Thread(target=sample)
                t.start()
                media, seconds = upload(server.url, user.token, data)
                stop.set()
                t.join()
                speeds.append(len(data) / seconds / 1e6)
                peaks.append((peak[0] - before) / 1024)
            path = f"{download_prefix}/{media}"
            down = [download_speed(server.url, user.token, path, len(data), max(1, 200 // mib))
                    for _ in range(args.runs)]
            print(f"{mib} MiB: upload {statistics.median(speeds):.0f} MB/s "
                  f"(runs {', '.join(f'{s:.0f}' for s in speeds)}), RSS +{max(peaks):.1f} MiB at most; "
                  f"download {statistics.median(down):.0f} MB/s (runs {', '.join(f'{s:.0f}' for s in down)})",
                  flush=True)
        jpeg = photo_jpeg()
        made = []
        for _ in range(args.runs):
            _, plain = upload(server.url, user.token, jpeg)
            _, image = upload(server.url, user.token, jpeg, "image/jpeg")
            made.append((image - plain) * 1000)
        print(f"thumbnails of a 4000x3000 JPEG ({len(jpeg) >> 10} KiB) at upload: "
              f"{statistics.median(made):.0f} ms (runs {', '.join(f'{m:.0f}' for m in made)})", flush=True)
        data = os.urandom(100 << 10)
        media, _ = upload(server.url, user.token, data)
        path = f"{download_prefix}/{media}"
        per = [args.clients // args.procs + (1 if i < args.clients % args.procs else 0) for i in range(args.procs)]
        for _ in range(args.runs):
            with multiprocessing.Pool(args.procs) as pool:
                counts = pool.map(small_worker, [(server.url, user.token, path, n, args.seconds, len(data))
                                                 for n in per if n])
            print(f"100 KiB downloads, {args.clients} connections in {args.procs} processes: "
                  f"{sum(counts) / args.seconds:.0f}/s", flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
