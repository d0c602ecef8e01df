"""URL previews (GET /_matrix/client/v1/media/preview_url, and the legacy route) from page
servers on loopback made here: Open Graph tags, the <title>/<meta description> fallbacks, the
page's image kept as media (its size from the real image), a direct image, redirects, the answer
cached (the page is fetched once); and what is refused: an address in
url_preview_ip_range_blacklist (also behind a redirect: never connected to), a URL in
url_preview_url_blacklist, a page over max_spider_size, a type that is not previewable, and bad
URLs. Without url_preview_enabled the endpoint is unknown.
"""

import http.server
import io
import threading

from PIL import Image

from harness import e2e_test, expect, expect_eq, expect_error, expect_ok, register

V1 = "/_matrix/client/v1/media"
_SETUP = {}


def png(size):
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(out, "PNG")
    return out.getvalue()


IMAGE = png((300, 200))


class Pages(http.server.BaseHTTPRequestHandler):
    """The page server: its routes, and the paths asked for (hits)."""
    routes = {}

    def do_GET(self):
        self.server.hits.append(self.path)
        route = self.routes.get(self.path.split("?")[0])
        if route is None:
            self.send_response(404)
            self.end_headers()
            return
        status, headers, body = route(self.server)
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def page_server(address):
    srv = http.server.ThreadingHTTPServer((address, 0), Pages)
    srv.hits = []
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def html(text):
    return 200, {"Content-Type": "text/html; charset=utf-8"}, text.encode()


def setup(ctx):
    if _SETUP:
        return _SETUP
    allowed, refused = page_server("127.0.0.1"), page_server("127.0.0.2")
    base = f"http://127.0.0.1:{allowed.server_address[1]}"
    refused_base = f"http://127.0.0.2:{refused.server_address[1]}"
    Pages.routes.update({
        "/og.html": lambda s: html(
            '<html><head><meta property="og:title" content="The title">'
            '<meta property="og:description" content="What it is about">'
            '<meta property="og:image" content="/img/pic.png"><title>ignored</title></head>'
            '<body><p>text</p></body></html>'),
        "/plain.html": lambda s: html(
            "<html><head><title>Plain page</title><meta name='description' content='Said by meta'>"
            "</head><body><p>Body text</p></body></html>"),
        "/img/pic.png": lambda s: (200, {"Content-Type": "image/png"}, IMAGE),
        "/redirect": lambda s: (302, {"Location": "/plain.html"}, b""),
        "/to-refused": lambda s: (302, {"Location": f"{refused_base}/og.html"}, b""),
        "/big.html": lambda s: html("<html><body>" + "x" * 200_000 + "</body></html>"),
        "/archive.zip": lambda s: (200, {"Content-Type": "application/zip"}, b"PK\x03\x04"),
        "/blocked/page.html": lambda s: html("<title>never</title>"),
        "/once.html": lambda s: html("<title>Once</title>"),
    })
    server = ctx.make_server("previews", {
        "url_preview_enabled": True,
        "url_preview_ip_range_blacklist": ["127.0.0.2/32", "10.0.0.0/8", "192.168.0.0/16"],
        "url_preview_url_blacklist": [{"path": "/blocked/*"}, {"hostname": "^evil\\."}],
        "max_spider_size": "100K",
    })
    server.start()
    _SETUP.update(server=server, allowed=allowed, refused=refused, base=base, refused_base=refused_base)
    return _SETUP


def preview(user, url, route=V1):
    return user.get(f"{route}/preview_url", query={"url": url})


