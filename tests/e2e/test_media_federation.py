"""Remote media between two federating Axon servers (fedlib): a user on B downloads and
thumbnails what a user on A uploaded, fetched by B over GET /_matrix/federation/v1/media/download
(the spec's multipart answer), kept in B's store in Synapse's layout, fetched once for many
concurrent requests; the authenticated-media freeze, allow_remote=false, unknown ids and an
unreachable origin; a third server C with Synapse's limits (max_upload_size -> 502 M_TOO_LARGE,
remote_media_download_* -> 429, prevent_media_downloads_from -> 404); the admin API on remote
media (quarantine, purge_media_cache, and the item fetched again after a purge).
"""

import os
import threading
import time

from fedlib import federating_server
from harness import e2e_test, expect, expect_eq, expect_error, expect_ok, register
from test_federation import pair
from test_federation_edus import admin_of
from test_media import LEGACY, V1, decoded, image_bytes, upload

_C = {}


def third(ctx):
    """C: small limits, and no media from B."""
    if not _C:
        a, b = pair(ctx)
        c = federating_server(ctx, "fed-c", max_upload_size="1M",
                              remote_media_download_burst_count="1500K",
                              remote_media_download_per_second=1,
                              prevent_media_downloads_from=[b.server_name])
        c.start()
        _C["c"] = c
    return _C["c"]


def remote_files(server, origin):
    """The files under the server's remote_content/<origin>/ (Synapse's layout)."""
    root = os.path.join(server.config["media_store_path"], "remote_content", origin)
    out = []
    for d, _, files in os.walk(root):
        out += [os.path.join(d, f) for f in files]
    return out


@e2e_test
def remote_media_downloaded_and_thumbnailed_through_the_other_server(ctx):
    a, b = pair(ctx)
    alice, bob = register(a.api), register(b.api)
    data = image_bytes("JPEG", (800, 600))
    server, media_id = upload(alice, data, "image/jpeg", "holiday photo.jpg")
    expect_eq(server, a.server_name, "A's mxc")
    before = set(remote_files(b, a.server_name))
    r = bob.get(f"{V1}/download/{server}/{media_id}")
    expect_eq(r.status, 200, f"remote download through B: {r}")
    expect_eq(r.body, data, "the same bytes")
    expect_eq(r.header("content-type"), "image/jpeg", "content type from A")
    expect_eq(r.header("content-disposition"), "inline; filename*=utf-8''holiday%20photo.jpg",
              "file name from A's multipart answer")
    expect("sandbox" in (r.header("content-security-policy") or ""), "CSP on remote media too")
    kept = set(remote_files(b, a.server_name)) - before
    expect_eq(len(kept), 1, f"one file kept by B under remote_content/{a.server_name}: {kept}")
    with open(kept.pop(), "rb") as f:
        expect_eq(f.read(), data, "B keeps the bytes")
    # Range on the kept copy.
    r = bob.request("GET", f"{V1}/download/{server}/{media_id}", headers={"Range": "bytes=10-19"})
    expect_eq(r.status, 206, f"range: {r}")
    expect_eq(r.body, data[10:20], "the range")
    # Thumbnails made by B of the kept copy, by the spec's rules.
    r = bob.get(f"{V1}/thumbnail/{server}/{media_id}", query={"width": 96, "height": 96, "method": "crop"})
    expect_eq(r.status, 200, f"remote thumbnail: {r}")
    expect_eq(decoded(r).size, (96, 96), "crop thumbnail")
    r = bob.get(f"{V1}/thumbnail/{server}/{media_id}", query={"width": 320, "height": 240})
    expect_eq(r.status, 200, f"scale thumbnail: {r}")
    expect_eq(decoded(r).size, (320, 240), "scale thumbnail, aspect kept")
    thumbs = os.path.join(b.config["media_store_path"], "remote_thumbnail", a.server_name)
    expect(os.path.isdir(thumbs), "thumbnails under remote_thumbnail/<origin>")
    # The legacy route is frozen (enable_authenticated_media): 404, as on Synapse.
    expect_error(bob.get(f"{LEGACY}/download/{server}/{media_id}"), 404, "M_NOT_FOUND", "frozen legacy route")

    # Many at once for one item not kept yet: all get it, one file.
    data2 = image_bytes("PNG", (300, 200))
    _, media2 = upload(alice, data2, "image/png")
    results = [None] * 8

    def fetch(i):
        results[i] = bob.get(f"{V1}/download/{server}/{media2}")

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for i, r in enumerate(results):
        expect(r is not None and r.status == 200 and r.body == data2, f"concurrent download {i}: {r}")
    expect_eq(len(set(remote_files(b, a.server_name)) - before), 2, "one file per item")

    # A created id uploaded later: B waits for it as A does (timeout_ms).
    created = expect_ok(alice.post("/_matrix/media/v1/create", {}), "create")["content_uri"]
    created_id = created.rsplit("/", 1)[1]
    late = [None]

    def wait_for_it():
        late[0] = bob.get(f"{V1}/download/{server}/{created_id}", query={"timeout_ms": 20000})

    waiter = threading.Thread(target=wait_for_it)
    waiter.start()
    time.sleep(0.5)
    expect_ok(alice.request("PUT", f"{LEGACY}/upload/{server}/{created_id}", raw=b"later bytes",
                            headers={"Content-Type": "text/plain"}), "upload to the created id")
    waiter.join(60)
    expect(late[0] is not None and late[0].status == 200 and late[0].body == b"later bytes",
           f"waited for the upload: {late[0]}")


