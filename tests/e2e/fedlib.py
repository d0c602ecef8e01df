"""Federating Axon servers for the end-to-end tests: a certificate authority made here with
openssl, servers named localhost:PORT whose federation listener serves TLS with a certificate
from it, each trusting only that CA (federation_custom_ca_list, certificate checks on) and
allowed to reach loopback (ip_range_whitelist); and a client for their federation port that
signs requests with X-Matrix as a server would.
"""

import base64
import http.client
import json
import os
import ssl
import subprocess
import tempfile

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness import free_port

_CA = {}


def _openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def test_ca():
    """(ca.crt, localhost.crt, localhost.key): made once per run. The leaf names localhost and
    127.0.0.1, signed by a CA no system trusts."""
    if _CA:
        return _CA["paths"]
    d = tempfile.mkdtemp(prefix="axon-fed-ca-")
    ca_key, ca_crt = os.path.join(d, "ca.key"), os.path.join(d, "ca.crt")
    key, csr, crt = (os.path.join(d, n) for n in ("localhost.key", "localhost.csr", "localhost.crt"))
    ext = os.path.join(d, "leaf.ext")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", ca_key, "-out", ca_crt, "-days", "2",
             "-subj", "/CN=Axon e2e test CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    _openssl("req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
             "-out", crt, "-days", "2", "-extfile", ext)
    _CA["paths"] = (ca_crt, crt, key)
    return _CA["paths"]


def other_ca():
    """A second CA's certificate, which signed nothing the servers present."""
    if "other" not in _CA:
        d = tempfile.mkdtemp(prefix="axon-fed-other-ca-")
        key, crt = os.path.join(d, "ca.key"), os.path.join(d, "ca.crt")
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=Another CA",
                 "-addext", "basicConstraints=critical,CA:TRUE")
        _CA["other"] = crt
    return _CA["other"]


def federating_server(ctx, name, **overrides):
    """A started-later Server named localhost:PORT, its federation listener on PORT over TLS.
    `overrides` replace the federation defaults (e.g. ip_range_whitelist=[])."""
    ca, crt, key = test_ca()
    port = free_port()
    config = {
        "server_name": f"localhost:{port}",
        "tls_certificate_path": crt,
        "tls_private_key_path": key,
        "federation_custom_ca_list": [ca],
        "ip_range_whitelist": ["127.0.0.0/8", "::1/128"],
    }
    config.update(overrides)
    server = ctx.make_server(name, config)
    # Every server may be asked (they are all on loopback): no whitelist.
    if "federation_domain_whitelist" not in overrides:
        server.config.pop("federation_domain_whitelist", None)
    server.config["listeners"].append({
        "port": port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": True,
        "resources": [{"names": ["federation"]}]})
    server.rewrite()
    server.federation_port = port
    server.server_name = config["server_name"]
    return server


def signing_key(server):
    """(key_id, Ed25519PrivateKey) from the server's Synapse-format signing key file."""
    with open(server.config["signing_key_path"]) as f:
        algorithm, version, seed = f.read().split()[:3]
    raw = base64.b64decode(seed + "=" * (-len(seed) % 4))
    return f"{algorithm}:{version}", Ed25519PrivateKey.from_private_bytes(raw)


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def b64(raw):
    return base64.b64encode(raw).decode().rstrip("=")


def x_matrix(origin, destination, key, method, uri, content=None):
    """The Authorization header `origin` sends with `key` = (key_id, private key)."""
    key_id, private = key
    signed = {"method": method, "uri": uri, "origin": origin, "destination": destination}
    if content is not None:
        signed["content"] = content
    sig = b64(private.sign(canonical(signed)))
    return f'X-Matrix origin="{origin}",destination="{destination}",key="{key_id}",sig="{sig}"'


class Reply:
    def __init__(self, status, body):
        self.status = status
        self.raw = body
        try:
            self.json = json.loads(body)
        except ValueError:
            self.json = None

    def __repr__(self):
        return f"HTTP {self.status} {self.raw[:300]!r}"


def federation_request(server, method, uri, body=None, authorization=None, raw=None):
    """`method` `uri` (sent exactly as given) to the server's federation port over TLS checked
    against the test CA."""
    ca, _, _ = test_ca()
    context = ssl.create_default_context(cafile=ca)
    conn = http.client.HTTPSConnection("localhost", server.federation_port, context=context,
                                       timeout=30)
    headers = {"Host": server.server_name}
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
    if data is not None:
        headers["Content-Type"] = "application/json"
    if authorization:
        headers["Authorization"] = authorization
    try:
        conn.request(method, uri, body=data, headers=headers)
        r = conn.getresponse()
        return Reply(r.status, r.read())
    finally:
        conn.close()