@e2e_test
def url_previews_of_pages_and_images(ctx):
    s = setup(ctx)
    alice = register(s["server"].api)
    og = expect_ok(preview(alice, f"{s['base']}/og.html"), "preview of a page with Open Graph tags")
    expect_eq(og.get("og:title"), "The title", f"og:title: {og}")
    expect_eq(og.get("og:description"), "What it is about", "og:description")
    expect(str(og.get("og:image", "")).startswith("mxc://"), f"the image kept as media: {og}")
    expect_eq((og.get("og:image:width"), og.get("og:image:height")), (300, 200), "the image's size")
    expect_eq(og.get("og:image:type"), "image/png", "its type")
    expect_eq(og.get("matrix:image:size"), len(IMAGE), "its length")
    server, media_id = og["og:image"][len("mxc://"):].split("/", 1)
    r = alice.get(f"{V1}/download/{server}/{media_id}")
    expect_eq(r.status, 200, f"the preview's image downloads: {r}")
    expect_eq(r.body, IMAGE, "the image's bytes")
    r = alice.get(f"{V1}/thumbnail/{server}/{media_id}", query={"width": 96, "height": 96, "method": "crop"})
    expect_eq(r.status, 200, f"and has thumbnails: {r}")
    expect_eq(Image.open(io.BytesIO(r.body)).size, (96, 96), "crop thumbnail")

    og = expect_ok(preview(alice, f"{s['base']}/plain.html"), "a page without Open Graph tags")
    expect_eq(og.get("og:title"), "Plain page", "the title from <title>")
    expect_eq(og.get("og:description"), "Said by meta", "the description from <meta name=description>")

    og = expect_ok(preview(alice, f"{s['base']}/img/pic.png"), "a direct image")
    expect(str(og.get("og:image", "")).startswith("mxc://"), f"og:image: {og}")
    expect_eq((og.get("og:image:width"), og.get("og:image:height")), (300, 200), "size of a direct image")

    og = expect_ok(preview(alice, f"{s['base']}/redirect"), "through a redirect")
    expect_eq(og.get("og:title"), "Plain page", "the redirect's target")

    # The legacy route answers the same; a second request is answered from the cache.
    hits = len(s["allowed"].hits)
    og2 = expect_ok(preview(alice, f"{s['base']}/once.html", route="/_matrix/media/v3"), "legacy route")
    expect_eq(og2.get("og:title"), "Once", "legacy route's preview")
    expect_eq(len(s["allowed"].hits), hits + 1, "fetched once")
    expect_ok(preview(alice, f"{s['base']}/once.html"), "again")
    expect_eq(len(s["allowed"].hits), hits + 1, "the second answer came from the cache")


@e2e_test
def url_previews_refused(ctx):
    s = setup(ctx)
    alice = register(s["server"].api)
    # A blocked address: never connected to, directly or behind a redirect.
    r = preview(alice, f"{s['refused_base']}/og.html")
    expect_error(r, 502, "M_UNKNOWN", "an address in url_preview_ip_range_blacklist")
    r = preview(alice, f"{s['base']}/to-refused")
    expect_error(r, 502, "M_UNKNOWN", "a redirect to a blocked address")
    expect_eq(s["refused"].hits, [], "the blocked server was never asked")
    expect_error(preview(alice, f"{s['base']}/blocked/page.html"), 403, "M_UNKNOWN", "url_preview_url_blacklist")
    expect("/blocked/page.html" not in s["allowed"].hits, "a blocked URL is not fetched")
    expect_error(preview(alice, "http://evil.example/x"), 403, "M_UNKNOWN", "blocked by a hostname regex")
    expect_error(preview(alice, f"{s['base']}/big.html"), 502, "M_TOO_LARGE", "over max_spider_size")
    expect_error(preview(alice, f"{s['base']}/archive.zip"), 502, "M_UNKNOWN", "not previewable")
    expect_error(preview(alice, f"{s['base']}/missing"), 502, "M_UNKNOWN", "a 404 page")
    expect_error(alice.get(f"{V1}/preview_url"), 400, "M_MISSING_PARAM", "no url")
    expect_error(preview(alice, "ftp://127.0.0.1/file"), 400, "M_INVALID_PARAM", "not http(s)")
    expect_error(preview(alice, "not a url at all"), 400, "M_INVALID_PARAM", "not a URL")
    expect_error(preview(alice, "data:text/html,<title>x</title>"), 500, "M_UNKNOWN", "data: URL")
    expect_error(s["server"].api.get(f"{V1}/preview_url", query={"url": f"{s['base']}/og.html"}), 401,
                 "M_MISSING_TOKEN", "needs a token")
    expect_ok(alice.get("/account/whoami"), "still serving")


@e2e_test
def url_previews_disabled_by_default(ctx):
    alice = register(ctx.api)
    expect_error(preview(alice, "http://127.0.0.1:1/"), 404, "M_UNRECOGNIZED", "url_preview_enabled is false")
