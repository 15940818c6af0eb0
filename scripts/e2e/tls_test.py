#!/usr/bin/env python3
"""TLS termination: a gateway with server.tls, then one that also requires client certificates (mutual TLS).

    python scripts/e2e/tls_test.py --bin .build/debug/switchboard --work /tmp/tls

Makes a CA, a server certificate for 127.0.0.1 and client certificates with the `openssl` command, and checks:
  - HTTPS answers with the configured certificate (verified against the CA); plain HTTP to the same port fails,
  - with client_ca_file: no client certificate → the handshake fails; a certificate from another CA → fails;
    a certificate from the configured CA → 200,
  - `switchboard check` reports an unreadable certificate file at server.tls.cert_file,
  - a gateway whose provider is the TLS gateway (an https:// upstream) reaches it when its `ca_file` is the CA, and
    not when `ca_file` is another CA (the certificate is verified).
Prints PASS/FAIL per check and closes with `tls: N passed, M failed`; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import ssl
import subprocess
import sys

from e2e_lib import Runner, SetupFailed, free_port, stop_processes, wait_until

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--bin", required=True)
ap.add_argument("--work", required=True, help="a folder for certificates, configs and logs")
args = ap.parse_args()
os.makedirs(args.work, exist_ok=True)

runner = Runner("tls")
record = runner.record


def path(name: str) -> str:
    return os.path.join(args.work, name)


def openssl(*words: str) -> None:
    subprocess.run(["openssl", *words], check=True, capture_output=True, timeout=60)


def make_ca(name: str) -> None:
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
            "-keyout", path(f"{name}.key"), "-out", path(f"{name}.pem"))


def make_cert(name: str, ca: str, server: bool) -> None:
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", path(f"{name}.key"), "-out", path(f"{name}.csr"))
    ext = path(f"{name}.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n" if server else "extendedKeyUsage=clientAuth\n")
    openssl("x509", "-req", "-in", path(f"{name}.csr"), "-CA", path(f"{ca}.pem"), "-CAkey", path(f"{ca}.key"),
            "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", path(f"{name}.pem"))


def config(name: str, port: int, client_ca: str | None) -> str:
    tls = f'cert_file: "{path("server.pem")}", key_file: "{path("server.key")}"'
    if client_ca:
        tls += f', client_ca_file: "{path(client_ca + ".pem")}"'
    file = path(f"{name}.yaml")
    with open(file, "w") as f:
        f.write(f"""
server: {{ listen: "127.0.0.1:{port}", tls: {{ {tls} }} }}
auth: {{ master_key: "sk-master", keys: [ {{ name: t, key: "sk-tls" }} ] }}
providers: [ {{ name: sim, kind: mock }} ]
models: [ {{ name: demo, deployments: [ {{ provider: sim, model: m }} ] }} ]
""")
    return file


def upstream_config(name: str, port: int, upstream_port: int, ca: str) -> str:
    """A plain-HTTP gateway whose one provider is the TLS gateway on `upstream_port`, trusting `ca`."""
    file = path(f"{name}.yaml")
    with open(file, "w") as f:
        f.write(f"""
server: {{ listen: "127.0.0.1:{port}" }}
auth: {{ master_key: "sk-master", keys: [ {{ name: t, key: "sk-front" }} ] }}
routing: {{ retries: 0 }}
providers:
  - {{ name: tls-upstream, kind: openai, base_url: "https://127.0.0.1:{upstream_port}/v1", api_key: "sk-tls", ca_file: "{path(ca + ".pem")}" }}
