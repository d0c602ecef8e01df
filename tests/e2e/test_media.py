"""The media repository (spec: client-server "Content repository"): uploads in both flows
(POST /upload; POST /create then PUT), downloads on the authenticated v1 routes and the legacy
ones (media uploaded under enable_authenticated_media only on v1), the spec's headers, Range
requests, thumbnails of real JPEG/PNG/GIF/WebP files made here (decoded to check sizes, types
and frames), and bad input: oversize bodies, path tricks, hostile images, bodies cut short.
"""

import io
import os
import socket
import threading
import time
import urllib.parse
import zlib

from PIL import Image

from harness import e2e_test, expect, expect_eq, expect_error, expect_ok, q, register

V1 = "/_matrix/client/v1/media"
LEGACY = "/_matrix/media/v3"


def image_bytes(fmt, size=(1000, 750), mode="RGB", frames=1):
    """A real image: a gradient (so encoders have something to encode), `frames` of them."""
    w, h = size
    images = []
    for f in range(frames):
        im = Image.new(mode, size)
        px = im.load()
        for x in range(0, w, max(1, w // 50)):
            for y in range(0, h, max(1, h // 50)):
                colour = ((x * 255) // w, (y * 255) // h, (f * 60) % 256)
                px[x, y] = colour + ((128,) if mode == "RGBA" else ())
        images.append(im)
    out = io.BytesIO()
    if frames > 1:
        images[0].save(out, fmt, save_all=True, append_images=images[1:], duration=100, loop=0)
    else:
        images[0].save(out, fmt)
    return out.getvalue()


def upload(user, data, content_type, filename=None):
    query = {"filename": filename} if filename else None
    r = user.request("POST", f"{LEGACY}/upload", raw=data, query=query, headers={"Content-Type": content_type})
    body = expect_ok(r, "upload")
    uri = body["content_uri"]
    expect(uri.startswith("mxc://"), f"an mxc URI: {uri}")
    server, media_id = uri[len("mxc://"):].split("/", 1)
    return server, media_id


def decoded(resp):
    return Image.open(io.BytesIO(resp.body))


@e2e_test
def upload_and_download_with_the_spec_headers(ctx):
    alice = register(ctx.api)
    data = image_bytes("PNG", (64, 48))
    server, media_id = upload(alice, data, "image/png", "cat picture.png")
    r = alice.get(f"{V1}/download/{server}/{media_id}")
    expect_eq(r.status, 200, f"download: {r}")
    expect_eq(r.body, data, "the same bytes")
    expect_eq(r.header("content-type"), "image/png", "content type")
    expect_eq(r.header("content-disposition"), "inline; filename*=utf-8''cat%20picture.png", "disposition")
    expect("sandbox" in (r.header("content-security-policy") or ""), f"CSP: {r.headers}")
    expect_eq(r.header("cross-origin-resource-policy"), "cross-origin", "CORP")
    # The name in the path wins.
    r = alice.get(f"{V1}/download/{server}/{media_id}/other.png")
    expect_eq(r.header("content-disposition"), "inline; filename=other.png", "name from the path")
    # v1 needs a token; media uploaded under enable_authenticated_media is not on the legacy route.
    expect_error(ctx.api.get(f"{V1}/download/{server}/{media_id}"), 401, "M_MISSING_TOKEN", "v1 without a token")
    expect_error(ctx.api.get(f"{LEGACY}/download/{server}/{media_id}"), 404, "M_NOT_FOUND", "frozen legacy route")
    # A type the spec does not list as safe is an attachment, with text's charset.
    _, html = upload(alice, b"<script>alert(1)</script>", "text/html", "x.html")
    r = alice.get(f"{V1}/download/{server}/{html}")
    expect_eq(r.header("content-disposition"), "attachment; filename=x.html", "html is an attachment")
    expect_eq(r.header("content-type"), "text/html; charset=UTF-8", "charset added")
    # HEAD: the headers, no body.
    h = alice.request("HEAD", f"{V1}/download/{server}/{media_id}")
    expect_eq((h.status, h.header("content-length"), h.body), (200, str(len(data)), b""), "HEAD")
    # Identical content is stored once (a second name for the same file) and served alike.
    _, again = upload(alice, data, "image/png")
    expect(again != media_id, "a new id")
    expect_eq(alice.get(f"{V1}/download/{server}/{again}").body, data, "the shared file")
    store = os.path.join(ctx.server.directory, "media_store", "local_content")
    if os.path.isdir(store):  # a single process here (layouts keep their own store)
        a = os.stat(os.path.join(store, media_id[:2], media_id[2:4], media_id[4:]))
        b = os.stat(os.path.join(store, again[:2], again[2:4], again[4:]))
        expect_eq((a.st_ino, a.st_nlink), (b.st_ino, 2), "one file, two links")
    cfg = expect_ok(alice.get(f"{V1}/config"), "config")
    expect(cfg["m.upload.size"] > 0, f"upload size: {cfg}")
    expect_eq(expect_ok(alice.get(f"{LEGACY}/config"), "legacy config"), cfg, "the same config")


@e2e_test
def legacy_routes_serve_media_when_not_frozen(ctx):
    server = ctx.make_server("media-unfrozen", {"enable_authenticated_media": False})
    server.start()
    try:
        alice = register(server.api)
        data = b"plain text\n" * 10
        host, media_id = upload(alice, data, "text/plain", "notes.txt")
        for prefix in ("/_matrix/media/r0", "/_matrix/media/v3"):
            r = server.api.get(f"{prefix}/download/{host}/{media_id}")
            expect_eq((r.status, r.body), (200, data), f"{prefix} download without a token")
        expect_eq(alice.get(f"{V1}/download/{host}/{media_id}").body, data, "and on v1")
    finally:
        server.stop()


@e2e_test
def range_requests(ctx):
    alice = register(ctx.api)
    data = bytes(range(256)) * 40
    server, media_id = upload(alice, data, "application/octet-stream")
    path = f"{V1}/download/{server}/{media_id}"
    for spec, want, content_range in [("bytes=0-9", data[:10], f"bytes 0-9/{len(data)}"),
                                      ("bytes=100-", data[100:], f"bytes 100-{len(data) - 1}/{len(data)}"),
                                      ("bytes=-5", data[-5:], f"bytes {len(data) - 5}-{len(data) - 1}/{len(data)}"),
                                      (f"bytes=10-{len(data) + 50}", data[10:], f"bytes 10-{len(data) - 1}/{len(data)}")]:
        r = alice.get(path, headers={"Range": spec})
        expect_eq((r.status, r.body, r.header("content-range")), (206, want, content_range), spec)
    r = alice.get(path, headers={"Range": f"bytes={len(data)}-"})
    expect_eq((r.status, r.header("content-range")), (416, f"bytes */{len(data)}"), "past the end")
    r = alice.get(path, headers={"Range": "bytes=0-1,5-6"})
    expect_eq((r.status, r.body), (200, data), "several ranges: the whole file")


@e2e_test
def thumbnails_of_real_images(ctx):
    alice = register(ctx.api)
    server, jpeg = upload(alice, image_bytes("JPEG", (1000, 750)), "image/jpeg")

    def thumb(media_id, w, h, method, **extra):
        query = {"width": str(w), "height": str(h), "method": method, **extra}
        r = alice.get(f"{V1}/thumbnail/{server}/{media_id}", query=query)
        expect_eq(r.status, 200, f"thumbnail {w}x{h} {method}: {r}")
        return r

    for (w, h, method), size in {(32, 32, "crop"): (32, 32), (96, 96, "crop"): (96, 96),
                                 (320, 240, "scale"): (320, 240), (640, 480, "scale"): (640, 480),
                                 (800, 600, "scale"): (800, 600)}.items():
        r = thumb(jpeg, w, h, method)
        im = decoded(r)
        expect_eq((im.format, im.size, r.header("content-type")), ("JPEG", size, "image/jpeg"),
                  f"{w}x{h} {method} of a JPEG")
    # Not a configured size: the closest stored one (no dynamic thumbnails).
    im = decoded(thumb(jpeg, 50, 50, "crop"))
    expect_eq(im.size, (96, 96), "the next crop size up")
    # Not upscaled; the aspect kept (scale) or made exact (crop).
    _, wide = upload(alice, image_bytes("PNG", (1000, 500)), "image/png")
    im = decoded(thumb(wide, 800, 600, "scale"))
    expect_eq((im.format, im.size), ("PNG", (800, 400)), "a PNG scaled into 800x600")
    _, small = upload(alice, image_bytes("PNG", (20, 10)), "image/png")
    expect_eq(decoded(thumb(small, 96, 96, "crop")).size, (10, 10), "a small image is not upscaled (crop)")
    expect_eq(decoded(thumb(small, 320, 240, "scale")).size, (20, 10), "nor when scaled")
    # Alpha is kept in PNG; WebP gives JPEG.
    _, alpha = upload(alice, image_bytes("PNG", (200, 200), mode="RGBA"), "image/png")
    im = decoded(thumb(alpha, 96, 96, "crop"))
    expect_eq((im.format, im.mode in ("RGBA", "LA")), ("PNG", True), f"alpha kept: {im.mode}")
    _, webp = upload(alice, image_bytes("WEBP", (400, 300)), "image/webp")
    expect_eq(decoded(thumb(webp, 320, 240, "scale")).format, "JPEG", "WebP gives JPEG")
    # An animated GIF: animated on request, still otherwise.
    _, gif = upload(alice, image_bytes("GIF", (200, 150), frames=4), "image/gif")
    still = decoded(thumb(gif, 96, 96, "crop"))
    expect_eq((still.format, getattr(still, "n_frames", 1)), ("PNG", 1), "a still thumbnail of a GIF")
    moving = decoded(thumb(gif, 96, 96, "crop", animated="true"))
    expect_eq((moving.format, moving.n_frames, moving.size), ("WEBP", 4, (96, 96)), "an animated thumbnail")
    # Bad parameters.
    for query, what in [({"width": "32", "height": "32", "method": "stretch"}, "method"),
                        ({"width": "0", "height": "32"}, "zero width"),
                        ({"width": "x", "height": "32"}, "a width that is no number"),
                        ({"width": "32", "height": "32", "animated": "maybe"}, "animated")]:
        expect_error(alice.get(f"{V1}/thumbnail/{server}/{jpeg}", query=query), 400, "M_INVALID_PARAM", what)
    expect_error(alice.get(f"{V1}/thumbnail/{server}/{jpeg}", query={"width": "32"}), 400, "M_MISSING_PARAM",
                 "no height")


@e2e_test
def create_then_upload(ctx):
    alice, bob = register(ctx.api), register(ctx.api)
    created = expect_ok(alice.post("/_matrix/media/v1/create", {}), "create")
    expect(created["unused_expires_at"] > time.time() * 1000, f"expiry in the future: {created}")
    server, media_id = created["content_uri"][len("mxc://"):].split("/", 1)
    path = f"{V1}/download/{server}/{media_id}"
    expect_error(alice.get(path, query={"timeout_ms": "300"}), 504, "M_NOT_YET_UPLOADED", "not yet uploaded")
    # A download that waits gets the content when it lands.
    got = {}
    waiter = threading.Thread(target=lambda: got.update(r=alice.get(path, query={"timeout_ms": "10000"})))
    waiter.start()
    time.sleep(0.5)
    put = f"/_matrix/media/v3/upload/{server}/{media_id}"
    expect_error(bob.request("PUT", put, raw=b"bob's", headers={"Content-Type": "text/plain"}), 403,
                 "M_FORBIDDEN", "only the creator uploads")
    expect_eq(expect_ok(alice.request("PUT", put, raw=b"hello", headers={"Content-Type": "text/plain"}), "put"),
              {}, "upload to the created id")
    waiter.join(15)
    expect_eq((got["r"].status, got["r"].body), (200, b"hello"), "the waiting download")
    expect_error(alice.request("PUT", put, raw=b"again", headers={"Content-Type": "text/plain"}), 409,
                 "M_CANNOT_OVERWRITE_MEDIA", "never overwritten")
    expect_eq(alice.get(path).body, b"hello", "the first content stays")
    expect_error(alice.request("PUT", f"/_matrix/media/v3/upload/{server}/nosuchid", raw=b"x",
                               headers={"Content-Type": "text/plain"}), 404, "M_NOT_FOUND", "an unknown id")
    # At most max_pending_media_uploads (5) waiting ids per user.
    carol = register(ctx.api)
    for _ in range(5):
        expect_ok(carol.post("/_matrix/media/v1/create", {}), "create")
    expect_error(carol.post("/_matrix/media/v1/create", {}), 429, "M_LIMIT_EXCEEDED", "too many pending")


def raw_exchange(url, data, timeout=10):
    """Sends `data` on a fresh connection to the server at `url`; returns what comes back."""
    parts = urllib.parse.urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
        return out


@e2e_test
def bad_uploads_and_ids(ctx):
    server = ctx.make_server("media-limits", {"max_upload_size": "1M"})
    server.start()
    try:
        alice = register(server.api)
        big = os.urandom(1024 * 1024 + 1)
        r = alice.request("POST", f"{LEGACY}/upload", raw=big, headers={"Content-Type": "application/octet-stream"})
        expect_error(r, 413, "M_TOO_LARGE", "over max_upload_size")
        # A body cut short: the connection closes, no file stays behind, the server serves on.
        head = (f"POST {LEGACY}/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {alice.token}\r\n"
                "Content-Type: text/plain\r\nContent-Length: 5000\r\n\r\n").encode()
        raw_exchange(server.url, head + b"only a little")
        tmp = os.path.join(server.directory, "media_store", "tmp")
        deadline = time.time() + 5
        while time.time() < deadline and os.listdir(tmp):
            time.sleep(0.1)
        expect_eq(os.listdir(tmp), [], "the partial upload is gone")
        host, media_id = upload(alice, b"fine", "text/plain")
        for bad, what in [("..", "a dot-dot id"), ("a%2Fb", "an encoded slash"), ("a.b", "a dot"),
                          ("x" * 300, "a long id")]:
            expect_error(alice.get(f"{V1}/download/{host}/{bad}"), 400, "M_INVALID_PARAM", what)
        expect_error(alice.get(f"{V1}/download/{host}/NoSuchMedia"), 404, "M_NOT_FOUND", "unknown id")
        expect_error(alice.get(f"{V1}/download/bad%20server/{media_id}"), 400, "M_INVALID_PARAM", "bad server")
        r = alice.get(f"{V1}/download/{host}/{media_id}/..%2F..%2Fpasswd")
        expect_eq((r.status, r.body), (200, b"fine"), "a file name is only a name")
        expect(r.header("content-disposition").startswith("inline; filename*=utf-8''..%2F"),
               f"encoded in the header: {r.headers}")
        r = alice.request("POST", f"{LEGACY}/upload", raw=b"x", query={"filename": "a\nb"},
                          headers={"Content-Type": "text/plain"})
        expect_error(r, 400, "M_INVALID_PARAM", "a control character in the file name")
        # Hostile images: stored (they are only bytes) but no thumbnail, and the server serves on.
        good = image_bytes("JPEG", (400, 300))
        _, cut = upload(alice, good[: len(good) // 2], "image/jpeg")
        bomb = (b"\x89PNG\r\n\x1a\n" + (13).to_bytes(4, "big") + b"IHDR" + (100000).to_bytes(4, "big") * 2 +
                b"\x08\x02\x00\x00\x00")
        bomb += zlib.crc32(bomb[12:]).to_bytes(4, "big") + b"\x00\x00\x00\x00IEND\xaeB`\x82"
        _, huge = upload(alice, bomb, "image/png")
        _, text = upload(alice, b"not an image", "image/png")
        for media_id2, what in [(cut, "a truncated JPEG"), (huge, "a 100000x100000 PNG header"),
                                (text, "text called PNG")]:
            r = alice.get(f"{V1}/thumbnail/{host}/{media_id2}", query={"width": "32", "height": "32"})
            expect_error(r, 404, "M_NOT_FOUND", what)
            r = alice.get(f"{V1}/thumbnail/{host}/{media_id2}",
                          query={"width": "33", "height": "33", "animated": "true"})
            expect_error(r, 404, "M_NOT_FOUND", what + " (made on request)")
        expect_eq(alice.get(f"{V1}/download/{host}/{media_id}").body, b"fine", "still serving")
    finally:
        server.stop()


@e2e_test
async def nio_uploads_and_downloads(ctx):
    """matrix-nio 0.20 (Debian) speaks the legacy r0 media API: it uploads on any server and
    downloads where media is not frozen behind authentication."""
    import nio
    from test_nio import close_all, ok, register_and_login

    server = ctx.make_server("media-nio", {"enable_authenticated_media": False})
    server.start()
    client = None
    try:
        client = await register_and_login(server.url)
        data = image_bytes("PNG", (300, 200))
        reply, _ = await client.upload(lambda *_: io.BytesIO(data), content_type="image/png",
                                       filename="nio.png", filesize=len(data))
        ok(reply, nio.UploadResponse, "nio upload")
        host, media_id = reply.content_uri[len("mxc://"):].split("/", 1)
        got = ok(await client.download(reply.content_uri), nio.DownloadResponse, "nio download")
        expect_eq((got.body, got.content_type, got.filename), (data, "image/png", "nio.png"), "what nio got")
        thumb = ok(await client.thumbnail(host, media_id, 96, 96, nio.ResizingMethod.crop), nio.ThumbnailResponse,
                   "nio thumbnail")
        expect_eq(Image.open(io.BytesIO(thumb.body)).size, (96, 96), "nio's thumbnail")
    finally:
        if client:
            await close_all(client)
        server.stop()


@e2e_test
def media_admin_api(ctx):
    """Synapse's media admin API: metadata, quarantine (404 for all but admins), protection,
    listing and deleting a user's media, a room's media, deletion by age keeping avatars."""
    from test_federation_edus import admin_of
    admin, alice, bob = admin_of(ctx.server), register(ctx.api), register(ctx.api)
    a = "/_synapse/admin/v1"
    server, one = upload(alice, b"first", "text/plain", "one.txt")
    _, two = upload(alice, b"second", "text/plain")
    _, avatar = upload(alice, image_bytes("PNG", (40, 40)), "image/png")
    expect_ok(alice.put(f"/profile/{q(alice.user_id)}/avatar_url", {"avatar_url": f"mxc://{server}/{avatar}"}),
              "avatar")
    expect_error(alice.get(f"{a}/media/{server}/{one}"), 403, "M_FORBIDDEN", "not an admin")
    info = expect_ok(admin.get(f"{a}/media/{server}/{one}"), "metadata")["media_info"]
    expect_eq((info["media_id"], info["user_id"], info["media_length"], info["upload_name"], info["quarantined_by"]),
              (one, alice.user_id, 5, "one.txt", None), "metadata")
    # Quarantine: gone for users, still there for admins; protected media cannot be quarantined.
    expect_ok(admin.post(f"{a}/media/quarantine/{server}/{one}", {}), "quarantine")
    expect_error(bob.get(f"{V1}/download/{server}/{one}"), 404, "M_NOT_FOUND", "quarantined")
    expect_eq(admin.get(f"{V1}/download/{server}/{one}").body, b"first", "an admin still downloads it")
    expect_ok(admin.post(f"{a}/media/unquarantine/{server}/{one}", {}), "unquarantine")
    expect_eq(bob.get(f"{V1}/download/{server}/{one}").body, b"first", "back")
    expect_ok(admin.post(f"{a}/media/protect/{two}", {}), "protect")
    got = expect_ok(admin.post(f"{a}/user/{q(alice.user_id)}/media/quarantine", {}), "quarantine a user's media")
    expect_eq(got["num_quarantined"], 2, "all but the protected one")
    expect_eq(bob.get(f"{V1}/download/{server}/{two}").body, b"second", "protected stays")
    expect_error(bob.get(f"{V1}/download/{server}/{one}"), 404, "M_NOT_FOUND", "quarantined with the user's")
    expect_ok(admin.post(f"{a}/media/unquarantine/{server}/{one}", {}), "unquarantine")
    expect_ok(admin.post(f"{a}/media/unquarantine/{server}/{avatar}", {}), "unquarantine")
    # A room's media.
    room = alice.create_room()
    expect_ok(alice.post(f"/rooms/{q(room)}/send/m.room.message",
                         {"msgtype": "m.file", "body": "one.txt", "url": f"mxc://{server}/{one}"}), "send")
    listed = expect_ok(admin.get(f"{a}/room/{q(room)}/media"), "room media")
    expect_eq(listed, {"local": [f"mxc://{server}/{one}"], "remote": []}, "the room's media")
    expect_eq(expect_ok(admin.post(f"{a}/room/{q(room)}/media/quarantine", {}))["num_quarantined"], 1, "room")
    expect_ok(admin.post(f"{a}/media/unquarantine/{server}/{one}", {}), "unquarantine")
    # A user's media, paged.
    page = expect_ok(admin.get(f"/_synapse/admin/v1/users/{q(alice.user_id)}/media", query={"limit": "2"}), "list")
    expect_eq((page["total"], len(page["media"]), page["next_token"]), (3, 2, 2), "first page")
    expect_error(admin.get(f"{a}/users/{q(alice.user_id)}/media", query={"order_by": "nonsense"}), 400,
                 "M_INVALID_PARAM", "order_by")
    # Delete by age: the protected item and the avatar stay.
    future = int(time.time() * 1000) + 60000
    gone = expect_ok(admin.post(f"{a}/media/delete", {}, query={"before_ts": str(future)}), "delete old")
    expect(one in gone["deleted_media"] and two not in gone["deleted_media"] and avatar not in gone["deleted_media"],
           f"what went: {gone}")
    expect_error(alice.get(f"{V1}/download/{server}/{one}"), 404, "M_NOT_FOUND", "deleted")
    expect_eq(alice.get(f"{V1}/download/{server}/{avatar}").status, 200, "the avatar stays")
    expect_ok(admin.post(f"{a}/media/unprotect/{two}", {}), "unprotect")
    expect_eq(expect_ok(admin.delete(f"{a}/media/{server}/{two}"), "delete one"),
              {"deleted_media": [two], "total": 1}, "deleted one")
    expect_error(admin.delete(f"{a}/media/{server}/{two}"), 404, "M_NOT_FOUND", "already gone")
    expect_error(admin.delete(f"{a}/media/other.example/{two}"), 400, "M_UNKNOWN", "remote media")
    expect_eq(expect_ok(admin.post(f"{a}/purge_media_cache", {}, query={"before_ts": str(future)})),
              {"deleted": 0}, "no remote media kept")


@e2e_test
def large_upload_with_expect_100_continue(ctx):
    """A 20 MiB upload (over the 12 MiB a federation transaction may have, under the default
    max_upload_size of 50M) sent as curl sends large bodies: `Expect: 100-continue`, the body
    only after the server's 100 Continue, which must come at once (not after curl's 1 s wait)."""
    alice = register(ctx.api)
    data = os.urandom(20 << 20)
    parts = urllib.parse.urlsplit(ctx.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as s:
        s.sendall((f"POST {LEGACY}/upload?filename=big.bin HTTP/1.1\r\nHost: x\r\n"
                   f"Authorization: Bearer {alice.token}\r\nContent-Type: application/octet-stream\r\n"
                   f"Content-Length: {len(data)}\r\nExpect: 100-continue\r\n\r\n").encode())
        s.settimeout(1.0)
        first = s.recv(4096)
        expect(first.startswith(b"HTTP/1.1 100"), f"100 Continue at once: {first[:100]!r}")
        s.settimeout(30)
        s.sendall(data)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    expect(head.startswith(b"HTTP/1.1 200"), f"upload answered: {answer[:300]!r}")
    import json
    server, media_id = json.loads(body)["content_uri"][len("mxc://"):].split("/", 1)
    r = alice.get(f"{V1}/download/{server}/{media_id}")
    expect_eq((r.status, len(r.body), r.body == data), (200, len(data), True), "the 20 MiB came back")