@e2e_test
def remote_media_errors(ctx):
    a, b = pair(ctx)
    alice, bob = register(a.api), register(b.api)
    _, media_id = upload(alice, b"not kept yet", "text/plain")
    # allow_remote=false: only what B keeps.
    expect_error(bob.get(f"{V1}/download/{a.server_name}/{media_id}", query={"allow_remote": "false"}),
                 404, "M_NOT_FOUND", "allow_remote=false, not kept")
    expect_error(bob.get(f"{V1}/download/{a.server_name}/{media_id}", query={"allow_remote": "maybe"}),
                 400, "M_INVALID_PARAM", "allow_remote not a boolean")
    # Unknown at the origin: A's 404 passed on.
    expect_error(bob.get(f"{V1}/download/{a.server_name}/NoSuchMediaHere"), 404, "M_NOT_FOUND",
                 "unknown at the origin")
    expect_error(bob.get(f"{V1}/thumbnail/{a.server_name}/NoSuchMediaHere",
                         query={"width": 32, "height": 32}), 404, "M_NOT_FOUND", "thumbnail unknown at the origin")
    # An origin nobody answers for: 502.
    r = bob.get(f"{V1}/download/localhost:1/abcdefgh")
    expect_error(r, 502, "M_UNKNOWN", "unreachable origin")
    # Path tricks in a remote id or server name never reach the file system.
    expect_error(bob.get(f"{V1}/download/{a.server_name}/..%2F..%2Fetc"), 400, "M_INVALID_PARAM",
                 "encoded slashes in a remote id")
    expect_error(bob.get(f"{V1}/download/..%2Fx/abcdef"), 400, "M_INVALID_PARAM", "a server name with a slash")
    # Nothing of that was kept.
    expect_eq(remote_files(b, "localhost:1"), [], "nothing kept for the unreachable origin")
    expect_ok(bob.get(f"{V1}/download/{a.server_name}/{media_id}"), "B still serving")


@e2e_test
def remote_media_limits_of_the_fetching_server(ctx):
    a, b = pair(ctx)
    c = third(ctx)
    alice, bob, carol = register(a.api), register(b.api), register(c.api)
    # Over C's max_upload_size (1M): 502 M_TOO_LARGE, nothing kept.
    _, big = upload(alice, os.urandom(1300 * 1024), "application/octet-stream")
    expect_error(carol.get(f"{V1}/download/{a.server_name}/{big}"), 502, "M_TOO_LARGE", "over max_upload_size")
    expect_eq(remote_files(c, a.server_name), [], "nothing kept of a file too large")
    # prevent_media_downloads_from: B's media is not fetched (404), whatever it is.
    _, bobs = upload(bob, b"from B", "text/plain")
    expect_error(carol.get(f"{V1}/download/{b.server_name}/{bobs}"), 404, "M_NOT_FOUND",
                 "prevent_media_downloads_from")
    # remote_media_download_burst_count 1500K, refilled at 1 byte/s: a 900K file, then the
    # next fetch from the same address is refused (under 1M left).
    payload = os.urandom(900 * 1024)
    _, first = upload(alice, payload, "application/octet-stream")
    r = carol.get(f"{V1}/download/{a.server_name}/{first}")
    expect_eq(r.status, 200, f"within the download budget: {r}")
    expect_eq(r.body, payload, "the bytes")
    _, second = upload(alice, b"small", "text/plain")
    expect_error(carol.get(f"{V1}/download/{a.server_name}/{second}"), 429, "M_LIMIT_EXCEEDED",
                 "remote_media_download_* exhausted")
    # What C keeps is still served: the limit is on fetching.
    expect_eq(carol.get(f"{V1}/download/{a.server_name}/{first}").status, 200, "kept media still served")


