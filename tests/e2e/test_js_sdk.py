"""matrix-js-sdk (npm, pinned in tests/e2e/js/package.json, installed by scripts/setup) against
Axon: uploadContent, then the download and thumbnail URLs the SDK builds for authenticated media
(mxcUrlToHttp with useAuthentication).
"""

import json
import os
import shutil
import subprocess
import tempfile

from harness import e2e_test, expect, expect_eq, register
from test_media import image_bytes

JS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js")


@e2e_test
def js_sdk_upload_content_and_download(ctx):
    node = shutil.which("node")
    expect(node and os.path.isdir(os.path.join(JS, "node_modules", "matrix-js-sdk")),
           "node and tests/e2e/js/node_modules/matrix-js-sdk are needed: run scripts/setup")
    alice = register(ctx.api)
    with tempfile.NamedTemporaryFile(suffix=".png") as f:
        f.write(image_bytes("PNG", (200, 150)))
        f.flush()
        out = subprocess.run([node, os.path.join(JS, "media.mjs"), ctx.url, alice.user_id, alice.token,
                              "image/png", f.name], capture_output=True, text=True, timeout=60)
    expect(out.returncode == 0, f"node media.mjs failed: {out.stderr[-2000:]}")
    got = json.loads(out.stdout.strip().splitlines()[-1])
    expect(got["content_uri"].startswith("mxc://"), f"uploadContent's content_uri: {got}")
    expect("/_matrix/client/v1/media/download/" in got["download_url"], f"the SDK's authenticated URL: {got}")
    expect_eq(got["status"], 200, f"download: {got}")
    expect_eq(got["content_type"], "image/png", "content type")
    expect(got["same_bytes"], "the same bytes came back")
    expect_eq(got["thumbnail_status"], 200, f"thumbnail: {got}")
    expect_eq(got["thumbnail_type"], "image/png", "thumbnail type")
