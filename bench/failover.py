#!/usr/bin/env python3
"""Failover benchmark: client-visible outage when the primary fails, HALB against keepalived + HAProxy.

Builds a lab of network namespaces (a bridge, three load-balancer hosts, a gateway and a client on 192.0.2.0/24,
linked to nothing else), runs one product at a time on the three hosts, and repeats each event:

  kill      kill -9 of the primary while a client opens a new connection every 10 ms
  term      SIGTERM of the primary (a clean stop)
  return    the old primary starts again (with preempt it takes the VIP back): failed connections are counted

The kill moment is spread over the advert cycle (a random delay of up to one advert interval). The client starts a
connection every 10 ms whether or not the earlier ones have finished (each gets 0.5 s to connect and 0.5 s for the
answer), so the resolution is 10 ms. The outage is the time from the start of the first failed connection after the
event to the start of the first good one after that.

Usage (root, with ip, python3, keepalived and haproxy; `swift build -c release` first):
  bench/failover.py [--runs 10] [--interval-ms 100] [--products halb,keepalived] [--load-seconds 0]

With --load-seconds N, each product instead carries N seconds of full load (wrk, 2 threads, 64 connections, a
new connection per request) through the primary, and the transitions that happen meanwhile (there should be none)
are counted.

Progress goes to standard error, the result table (Markdown) to standard output.

Every loop is bounded; the lab is removed at the end, also on failure or Ctrl-C.
"""

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HALB_BINARY = os.path.join(ROOT, ".build", "release", "halb")
VIP = "192.0.2.100"
HOSTS = {"lb1": "192.0.2.11", "lb2": "192.0.2.12", "lb3": "192.0.2.13", "gw": "192.0.2.21", "client": "192.0.2.31"}

GATEWAY = """
import socketserver
class H(socketserver.BaseRequestHandler):
    def handle(self):
        try: self.request.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 3\\r\\nConnection: close\\r\\n\\r\\ngw\\n")
        except OSError: pass
socketserver.ThreadingTCPServer.allow_reuse_address = True
with socketserver.ThreadingTCPServer(("0.0.0.0", 8080), H) as s: s.serve_forever()
"""

CLIENT = """
import socket, sys, threading, time
vip, seconds = sys.argv[1], float(sys.argv[2])
results = []
lock = threading.Lock()
def attempt(start):
    ok = 0
    try:
        with socket.create_connection((vip, 80), timeout=0.5) as s:
            s.settimeout(0.5); ok = 1 if s.recv(128).startswith(b"HTTP/1.1 200") else 0
    except OSError: pass
    with lock: results.append((start, ok))
threads = []
end = time.time() + seconds
next_start = time.time()
while next_start < end:
    time.sleep(max(0.0, next_start - time.time()))
    thread = threading.Thread(target=attempt, args=(time.time(),)); thread.start(); threads.append(thread)
    next_start += 0.01
for thread in threads: thread.join(timeout=2)
for start, ok in sorted(results): print("%.4f %d" % (start, ok))
"""


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True).stdout