@e2e_test
def remote_media_admin_quarantine_and_purge(ctx):
    a, b = pair(ctx)
    alice, bob, admin = register(a.api), register(b.api), admin_of(b)
    data = image_bytes("PNG", (120, 90))
    server, media_id = upload(alice, data, "image/png")
    expect_eq(bob.get(f"{V1}/download/{server}/{media_id}").status, 200, "fetched by B")
    adm = "/_synapse/admin/v1"
    expect_ok(admin.post(f"{adm}/media/quarantine/{server}/{media_id}", {}), "quarantine a remote item")
    expect_error(bob.get(f"{V1}/download/{server}/{media_id}"), 404, "M_NOT_FOUND", "quarantined for users")
    expect_eq(admin.get(f"{V1}/download/{server}/{media_id}").status, 200, "admins still see it")
    expect_ok(admin.post(f"{adm}/media/unquarantine/{server}/{media_id}", {}), "unquarantine")
    expect_eq(bob.get(f"{V1}/download/{server}/{media_id}").status, 200, "served again")
    expect_error(admin.post(f"{adm}/media/quarantine/{server}/NeverFetched", {}), 404, "M_NOT_FOUND",
                 "quarantine of an item B never kept")
    # purge_media_cache: what B keeps and nobody used since before_ts goes, files included.
    expect_error(bob.post(f"{adm}/purge_media_cache", {}, query={"before_ts": 1}), 403, "M_FORBIDDEN",
                 "admins only")
    expect_error(admin.post(f"{adm}/purge_media_cache", {}), 400, "M_MISSING_PARAM", "before_ts required")
    expect(remote_files(b, a.server_name), "B keeps files of A")
    now = int(time.time() * 1000) + 1000
    purged = expect_ok(admin.post(f"{adm}/purge_media_cache", {}, query={"before_ts": now}), "purge")
    expect(purged["deleted"] >= 1, f"purged: {purged}")
    expect_eq(remote_files(b, a.server_name), [], "the kept files are gone")
    r = bob.get(f"{V1}/download/{server}/{media_id}")
    expect_eq(r.status, 200, f"fetched again after the purge: {r}")
    expect_eq(r.body, data, "the same bytes")


@e2e_test
def media_retention_deletes_unused_media_at_its_lifetimes(ctx):
    """media_retention on D (local and remote lifetimes of 1 s): at D's next run of the media
    jobs (at start, then hourly) unused local uploads and kept remote media go, files included;
    avatars and quarantined media stay (Synapse's rules)."""
    a, _ = pair(ctx)
    d = federating_server(ctx, "fed-d", media_retention={"local_media_lifetime": "1s",
                                                          "remote_media_lifetime": "1s"})
    d.start()
    alice, dave, admin = register(a.api), register(d.api), admin_of(d)
    _, plain = upload(dave, b"an old file", "text/plain")
    _, avatar = upload(dave, image_bytes("PNG", (64, 64)), "image/png")
    _, quarantined = upload(dave, b"quarantined", "text/plain")
    expect_ok(dave.put(f"/profile/{dave.user_id}/avatar_url", {"avatar_url": f"mxc://{d.server_name}/{avatar}"}),
              "avatar")
    expect_ok(admin.post(f"/_synapse/admin/v1/media/quarantine/{d.server_name}/{quarantined}", {}), "quarantine")
    _, remote = upload(alice, b"from A", "text/plain")
    expect_eq(dave.get(f"{V1}/download/{a.server_name}/{remote}").status, 200, "D keeps A's item")
    expect(remote_files(d, a.server_name), "a kept remote file")
    time.sleep(1.5)
    d.stop()
    d.start()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if dave.get(f"{V1}/download/{d.server_name}/{plain}").status == 404 and not remote_files(d, a.server_name):
            break
        time.sleep(0.2)
    expect_error(dave.get(f"{V1}/download/{d.server_name}/{plain}"), 404, "M_NOT_FOUND", "unused local media deleted")
    expect_eq(remote_files(d, a.server_name), [], "kept remote media deleted")
    expect_eq(dave.get(f"{V1}/download/{d.server_name}/{avatar}").status, 200, "the avatar stays")
    expect_eq(admin.get(f"{V1}/download/{d.server_name}/{quarantined}").status, 200, "quarantined media stays")
    # Asked for again, the remote item is fetched again.
    expect_eq(dave.get(f"{V1}/download/{a.server_name}/{remote}").body, b"from A", "fetched again")