models: [ {{ name: demo, deployments: [ {{ provider: tls-upstream, model: demo }} ] }} ]
""")
    return file


def http_chat(port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/v1/chat/completions", body=json.dumps({"model": "demo", "messages": [{"role": "user", "content": "hi"}]}),
                     headers={"Authorization": "Bearer sk-front", "Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        return r.status
    finally:
        conn.close()


def https_chat(port: int, client: str | None = None) -> int:
    ctx = ssl.create_default_context(cafile=path("ca.pem"))
    if client:
        ctx.load_cert_chain(path(f"{client}.pem"), path(f"{client}.key"))
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
    try:
        conn.request("POST", "/v1/chat/completions", body=json.dumps({"model": "demo", "messages": [{"role": "user", "content": "hi"}]}),
                     headers={"Authorization": "Bearer sk-tls", "Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        return r.status
    finally:
        conn.close()


procs: list[subprocess.Popen] = []


def start(name: str, cfg: str) -> subprocess.Popen:
    p = subprocess.Popen([args.bin, "serve", "--config", cfg], stdout=open(path(f"{name}.out.log"), "w"),
                         stderr=open(path(f"{name}.err.log"), "w"), stdin=subprocess.DEVNULL)
    procs.append(p)
    return p


def ready(name: str, port: int, p: subprocess.Popen, client: str | None = None) -> None:
    """A precondition: the gateway answers over HTTPS (any status; the checks look at it)."""
    runner.setup(f"{name} gateway answers over HTTPS",
                 lambda: wait_until(lambda: https_chat(port, client), 30, f"the {name} gateway to answer over HTTPS",
                                    interval=0.1, alive=lambda: p.poll() is None))


try:
    def certificates() -> None:
        make_ca("ca")
        make_ca("other-ca")
        make_cert("server", "ca", server=True)
        make_cert("client", "ca", server=False)
        make_cert("stranger", "other-ca", server=False)
    runner.setup("CAs and certificates made with openssl", certificates)

    port = free_port()
    p = start("tls", config("tls", port, None))
    ready("tls", port, p)
    record(https_chat(port) == 200, "HTTPS with the configured certificate (verified against its CA)")
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/healthz")
        status = conn.getresponse().status
        record(False, "plain HTTP to the TLS port fails", f"got HTTP {status}")
    except (OSError, http.client.HTTPException) as e:
        record(True, "plain HTTP to the TLS port fails", type(e).__name__)

    for name, ca, expected, label in (("front", "ca", 200, "with ca_file the CA: 200"),
                                      ("front-other", "other-ca", 502, "with ca_file another CA: 502 (certificate refused)")):
        fport = free_port()
        f = start(name, upstream_config(name, fport, port, ca))
        runner.setup(f"{name} gateway answers", lambda: wait_until(lambda: http_chat(fport), 30, f"the {name} gateway to answer",
                                                                   interval=0.1, alive=lambda: f.poll() is None))
        status = http_chat(fport)
        record(status == expected, f"https:// upstream {label}", f"got HTTP {status}")

    mport = free_port()
    m = start("mtls", config("mtls", mport, "ca"))
    ready("mtls", mport, m, client="client")
    record(https_chat(mport, "client") == 200, "mTLS: a client certificate from the configured CA gets 200")
    for label, client in (("no client certificate", None), ("a certificate from another CA", "stranger")):
        try:
            status = https_chat(mport, client)
            record(False, f"mTLS: {label} is refused", f"got HTTP {status}")
        except (OSError, ssl.SSLError, http.client.HTTPException) as e:
            record(True, f"mTLS: {label} is refused", type(e).__name__)

    bad = path("bad.yaml")
    with open(config("tls", port, None)) as f:
        text = f.read().replace(path("server.pem"), path("missing.pem"))
    with open(bad, "w") as f:
        f.write(text)
    out = subprocess.run([args.bin, "check", "--config", bad], capture_output=True, text=True, timeout=30)
    record(out.returncode == 1 and "server.tls.cert_file: cannot read the file" in out.stderr,
           "switchboard check reports an unreadable certificate at server.tls.cert_file", out.stderr.strip()[:200])
except SetupFailed:
    pass  # already reported as a failure
except Exception as e:  # noqa: BLE001
    record(False, "tls test ran to the end", f"{type(e).__name__}: {e}")
finally:
    stop_processes(procs)
    if procs:
        record(all(p.returncode == 0 for p in procs), "the TLS gateways exit 0 on SIGTERM", f"{[p.returncode for p in procs]}")

sys.exit(runner.finish())