class Lab:
    def __init__(self):
        self.prefix = "hb%d" % (os.getpid() % 100000)
        self.namespaces = []
        self.processes = []
        self.add("br")
        sh("ip", "-n", self.ns("br"), "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", self.ns("br"), "link", "set", "br0", "up")
        for host, address in HOSTS.items():
            self.add(host)
            outside = (self.prefix + host)[:15]
            sh("ip", "link", "add", outside, "type", "veth", "peer", "name", "eth0", "netns", self.ns(host))
            sh("ip", "link", "set", outside, "netns", self.ns("br"))
            sh("ip", "-n", self.ns("br"), "link", "set", outside, "master", "br0", "up")
            sh("ip", "-n", self.ns(host), "addr", "add", address + "/24", "dev", "eth0")
            sh("ip", "-n", self.ns(host), "link", "set", "eth0", "up")
            # HAProxy binds the VIP before it holds it, as HALB does with free bind.
            sh("ip", "netns", "exec", self.ns(host), "sysctl", "-qw", "net.ipv4.ip_nonlocal_bind=1")

    def ns(self, host):
        return "%s-%s" % (self.prefix, host)

    def add(self, host):
        sh("ip", "netns", "add", self.ns(host))
        self.namespaces.append(self.ns(host))
        sh("ip", "-n", self.ns(host), "link", "set", "lo", "up")

    def spawn(self, host, args, log=None):
        out = open(log, "w") if log else subprocess.DEVNULL
        process = subprocess.Popen(["ip", "netns", "exec", self.ns(host)] + args, stdout=out, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def holders(self):
        result = []
        for host in ("lb1", "lb2", "lb3"):
            if (" %s/" % VIP) in sh("ip", "-n", self.ns(host), "-4", "-o", "addr", "show", "dev", "eth0"):
                result.append(host)
        return result

    def wait_for(self, condition, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if condition():
                return True
            time.sleep(0.02)
        return False

    def teardown(self):
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        for namespace in reversed(self.namespaces):
            for pid in sh("ip", "netns", "pids", namespace, check=False).split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            sh("ip", "netns", "del", namespace, check=False)


class HALBProduct:
    name = "HALB"
    transition_marker = "VRRP transition"

    def __init__(self, lab, directory, interval_ms):
        self.lab, self.directory = lab, directory
        self.site = os.path.join(directory, "site.yaml")
        with open(self.site, "w") as f:
            f.write("""site: bench
gateways:
  - { name: gw1, address: 192.0.2.21, ports: { gateway: 8080 } }
devices:
  - { name: lb1, address: 192.0.2.11, interface: eth0 }
  - { name: lb2, address: 192.0.2.12, interface: eth0 }
  - { name: lb3, address: 192.0.2.13, interface: eth0 }
virtualServers:
  - name: web
    vip: { ipv4: %s/24 }
    vrrp: { routerId: 51, advertInterval: %dms, preempt: true }
    devices: [lb1, lb2, lb3]
    payloads:
      gateway: { port: 80, gateways: [gw1] }
    healthCheck: { type: tcp, interval: 1s, timeout: 500ms, rise: 1, fall: 3 }
""" % (VIP, interval_ms))
        self.processes = {}

    def start(self, host):
        self.processes[host] = self.lab.spawn(
            host,
            [HALB_BINARY, "device", "--config", self.site, "--name", host, "--drain-timeout", "1s"],
            log=os.path.join(self.directory, "%s-%d.log" % (host, time.time() * 1000)),
        )

    def stop(self, host, sig):
        self.processes[host].send_signal(sig)
        self.processes[host].wait(timeout=10)

    def stop_all(self):
        for host in list(self.processes):
            if self.processes[host].poll() is None:
                self.stop(host, signal.SIGKILL)


class Keepalived:
    name = "keepalived + HAProxy"
    transition_marker = "Entering "

    def __init__(self, lab, directory, interval_ms):
        self.lab, self.directory, self.interval_ms = lab, directory, interval_ms
        self.processes = {}
        with open(os.path.join(directory, "haproxy.cfg"), "w") as f:
            f.write("""global
  maxconn 4000
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
frontend web
  bind %s:80
  default_backend gateways
backend gateways
  server gw1 192.0.2.21:8080 check inter 1s fall 3 rise 1
""" % VIP)

    def start(self, host):
        priority = {"lb1": 200, "lb2": 190, "lb3": 180}[host]
        config = os.path.join(self.directory, "keepalived-%s.conf" % host)
        with open(config, "w") as f:
            f.write("""global_defs {
  vrrp_version 3
  script_user root
  enable_script_security
}
vrrp_instance web {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority %d
  advert_int %s
  virtual_ipaddress {
    %s/24
  }
}
""" % (priority, "%g" % (self.interval_ms / 1000), VIP))
        tag = "%s-%d" % (host, time.time() * 1000)
        haproxy = self.lab.spawn(host, ["haproxy", "-db", "-f", os.path.join(self.directory, "haproxy.cfg")])
        keepalived = self.lab.spawn(host, [
            "keepalived", "-n", "-l", "-f", config,
            "-p", os.path.join(self.directory, tag + ".pid"), "-r", os.path.join(self.directory, tag + "-vrrp.pid"),
        ], log=os.path.join(self.directory, tag + ".log"))
        self.processes[host] = (keepalived, haproxy)

    def stop(self, host, sig):
        keepalived, haproxy = self.processes[host]
        if sig == signal.SIGKILL:
            # The whole box dies: keepalived (and its VRRP child) and HAProxy.
            for pid in sh("ip", "netns", "pids", self.lab.ns(host), check=False).split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
        else:
            keepalived.send_signal(sig)
            keepalived.wait(timeout=10)
            haproxy.send_signal(signal.SIGUSR1)  # soft stop
        for process in (keepalived, haproxy):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

    def stop_all(self):
        for host in list(self.processes):
            for process in self.processes[host]:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        for host in ("lb1", "lb2", "lb3"):
            # keepalived killed with -9 leaves its VIP behind.
            sh("ip", "-n", self.lab.ns(host), "addr", "del", VIP + "/24", "dev", "eth0", check=False)


def client_run(lab, seconds, event_at, event):
    client = subprocess.Popen(
        ["ip", "netns", "exec", lab.ns("client"), "python3", "-c", CLIENT, VIP, str(seconds)],
        stdout=subprocess.PIPE, text=True,
    )
    time.sleep(event_at)
    moment = time.time()
    event()
    output, _ = client.communicate(timeout=seconds + 30)
    attempts = []
    for line in output.split("\n"):
        fields = line.split()
        if len(fields) == 2:
            attempts.append((float(fields[0]), fields[1] == "1"))
    return attempts, moment


def outage_ms(attempts, moment):
    after = [i for i, (t, ok) in enumerate(attempts) if t >= moment - 0.4 and not ok]
    if not after:
        return 0.0
    first = after[0]
    for t, ok in attempts[first:]:
        if ok:
            return (t - attempts[first][0]) * 1000
    return float("nan")


def measure(product, lab, runs, interval_ms):
    results = {"kill": [], "term": [], "return": []}
    for host in ("lb1", "lb2", "lb3"):
        product.start(host)
        if host == "lb1" and not lab.wait_for(lambda: lab.holders() == ["lb1"], 20):
            raise SystemExit("%s: lb1 did not take the VIP" % product.name)
    time.sleep(1.5)
    for run in range(runs):
        for event, sig in (("kill", signal.SIGKILL), ("term", signal.SIGTERM)):
            if not lab.wait_for(lambda: lab.holders() == ["lb1"], 20):
                raise SystemExit("%s: lb1 is not the only holder before %s #%d: %s" % (product.name, event, run, lab.holders()))
            delay = 1.0 + random.uniform(0, interval_ms / 1000)
            attempts, moment = client_run(lab, 3.0, delay, lambda: product.stop("lb1", sig))
            results[event].append(outage_ms(attempts, moment))
            if not lab.wait_for(lambda: lab.holders() == ["lb2"], 10):
                print("  warning: VIP holders after %s: %s" % (event, lab.holders()), file=sys.stderr)
            # The old primary returns and takes the VIP back (preempt): count failed connections meanwhile.
            attempts, _ = client_run(lab, 4.0, 0.3, lambda: product.start("lb1"))
            results["return"].append(sum(1 for _, ok in attempts if not ok))
            print("  %s %s #%d: outage %.0f ms, return %d failed" % (
                product.name, event, run + 1, results[event][-1], results["return"][-1]), file=sys.stderr)
    product.stop_all()
    return results


def transitions(directory, marker):
    count = 0
    for name in os.listdir(directory):
        if name.endswith(".log"):
            with open(os.path.join(directory, name), errors="replace") as f:
                count += sum(1 for line in f if marker in line)
    return count


def measure_load(product, lab, directory, seconds):
    for host in ("lb1", "lb2", "lb3"):
        product.start(host)
        if host == "lb1" and not lab.wait_for(lambda: lab.holders() == ["lb1"], 20):
            raise SystemExit("%s: lb1 did not take the VIP" % product.name)
    time.sleep(3)
    before = transitions(directory, product.transition_marker)
    output = sh("ip", "netns", "exec", lab.ns("client"), "wrk", "-t2", "-c64", "-d%ds" % seconds,
                "-H", "Connection: close", "http://%s/" % VIP)
    after = transitions(directory, product.transition_marker)
    holders = lab.holders()
    product.stop_all()
    rate = next((line.split()[1] for line in output.split("\n") if line.startswith("Requests/sec")), "?")
    return after - before, holders, rate


def summary(values):
    values = [v for v in values if v == v]  # drop NaN (never recovered)
    if not values:
        return "n/a"
    values.sort()
    p90 = values[min(len(values) - 1, int(round(0.9 * (len(values) - 1))))]
    return "%.0f (p90 %.0f, max %.0f)" % (statistics.median(values), p90, values[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--interval-ms", type=int, default=100)
    parser.add_argument("--products", default="halb,keepalived")
    parser.add_argument("--load-seconds", type=int, default=0)
    options = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: the benchmark builds network namespaces")
    if not os.path.exists(HALB_BINARY):
        raise SystemExit("build first: swift build -c release")
    # SIGTERM ends the run like Ctrl-C: through the `finally` below, which removes the lab.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    lab = Lab()
    rows = []
    directory = tempfile.mkdtemp(prefix="halb-bench-")
    try:
        lab.spawn("gw", ["python3", "-c", GATEWAY])
        time.sleep(0.5)
        for name in options.products.split(","):
            product_directory = tempfile.mkdtemp(prefix=name + "-", dir=directory)
            product = {"halb": HALBProduct, "keepalived": Keepalived}[name](lab, product_directory, options.interval_ms)
            if options.load_seconds:
                rows.append((product.name, measure_load(product, lab, product_directory, options.load_seconds)))
            else:
                rows.append((product.name, measure(product, lab, options.runs, options.interval_ms)))
    finally:
        lab.teardown()
        shutil.rmtree(directory, ignore_errors=True)
    if options.load_seconds:
        print("| product (%d ms adverts, %d s of load) | transitions during the load | VIP holders after | requests/s |" % (
            options.interval_ms, options.load_seconds))
        print("|---|---|---|---|")
        for name, (count, holders, rate) in rows:
            print("| %s | %d | %s | %s |" % (name, count, ", ".join(holders), rate))
        return
    header = "| product (%d ms adverts, %d runs) | kill -9: outage ms, median | SIGTERM: outage ms, median | old primary returns: failed connections, total |" % (
        options.interval_ms, options.runs)
    print(header)
    print("|---|---|---|---|")
    for name, results in rows:
        print("| %s | %s | %s | %d of %d returns had failures (%d failed) |" % (
            name, summary(results["kill"]), summary(results["term"]),
            sum(1 for v in results["return"] if v), len(results["return"]), sum(results["return"])))


if __name__ == "__main__":
    main()
