#!/usr/bin/env python3
"""TLS offload: HALB against HAProxy on this machine, with the same certificate, backend and thread count.

Starts one nginx backend (worker_processes 1, a 3-byte answer) on loopback, then HALB (`halb device`, release build,
`--threads 1`, an `ssl` payload in offload mode) and HAProxy (`nbthread 1`, `mode tcp`, `bind ... ssl crt`) in front
of it, both with the same EC P-256 certificate and TLS 1.3. Each round measures, interleaved (HAProxy, HALB, ...):

- new TLS handshakes per second: `openssl s_time -new` (one client, a full handshake per connection, no resumption);
- keep-alive HTTPS requests per second: `wrk -t2 -c32` over TLS connections that stay open.

Usage: bench/tls.py [--rounds 3] [--seconds 5]
Needs: haproxy, nginx, wrk, openssl, and `swift build -c release` done. Prints a Markdown table (median of the
per-round HALB/HAProxy ratios, with their min-max) to standard output, progress to standard error. Loopback only;
everything it starts is stopped at the end, also on Ctrl-C.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(host, port, what, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection((host, port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("timed out waiting for " + what)


def handshakes(host, port, seconds):
    """New full TLS handshakes per second, one client."""
    out = subprocess.run(
        ["openssl", "s_time", "-connect", "%s:%d" % (host, port), "-new", "-time", str(seconds)],
        capture_output=True, text=True, timeout=seconds + 30,
    ).stdout
    match = re.search(r"(\d+) connections in ([\d.]+) real seconds", out)
    if not match:
        raise SystemExit("openssl s_time printed no result:\n" + out)
    return int(match.group(1)) / float(match.group(2))


def keepalive(host, port, seconds):
    """Keep-alive HTTPS requests per second (wrk -t2 -c32), and whether any request failed."""
    out = subprocess.run(
        ["wrk", "-t2", "-c32", "-d%ds" % seconds, "https://%s:%d/" % (host, port)],
        capture_output=True, text=True, timeout=seconds + 30,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise SystemExit("wrk printed no result:\n" + out)
    errors = re.search(r"Socket errors: (.*)|Non-2xx or 3xx responses: (\d+)", out)
    return float(match.group(1)), errors.group(0) if errors else ""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    halb = os.path.join(ROOT, ".build", "release", "halb")
    for tool in ["haproxy", "nginx", "wrk", "openssl"]:
        if not shutil.which(tool):
            raise SystemExit("needs " + tool)
    if not os.access(halb, os.X_OK):
        raise SystemExit("build HALB first: swift build -c release")

    work = tempfile.mkdtemp(prefix="halb-bench-tls-")
    processes = []

    def stop(*_):
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(work, ignore_errors=True)

    signal.signal(signal.SIGTERM, lambda *_: (stop(), sys.exit(1)))
    try:
        cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=bench.test"],
            check=True, capture_output=True,
        )
        combined = os.path.join(work, "combined.pem")
        with open(combined, "w") as f:
            f.write(open(cert).read() + open(key).read())

        backend = free_port()
        with open(os.path.join(work, "nginx.conf"), "w") as f:
            f.write(
                "worker_processes 1; daemon off; pid %s/nginx.pid; error_log %s/nginx.log;\n"
                "events { worker_connections 4096; }\n"
                "http { access_log off; server { listen 127.0.0.1:%d; location / { return 200 'ok\\n'; } } }\n"
                % (work, work, backend)
            )
        processes.append(subprocess.Popen(["nginx", "-c", os.path.join(work, "nginx.conf")], stderr=subprocess.DEVNULL))
        wait_port("127.0.0.1", backend, "nginx")

        haproxy_port, halb_port = free_port(), free_port()
        with open(os.path.join(work, "haproxy.cfg"), "w") as f:
            f.write(
                "global\n  nbthread 1\n  maxconn 4000\n"
                "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 1h\n  timeout server 1h\n"
                "frontend tls\n  bind 127.0.0.61:%d ssl crt %s\n  default_backend nginx\n"
                "backend nginx\n  server n1 127.0.0.1:%d\n" % (haproxy_port, combined, backend)
            )
        processes.append(subprocess.Popen(["haproxy", "-f", os.path.join(work, "haproxy.cfg")], stderr=subprocess.DEVNULL))
        with open(os.path.join(work, "site.yaml"), "w") as f:
            f.write(
                "site: bench\n"
                "gateways:\n  - { name: n1, address: 127.0.0.1, ports: { ssl: %d } }\n"
                "devices:\n  - { name: lb1, address: 127.0.0.1, interface: lo }\n"
                "virtualServers:\n  - name: tls\n    vip: { ipv4: 127.0.0.62/8 }\n    devices: [lb1]\n"
                "    payloads:\n      ssl: { port: %d, mode: offload, certificate: %s, privateKey: %s }\n"
                "    healthCheck: { type: tcp, interval: 10s, timeout: 1s }\n"
                % (backend, halb_port, cert, key)
            )
        processes.append(subprocess.Popen(
            [halb, "device", "--config", os.path.join(work, "site.yaml"), "--name", "lb1", "--threads", "1",
             "--admin", "127.0.0.1:0", "--log-level", "warning"],
            stderr=subprocess.DEVNULL,
        ))
        wait_port("127.0.0.61", haproxy_port, "haproxy")
        wait_port("127.0.0.62", halb_port, "halb")

        targets = [("HAProxy", "127.0.0.61", haproxy_port), ("HALB", "127.0.0.62", halb_port)]
        results = {name: {"handshakes": [], "keepalive": []} for name, _, _ in targets}
        for round in range(args.rounds):
            for name, host, port in targets:
                rate = handshakes(host, port, args.seconds)
                requests, errors = keepalive(host, port, args.seconds)
                results[name]["handshakes"].append(rate)
                results[name]["keepalive"].append(requests)
                print("round %d %-7s %8.0f handshakes/s %9.0f requests/s %s" % (round + 1, name, rate, requests, errors), file=sys.stderr)

        print("| scenario | HAProxy 2.6 (median) | HALB (median) | HALB/HAProxy (median of rounds) | min-max |")
        print("|---|---|---|---|---|")
        for metric, label in [("handshakes", "new TLS 1.3 handshakes/s (openssl s_time -new)"),
                              ("keepalive", "keep-alive HTTPS requests/s (wrk -t2 -c32)")]:
            ratios = [h / p for h, p in zip(results["HALB"][metric], results["HAProxy"][metric])]
            print("| %s | %.0f | %.0f | %.2f | %.2f-%.2f |" % (
                label, statistics.median(results["HAProxy"][metric]), statistics.median(results["HALB"][metric]),
                statistics.median(ratios), min(ratios), max(ratios)))
    finally:
        stop()


if __name__ == "__main__":
    main()
