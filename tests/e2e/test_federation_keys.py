"""This server's identity to other servers (server-server API): its signing keys at
/_matrix/key/v2/server, checked as a remote server checks them (canonical JSON, ed25519
self-signature), and /_matrix/federation/v1/version.
"""

import base64
import json
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from harness import (OLD_KEY_B64, OLD_KEY_EXPIRED_TS, OLD_KEY_ID, SERVER_NAME, e2e_test, expect,
                     expect_eq, expect_ok)


def unpadded_b64decode(text):
    return base64.b64decode(text + "=" * (-len(text) % 4))


def canonical(obj):
    """The spec's canonical JSON (appendices, "Canonical JSON")."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def check_self_signed(body):
    """Verifies body's signatures[server_name] by each of its verify_keys; returns the keys."""
    server = body["server_name"]
    keys = body.get("verify_keys")
    expect(isinstance(keys, dict) and keys, f"no verify_keys: {body}")
    signed = {k: v for k, v in body.items() if k not in ("signatures", "unsigned")}
    sigs = body.get("signatures", {}).get(server, {})
    expect(sigs, f"not signed by {server}: {body}")
    for key_id, entry in keys.items():
        expect(key_id.startswith("ed25519:"), f"unexpected key algorithm {key_id}")
        raw = unpadded_b64decode(entry["key"])
        expect_eq(len(raw), 32, f"{key_id} is not a 32-byte ed25519 key")
        expect(key_id in sigs, f"no signature by {key_id}: {sigs}")
        try:
            Ed25519PublicKey.from_public_bytes(raw).verify(unpadded_b64decode(sigs[key_id]), canonical(signed))
        except InvalidSignature:
            raise AssertionError(f"the signature by {key_id} does not verify: {body}")
    return keys


@e2e_test
def server_keys_are_self_signed_with_old_keys(ctx):
    before = int(time.time() * 1000)
    body = expect_ok(ctx.api.get("/_matrix/key/v2/server"), "GET /_matrix/key/v2/server")
    after = int(time.time() * 1000)
    expect_eq(body.get("server_name"), SERVER_NAME, "server_name")
    keys = check_self_signed(body)
    expect_eq(len(keys), 1, f"one current key: {keys}")
    # harness.base_config sets key_refresh_interval: 2h and one old key; a layout's own
    # homeserver.yaml (--layout small) neither: the default 1d and no old keys.
    config = getattr(ctx.server, "config", None) or {}
    interval = {"2h": 2 * 3600 * 1000, None: 86400 * 1000}[config.get("key_refresh_interval")]
    until = body.get("valid_until_ts")
    expect(isinstance(until, int) and before + interval - 5000 <= until <= after + interval + 5000,
           f"valid_until_ts {until} is not now + {interval} ms")
    old = {k: dict(v) for k, v in config.get("old_signing_keys", {}).items()}
    expect_eq(body.get("old_verify_keys"), old, "old_verify_keys")
    if config:
        expect_eq(old, {OLD_KEY_ID: {"key": OLD_KEY_B64, "expired_ts": OLD_KEY_EXPIRED_TS}},
                  "the harness's old key")
    # The same key from one request to the next (it is the server's identity).
    again = expect_ok(ctx.api.get("/_matrix/key/v2/server"))
    expect_eq(again["verify_keys"], body["verify_keys"], "verify_keys across requests")
    # The deprecated form with a key id answers every key too, as Synapse does.
    key_id = next(iter(keys))
    legacy = expect_ok(ctx.api.get("/_matrix/key/v2/server/" + key_id))
    expect_eq(check_self_signed(legacy), keys, "verify_keys of /server/{keyId}")
    # A HEAD is answered like the GET, without a body; other methods are refused.
    expect_eq(ctx.api.request("HEAD", "/_matrix/key/v2/server").status, 200, "HEAD key server")
    expect_eq(ctx.api.post("/_matrix/key/v2/server", {}).status, 405, "POST key server")


@e2e_test
def federation_version(ctx):
    body = expect_ok(ctx.api.get("/_matrix/federation/v1/version"), "GET /federation/v1/version")
    server = body.get("server")
    expect(isinstance(server, dict) and server.get("name") == "Axon", f"server.name: {body}")
    expect(isinstance(server.get("version"), str) and server["version"], f"server.version: {body}")
