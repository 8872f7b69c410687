#!/usr/bin/env python3
"""Configuration propagation: from an acknowledged API write to every device having applied it.

Starts a console and two managed devices (each serving its own virtual server on a loopback VIP, both using the
same gateways) from the debug or release build, then changes a gateway's weight through the API N times. For each
change it measures the time from the API's answer to the moment the console's agent status shows both devices at
the new version (polled every 2 ms, so the figure includes up to 2 ms of polling and the devices' ACK round trip).

Usage: bench/propagation.py [--changes 100] [--build release|debug]
Prints a Markdown table (median, p90, p99, max) to standard output; progress to standard error. Loopback only;
everything it starts is stopped at the end.
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(method, url, token=None, body=None, if_match=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    if if_match is not None:
        headers["If-Match"] = '"%d"' % if_match
    data = body.encode() if isinstance(body, str) else body
    with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method, headers=headers), timeout=10) as r:
        return r.status, dict(r.headers), r.read().decode()


def wait_for(condition, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if condition():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit("timed out waiting for " + what)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--build", default="release", choices=["release", "debug"])
    options = parser.parse_args()
    halb = os.path.join(ROOT, ".build", options.build, "halb")
    if not os.path.exists(halb):
        raise SystemExit("build first: swift build%s" % (" -c release" if options.build == "release" else ""))

    work = tempfile.mkdtemp(prefix="halb-propagation-")
    processes = []
    try:
        port = free_port()
        base = "http://127.0.0.1:%d" % port
        password = "propagation benchmark"
        env = dict(os.environ, HALB_ADMIN_PASSWORD=password)
        processes.append(subprocess.Popen([halb, "console", "--data", os.path.join(work, "data"), "--listen", "127.0.0.1:%d" % port],
                                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for(lambda: request("GET", base + "/healthz")[0] == 200, 20, "the console")
        token = json.loads(request("POST", base + "/api/v1/login", body=json.dumps({"user": "admin", "password": password}))[2])["token"]
        gateway_ports = [free_port(), free_port()]
        site = {
            "site": "bench",
            "gateways": [{"name": "gw%d" % (i + 1), "address": "127.0.0.1", "ports": {"gateway": p}} for i, p in enumerate(gateway_ports)],
            "devices": [{"name": "lb1", "address": "127.0.0.1", "interface": "lo"}, {"name": "lb2", "address": "127.0.0.1", "interface": "lo"}],
            "virtualServers": [
                {"name": "vs%d" % n, "vip": {"ipv4": "127.0.99.%d/8" % n}, "devices": ["lb%d" % n],
                 "payloads": {"gateway": {"port": free_port()}}, "healthCheck": {"type": "tcp", "interval": "5s"}}
                for n in (1, 2)
            ],
        }
        request("POST", base + "/api/v1/sites", token, json.dumps(site))
        for name in ("lb1", "lb2"):
            join = json.loads(request("POST", base + "/api/v1/sites/bench/join-tokens", token, json.dumps({"device": name}))[2])["token"]
            processes.append(subprocess.Popen(
                [halb, "device", "--console", base, "--name", name, "--state", os.path.join(work, name),
                 "--admin", "127.0.0.1:0", "--threads", "1", "--log-level", "warning"],
                env=dict(os.environ, HALB_JOIN_TOKEN=join),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

        def applied():
            status = json.loads(request("GET", base + "/api/v1/sites/bench/status", token)[2])
            return {d["device"]: d.get("appliedVersion") for d in status["devices"]}, status["version"]

        wait_for(lambda: set(applied()[0].values()) == {applied()[1]}, 30, "both devices to apply version 1")
        times = []
        version = applied()[1]
        for change in range(options.changes):
            body = json.dumps({"address": "127.0.0.1", "ports": {"gateway": gateway_ports[0]}, "weight": 1 + change % 50})
            _, headers, _ = request("PUT", base + "/api/v1/sites/bench/gateways/gw1", token, body, if_match=version)
            acknowledged = time.perf_counter()
            version = int(headers["ETag"].strip('"'))
            deadline = acknowledged + 10
            while True:
                devices, _ = applied()
                if all(v == version for v in devices.values()):
                    times.append((time.perf_counter() - acknowledged) * 1000)
                    break
                if time.perf_counter() > deadline:
                    raise SystemExit("change %d: not applied by both devices within 10 s: %s" % (change, devices))
                time.sleep(0.002)
            if (change + 1) % 20 == 0:
                print("  %d changes, median so far %.1f ms" % (change + 1, statistics.median(times)), file=sys.stderr)
        times.sort()
        def pct(p):
            return times[min(len(times) - 1, int(round(p / 100 * (len(times) - 1))))]
        print("| changes | median | p90 | p99 | max |")
        print("|---|---|---|---|---|")
        print("| %d | %.1f ms | %.1f ms | %.1f ms | %.1f ms |" % (len(times), statistics.median(times), pct(90), pct(99), times[-1]))
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
