#!/usr/bin/env python3
"""Data-plane benchmark (issue 6): HALB against HAProxy, and against no balancer at all, on this machine.

Starts three nginx backends on loopback (worker_processes 1 each, a 3-byte answer on `/` and a 1 MiB file), an
iperf3 server, then HAProxy (`mode tcp`, `balance roundrobin`, `nbthread N`) and HALB (`halb device` from a
generated standalone site file, `--threads N`) in front of them, with the same backends and thread count. Each
scenario is measured round by round, interleaved (direct, HAProxy, HALB, direct, HAProxy, HALB, ...), every
measurement bounded in time:

  S1  keep-alive small answers, `wrk -t2 -c64 --latency`: requests/s, p50 and p99 latency
  S2  a new connection per request (`Connection: close`), `wrk -t2 -c64`: requests/s
  S3  1 MiB downloads over keep-alive connections, `wrk -t2 -c16`: MB/s (10^6 bytes)
  S4  one raw TCP stream, `iperf3 -c` through a listener whose only backend is the iperf3 server: Gbit/s
  S5  idle client connections (10 000 by default) held open through a freshly started balancer: growth of its
      resident memory (VmRSS) per connection; every connection then carries one request, to prove it still works
  S6  TLS offload with one EC P-256 certificate for all (nginx directly, HAProxy `bind ... ssl crt`, HALB's `ssl`
      payload in offload mode): new handshakes/s (`wrk -t2 -c64`, `Connection: close`: each request is a new
      connection and a full handshake, wrk does not resume sessions) and keep-alive HTTPS requests/s (`wrk -t2 -c64`)

S3 and S4 are also measured through HAProxy with `option splice-request` and `option splice-response`. "Direct"
is the client talking to the first nginx backend (one worker) or the iperf3 server itself. The CPU time of each
balancer (utime + stime of its process, from /proc/PID/stat) is read before and after every measurement.

The table (Markdown, on standard output) gives for each scenario the median over the rounds of direct, HAProxy
and HALB, the median of the per-round HALB/HAProxy ratios with their min-max (the noise), and the median CPU-seconds
each balancer used per measurement. Only ratios measured in one interleaved run mean anything on a shared machine.
A full run also writes the table, with the date, machine and versions, into docs/performance.md (between the
markers of its "Harness (bench/run.sh)" section).

Usage:
  bench/run.sh [--rounds 3] [--seconds 5] [--threads 1] [--idle 10000] [--halb PATH] [--scenarios S1,...,S6]
  bench/run.sh --smoke   one round of about 2 s per scenario through HALB only, 500 idle connections; exits
                         non-zero if any scenario had an error through HALB (no timing thresholds)

Needs: nginx, wrk, iperf3, openssl, python3, and haproxy unless --smoke. --halb defaults to
`$(swift build -c release --show-bin-path)/halb`, built when missing. Raises its open-file limit for itself and
what it starts, past the hard limit when it may (root with CAP_SYS_RESOURCE); a balancer needs two descriptors per
connection, so when the limit is too low for --idle connections, S5 holds fewer and the table says how many.
Loopback only (127.0.0.0/8); everything it starts is stopped and its temporary directory removed at the end, also
on failure, Ctrl-C or SIGTERM. Progress goes to standard error.
"""

import argparse
import datetime
import errno
import json
import os
import platform
import re
import resource
import selectors
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs", "performance.md")
BEGIN_MARK = "<!-- bench/run.sh results: begin (written by the harness) -->"
END_MARK = "<!-- bench/run.sh results: end -->"

BACKEND_IP = "127.0.0.1"
HAPROXY_IP = "127.0.0.61"
HALB_IP = "127.0.0.62"
HAPROXY_IDLE_IP = "127.0.0.63"  # the fresh instances of S5
HALB_IDLE_IP = "127.0.0.64"
BIG_FILE = "1m.bin"
BIG_SIZE = 1 << 20
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
OPEN_FILES = 200000

SCENARIOS = ["S1", "S2", "S3", "S4", "S5", "S6"]
# Measurements per scenario; S6 makes two (handshakes, keep-alive), each with its own CPU reading.
MEASUREMENTS = {"S1": ["S1"], "S2": ["S2"], "S3": ["S3"], "S4": ["S4"], "S5": ["S5"], "S6": ["S6h", "S6k"]}
# Who takes part in each measurement, in the order of a round.
TARGETS = {
    "S1": ["direct", "haproxy", "halb"],
    "S2": ["direct", "haproxy", "halb"],
    "S3": ["direct", "haproxy", "haproxy-splice", "halb"],
    "S4": ["direct", "haproxy", "haproxy-splice", "halb"],
    "S5": ["haproxy", "halb"],
    "S6h": ["direct", "haproxy", "halb"],
    "S6k": ["direct", "haproxy", "halb"],
}


def log(message):
    print(message, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind((BACKEND_IP, 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------------------------
# /proc readings: CPU time and resident memory of a process, TCP sockets of the host.

def cpu_seconds(pid):
    """utime + stime of a whole process (all its threads), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # fields 14 and 15 of proc(5)


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS for pid %d" % pid)


def proc_address(ip, port):
    """An IPv4 address and port as /proc/net/tcp writes them (address in host byte order)."""
    return "%08X:%04X" % (struct.unpack("=I", socket.inet_aton(ip))[0], port)


def tcp_sockets():
    """(local, remote, state) of every IPv4 TCP socket of the host, as /proc/net/tcp writes them."""
    with open("/proc/net/tcp") as f:
        next(f)
        return [tuple(line.split()[1:4]) for line in f]


def wait_listening(ip, port, what, process, timeout=20):
    """Waits until something listens on ip:port, without connecting to it (a probe would disturb iperf3)."""
    wanted = {proc_address(ip, port), proc_address("0.0.0.0", port)}
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError("%s exited with status %d (see its log)" % (what, process.returncode))
        if any(local in wanted and state == "0A" for local, _, state in tcp_sockets()):
            return
        time.sleep(0.05)
    raise RuntimeError("timed out waiting for %s to listen on %s:%d" % (what, ip, port))


def connections_to(ports):
    """Established connections from anywhere to one of these local ports (the balancers' backend connections)."""
    suffixes = {":%04X" % port for port in ports}
    count = 0
    for local, remote, state in tcp_sockets():
        if state == "01" and remote[-5:] in suffixes and local[-5:] not in suffixes:
            count += 1
    return count


def machine_cpu():
    """Busy and steal seconds of the whole machine since boot (/proc/stat)."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (values + [0] * 8)[:8]
    return (user + nice + system + irq + softirq) / CLOCK_TICKS, steal / CLOCK_TICKS


def own_cpu():
    """CPU seconds of this process and of every descendant it has waited for."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


# ---------------------------------------------------------------------------------------------------------------
# Processes: every server runs in its own process group, stopped group by group at the end.

class Lab:
    def __init__(self, work):
        self.work = work
        self.processes = []  # (name, Popen)

    def start(self, name, argv):
        log_file = open(os.path.join(self.work, name + ".log"), "wb")
        try:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        finally:
            log_file.close()
        self.processes.append((name, process))
        return process

    def log_tail(self, name, lines=5):
        try:
            with open(os.path.join(self.work, name + ".log"), errors="replace") as f:
                return "".join(f.readlines()[-lines:]).strip()
        except OSError:
            return ""

    def stop(self, process, timeout=10):
        """SIGTERM to the process group, SIGKILL if it is still there after timeout seconds."""
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(process.pid, signal.SIGKILL)  # stragglers of the group (nginx workers), if any
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.processes = [(n, p) for n, p in self.processes if p is not process]

    def stop_all(self):
        for _, process in reversed(list(self.processes)):
            self.stop(process)


# ---------------------------------------------------------------------------------------------------------------
# Configuration of the backends and the balancers.

def write(path, text):
    with open(path, "w") as f:
        f.write(text)


NGINX = """\
worker_processes 1;
daemon off;
pid {work}/nginx{i}.pid;
error_log {work}/nginx{i}.log warn;
worker_rlimit_nofile {files};
events {{ worker_connections {connections}; }}
http {{
  access_log off;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 10000000;  # keep-alive connections stay open for the whole measurement
  keepalive_timeout 300s;
  client_header_timeout 300s;   # the idle connections of S5 send nothing for a while
  client_body_temp_path {work}/tmp{i};
  proxy_temp_path {work}/tmp{i};
  fastcgi_temp_path {work}/tmp{i};
  uwsgi_temp_path {work}/tmp{i};
  scgi_temp_path {work}/tmp{i};
  server {{
    listen {ip}:{port};
    root {work}/www;
    location = / {{ return 200 'ok\\n'; }}
  }}
{tls}}}
"""

NGINX_TLS = """\
  server {{
    listen {ip}:{port} ssl;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    location = / {{ return 200 'ok\\n'; }}
  }}
"""


def nginx_config(work, index, port, tls_port, cert, key, open_files):
    """One backend: one worker, `/` answers 3 bytes, /1m.bin is a 1 MiB file; backend 0 also serves TLS directly."""
    tls = NGINX_TLS.format(ip=BACKEND_IP, port=tls_port, cert=cert, key=key) if tls_port else ""
    return NGINX.format(work=work, i=index, ip=BACKEND_IP, port=port, tls=tls, files=open_files,
                        connections=open_files - 100)


def haproxy_config(ip, ports, backends, iperf_port, combined_pem, threads, maxconn, open_files):
    """HAProxy in mode tcp: web (roundrobin over the nginx backends), stream (the iperf3 server), the same two with
    splice, and tls (offload with the same certificate). ports: a dict of listener name to port. ulimit-n is the
    limit it runs under; maxpipes (splice pipes, two descriptors each; a quarter of maxconn by default) is kept
    small, enough for the few connections of S3 and S4, so that maxconn for S5 fits in the open-file limit."""
    servers = "".join("  server n%d %s:%d\n" % (i + 1, BACKEND_IP, port) for i, port in enumerate(backends))
    splice = "  option splice-request\n  option splice-response\n"
    sections = [
        "global\n  nbthread %d\n  maxconn %d\n  maxpipes 256\n  ulimit-n %d\n" % (threads, maxconn, open_files),
        "defaults\n  mode tcp\n  maxconn %d\n  timeout connect 5s\n  timeout client 1h\n  timeout server 1h\n"
        % maxconn,
    ]
    if "web" in ports:
        sections.append("listen web\n  bind %s:%d\n  balance roundrobin\n%s" % (ip, ports["web"], servers))
    if "web-splice" in ports:
        sections.append("listen web_splice\n  bind %s:%d\n  balance roundrobin\n%s%s"
                        % (ip, ports["web-splice"], splice, servers))
    if "stream" in ports:
        sections.append("listen stream\n  bind %s:%d\n  server iperf %s:%d\n"
                        % (ip, ports["stream"], BACKEND_IP, iperf_port))
    if "stream-splice" in ports:
        sections.append("listen stream_splice\n  bind %s:%d\n%s  server iperf %s:%d\n"
                        % (ip, ports["stream-splice"], splice, BACKEND_IP, iperf_port))
    if "tls" in ports:
        sections.append("listen tls\n  bind %s:%d ssl crt %s\n  balance roundrobin\n%s"
                        % (ip, ports["tls"], combined_pem, servers))
    return "".join(sections)


def halb_site(ip, ports, backends, iperf_port, cert, key, maxconn):
    """A standalone site for one device lb1: virtual server web (gateway payload, roundrobin over the nginx
    backends, plus TLS offload on the ssl payload) and stream (the iperf3 server alone), both on the VIP ip."""
    lines = ["site: bench", "gateways:"]
    for i, port in enumerate(backends):
        lines.append("  - { name: n%d, address: %s, ports: { gateway: %d, ssl: %d } }"
                     % (i + 1, BACKEND_IP, port, port))
    if "stream" in ports:
        lines.append("  - { name: iperf, address: %s, ports: { gateway: %d } }" % (BACKEND_IP, iperf_port))
    names = ", ".join("n%d" % (i + 1) for i in range(len(backends)))
    lines += ["devices:", "  - { name: lb1, address: 127.0.0.1, interface: lo }", "virtualServers:"]
    # One health check at start, then none for an hour: HAProxy checks nothing either.
    common = ["    devices: [lb1]", "    healthCheck: { type: tcp, interval: 1h, timeout: 1s }",
              "    limits: { maxConnections: %d }" % maxconn]
    lines += ["  - name: web", "    vip: { ipv4: %s/8 }" % ip] + common + ["    payloads:",
              "      gateway: { port: %d, gateways: [%s], balancing: roundrobin }" % (ports["web"], names)]
    if "tls" in ports:
        lines.append("      ssl: { port: %d, gateways: [%s], balancing: roundrobin, mode: offload, "
                     "certificate: %s, privateKey: %s }" % (ports["tls"], names, cert, key))
    if "stream" in ports:
        lines += ["  - name: stream", "    vip: { ipv4: %s/8 }" % ip] + common + ["    payloads:",
                  "      gateway: { port: %d, gateways: [iperf] }" % ports["stream"]]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------------------
# Clients.

TIME_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
BYTE_UNITS = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}


def wrk(url, connections, seconds, close=False, latency=False):
    """One wrk run (2 threads). Returns requests, duration, bytes read, requests/s, p50/p99 in ms, errors."""
    argv = ["wrk", "-t2", "-c%d" % connections, "-d%ds" % seconds, "--timeout", "5s"]
    if close:
        argv += ["-H", "Connection: close"]
    if latency:
        argv.append("--latency")
    argv.append(url)
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
    except subprocess.TimeoutExpired:
        return {"errors": ["wrk did not finish within %d s" % (seconds + 30)]}
    out = result.stdout
    summary = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m), ([\d.]+)(B|KB|MB|GB|TB) read", out)
    if result.returncode != 0 or not summary:
        return {"errors": ["wrk failed (status %d): %s" % (result.returncode, (result.stderr or out).strip()[-300:])]}
    record = {
        "requests": int(summary.group(1)),
        "duration": float(summary.group(2)) * TIME_UNITS[summary.group(3)] / 1e3,
        "bytes": float(summary.group(4)) * BYTE_UNITS[summary.group(5)],
        "errors": [],
    }
    record["rate"] = record["requests"] / record["duration"]
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sockets and any(int(n) for n in sockets.groups()):
        record["errors"].append(sockets.group(0))
    status = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if status:
        record["errors"].append(status.group(0))
    if record["requests"] == 0:
        record["errors"].append("no request completed")
    if latency:
        for percentile in ("50", "99"):
            match = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s|m)\s*$" % percentile, out, re.M)
            if match:
                record["p" + percentile] = float(match.group(1)) * TIME_UNITS[match.group(2)]
    return record


def iperf(host, port, seconds):
    """One iperf3 stream (client to server) for the given time: Gbit/s received, errors."""
    argv = ["iperf3", "-c", host, "-p", str(port), "-t", str(seconds), "-J"]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
    except subprocess.TimeoutExpired:
        return {"errors": ["iperf3 did not finish within %d s" % (seconds + 30)]}
    try:
        data = json.loads(result.stdout)
    except ValueError:
        return {"errors": ["iperf3 printed no JSON (status %d): %s"
                           % (result.returncode, result.stderr.strip()[-300:])]}
    if result.returncode != 0 or "error" in data:
        return {"errors": ["iperf3 failed (status %d): %s" % (result.returncode, data.get("error", ""))]}
    received = data["end"]["sum_received"]
    return {"gbits": received["bits_per_second"] / 1e9, "bytes": received["bytes"], "errors": []}


class IdleClients:
    """Many client connections that connect, then send nothing; bounded in count and time."""

    BATCH = 200

    def __init__(self):
        self.sockets = []
        self.selector = selectors.DefaultSelector()
        self.errors = []

    def connect(self, host, port, count, timeout):
        deadline = time.time() + timeout
        failed = 0
        for start in range(0, count, self.BATCH):
            pending = []
            for _ in range(min(self.BATCH, count - start)):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                code = s.connect_ex((host, port))
                if code not in (0, errno.EINPROGRESS):
                    failed += 1
                    s.close()
                    continue
                pending.append(s)
                self.selector.register(s, selectors.EVENT_WRITE)
            while pending and time.time() < deadline:
                for key, _ in self.selector.select(timeout=min(1.0, max(0.0, deadline - time.time()))):
                    s = key.fileobj
                    self.selector.unregister(s)
                    pending.remove(s)
                    if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                        self.sockets.append(s)
                    else:
                        failed += 1
                        s.close()
            for s in pending:  # out of time
                self.selector.unregister(s)
                s.close()
                failed += 1
            if time.time() >= deadline:
                failed += count - start - min(self.BATCH, count - start)
                break
        if failed:
            self.errors.append("%d of %d connections failed to connect" % (failed, count))

    def closed(self):
        """How many of the held connections the other side has closed or reset (or sent something on)."""
        for s in self.sockets:
            self.selector.register(s, selectors.EVENT_READ)
        events = self.selector.select(timeout=0)
        for s in self.sockets:
            self.selector.unregister(s)
        return len(events)

    def request_all(self, timeout):
        """One HTTP request on every held connection; how many got a 200 answer in time."""
        request = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
        answers = {}
        for s in self.sockets:
            try:
                s.send(request)
                answers[s] = b""
                self.selector.register(s, selectors.EVENT_READ)
            except OSError:
                pass
        good = 0
        deadline = time.time() + timeout
        while answers and time.time() < deadline:
            for key, _ in self.selector.select(timeout=min(1.0, max(0.0, deadline - time.time()))):
                s = key.fileobj
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                answers[s] += data
                if not data or b"\r\n\r\n" in answers[s]:
                    if answers[s].startswith(b"HTTP/1.1 200"):
                        good += 1
                    self.selector.unregister(s)
                    del answers[s]
        for s in answers:
            self.selector.unregister(s)
        return good

    def close(self):
        for s in self.sockets:
            s.close()
        self.sockets = []
        self.selector.close()


# ---------------------------------------------------------------------------------------------------------------
# The bench.

class Bench:
    def __init__(self, args, lab):
        self.args = args
        self.lab = lab
        self.work = lab.work
        self.with_haproxy = not args.smoke
        self.maxconn = args.idle + 200  # two descriptors each must fit in the open-file limit
        self.open_files = resource.getrlimit(resource.RLIMIT_NOFILE)[0]

    # -- setup ---------------------------------------------------------------------------------------------------

    def setup(self):
        work = self.work
        os.chmod(work, 0o755)  # nginx workers run as an unprivileged user and read www/
        os.mkdir(os.path.join(work, "www"))
        with open(os.path.join(work, "www", BIG_FILE), "wb") as f:
            f.write(os.urandom(BIG_SIZE))
        for path in (os.path.join(work, "www"), os.path.join(work, "www", BIG_FILE)):
            os.chmod(path, 0o755 if os.path.isdir(path) else 0o644)

        self.cert, self.key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", self.key, "-out", self.cert, "-days", "2", "-subj", "/CN=bench.test"],
            check=True, capture_output=True, timeout=30,
        )
        self.combined = os.path.join(work, "combined.pem")
        with open(self.combined, "w") as f:
            f.write(open(self.cert).read() + open(self.key).read())

        self.backends = [free_port() for _ in range(3)]
        self.direct_tls = free_port()
        for i, port in enumerate(self.backends):
            path = os.path.join(work, "nginx%d.conf" % i)
            write(path, nginx_config(work, i, port, self.direct_tls if i == 0 else 0, self.cert, self.key,
                                     self.open_files))
            os.mkdir(os.path.join(work, "tmp%d" % i))
            error_log = os.path.join(work, "nginx%d.log" % i)
            process = self.lab.start("nginx%d" % i, ["nginx", "-c", path, "-e", error_log])
            self.wait("nginx%d" % i, process, BACKEND_IP, port)
        self.iperf_port = free_port()
        process = self.lab.start("iperf3", ["iperf3", "-s", "-B", BACKEND_IP, "-p", str(self.iperf_port)])
        self.wait("iperf3", process, BACKEND_IP, self.iperf_port)

        self.targets = {"direct": {"host": BACKEND_IP, "web": self.backends[0], "stream": self.iperf_port,
                                   "tls": self.direct_tls, "pid": None}}
        if self.with_haproxy:
            self.haproxy_version = version_line(["haproxy", "-v"])
            ports = {name: free_port() for name in ("web", "web-splice", "stream", "stream-splice", "tls")}
            process = self.start_haproxy("haproxy", HAPROXY_IP, ports, with_tls=True)
            self.targets["haproxy"] = {"host": HAPROXY_IP, "web": ports["web"], "stream": ports["stream"],
                                       "tls": ports["tls"], "pid": process.pid}
            self.targets["haproxy-splice"] = {"host": HAPROXY_IP, "web": ports["web-splice"],
                                              "stream": ports["stream-splice"], "pid": process.pid}
        ports = {name: free_port() for name in ("web", "stream", "tls")}
        process = self.start_halb("halb", HALB_IP, ports)
        self.targets["halb"] = {"host": HALB_IP, "web": ports["web"], "stream": ports["stream"], "tls": ports["tls"],
                                "pid": process.pid}

    def wait(self, name, process, ip, *ports):
        """Waits until the process listens on every port, or fails with the end of its log."""
        try:
            for port in ports:
                wait_listening(ip, port, name, process)
        except RuntimeError as error:
            raise RuntimeError("%s\n%s" % (error, self.lab.log_tail(name)))

    def start_haproxy(self, name, ip, ports, with_tls=False):
        path = os.path.join(self.work, name + ".cfg")
        write(path, haproxy_config(ip, ports, self.backends, self.iperf_port, self.combined, self.args.threads,
                                   self.maxconn, self.open_files))
        check = subprocess.run(["haproxy", "-c", "-f", path], capture_output=True, text=True, timeout=30)
        if check.returncode != 0:
            raise RuntimeError("haproxy refuses its configuration:\n" + check.stdout + check.stderr)
        process = self.lab.start(name, ["haproxy", "-db", "-f", path])
        self.wait(name, process, ip, *ports.values())
        return process

    def start_halb(self, name, ip, ports):
        path = os.path.join(self.work, name + ".yaml")
        write(path, halb_site(ip, ports, self.backends, self.iperf_port, self.cert, self.key, self.maxconn))
        process = self.lab.start(name, [
            self.args.halb, "device", "--config", path, "--name", "lb1", "--threads", str(self.args.threads),
            "--admin", "127.0.0.1:0", "--log-level", "warning", "--drain-timeout", "2s"])
        self.wait(name, process, ip, *ports.values())
        return process

    # -- measurements --------------------------------------------------------------------------------------------

    def measure(self, measurement, target_name):
        """One bounded measurement of one target. Returns a record with the figures, cpu (seconds) and errors."""
        if measurement == "S5":
            return self.idle(target_name)
        target = self.targets[target_name]
        pid, host, seconds = target["pid"], target["host"], self.args.seconds
        before = cpu_seconds(pid) if pid else None
        if measurement == "S1":
            record = wrk("http://%s:%d/" % (host, target["web"]), 64, seconds, latency=True)
        elif measurement == "S2":
            record = wrk("http://%s:%d/" % (host, target["web"]), 64, seconds, close=True)
        elif measurement == "S3":
            record = wrk("http://%s:%d/%s" % (host, target["web"], BIG_FILE), 16, seconds)
            if "bytes" in record:
                record["mbs"] = record["bytes"] / record["duration"] / 1e6
        elif measurement == "S4":
            record = iperf(host, target["stream"], seconds)
        elif measurement == "S6h":
            record = wrk("https://%s:%d/" % (host, target["tls"]), 64, seconds, close=True)
        elif measurement == "S6k":
            record = wrk("https://%s:%d/" % (host, target["tls"]), 64, seconds)
        else:
            raise ValueError(measurement)
        if pid:
            record["cpu"] = cpu_seconds(pid) - before
            if record.get("requests") and record["cpu"] > 0:
                record["per_cpu"] = record["requests"] / record["cpu"]
        return record

    def idle(self, target_name):
        """S5: a fresh balancer; RSS before and with N idle connections through it to the backends."""
        count = self.args.idle
        ports = {"web": free_port()}
        if target_name == "haproxy":
            host, process = HAPROXY_IDLE_IP, self.start_haproxy("haproxy-idle", HAPROXY_IDLE_IP, ports)
        else:
            host, process = HALB_IDLE_IP, self.start_halb("halb-idle", HALB_IDLE_IP, ports)
        clients = IdleClients()
        record = {"errors": clients.errors}
        try:
            # Warm up (first connections, first requests through each backend), then let it settle.
            warm = IdleClients()
            warm.connect(host, ports["web"], 30, timeout=10)
            if warm.request_all(timeout=10) != 30:
                record["errors"].append("warm-up requests failed")
            record["errors"] += warm.errors
            warm.close()
            time.sleep(0.5)
            base_connections = connections_to(self.backends)
            rss_before, cpu_before = rss_bytes(process.pid), cpu_seconds(process.pid)

            clients.connect(host, ports["web"], count, timeout=60)
            deadline = time.time() + 30
            while time.time() < deadline and connections_to(self.backends) - base_connections < len(clients.sockets):
                time.sleep(0.1)
            upstream = connections_to(self.backends) - base_connections
            if upstream < len(clients.sockets):
                record["errors"].append("only %d of %d connections reached a backend"
                                        % (upstream, len(clients.sockets)))
            time.sleep(0.5)
            rss_after = rss_bytes(process.pid)
            record["cpu"] = cpu_seconds(process.pid) - cpu_before
            record["kib"] = (rss_after - rss_before) / max(1, len(clients.sockets)) / 1024
            record["rss_mib"] = rss_after / (1 << 20)

            time.sleep(self.args.seconds)  # held idle
            closed = clients.closed()
            if closed:
                record["errors"].append("%d idle connections were closed or got data while idle" % closed)
            good = clients.request_all(timeout=30)
            if good != len(clients.sockets):
                record["errors"].append("%d of %d held connections did not answer a request afterwards"
                                        % (len(clients.sockets) - good, len(clients.sockets)))
        finally:
            clients.close()
            self.lab.stop(process)
        return record


def version_line(argv):
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (result.stdout + result.stderr).strip()
    return text.splitlines()[0] if text else "?"


# ---------------------------------------------------------------------------------------------------------------
# The table.

# label, measurement, value key, HAProxy target, whether the CPU columns apply
ROWS = [
    ("S1 keep-alive, small answers: requests/s (wrk -t2 -c64)", "S1", "rate", "haproxy", True),
    ("S1 p50 latency, ms (lower is better)", "S1", "p50", "haproxy", False),
    ("S1 p99 latency, ms (lower is better)", "S1", "p99", "haproxy", False),
    ("S1 requests per balancer CPU-second", "S1", "per_cpu", "haproxy", False),
    ("S2 new connection per request: requests/s (wrk -t2 -c64)", "S2", "rate", "haproxy", True),
    ("S2 requests per balancer CPU-second", "S2", "per_cpu", "haproxy", False),
    ("S3 1 MiB downloads, keep-alive: MB/s (wrk -t2 -c16)", "S3", "mbs", "haproxy", True),
    ("S3 the same, HAProxy with splice", "S3", "mbs", "haproxy-splice", True),
    ("S4 one TCP stream (iperf3): Gbit/s", "S4", "gbits", "haproxy", True),
    ("S4 the same, HAProxy with splice", "S4", "gbits", "haproxy-splice", True),
    ("S5 resident memory per idle connection, KiB (lower is better)", "S5", "kib", "haproxy", True),
    ("S6 new TLS handshakes/s (wrk -t2 -c64, Connection: close)", "S6h", "rate", "haproxy", True),
    ("S6 keep-alive HTTPS requests/s (wrk -t2 -c64)", "S6k", "rate", "haproxy", True),
]


def number(value):
    if value is None:
        return "—"
    if abs(value) >= 100:
        return "%.0f" % value
    if abs(value) >= 10:
        return "%.1f" % value
    return "%.2f" % value


def median_of(records, key):
    values = [r[key] for r in records if r.get(key) is not None]
    return statistics.median(values) if values else None


def table(results, scenarios, idle):
    """The Markdown table: medians over rounds, median and min-max of per-round HALB/HAProxy ratios, CPU-s."""
    lines = [
        "| scenario | direct | HAProxy | HALB | HALB/HAProxy (median of rounds) | noise (min–max of ratios) "
        "| HAProxy CPU-s | HALB CPU-s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, measurement, key, haproxy, cpu in ROWS:
        if measurement not in results or not any(measurement in MEASUREMENTS[s] for s in scenarios):
            continue
        if measurement == "S5":
            label = label.replace("idle connection", "idle connection (%d held)" % idle)
        per_target = results[measurement]
        theirs, ours = per_target.get(haproxy, []), per_target.get("halb", [])
        ratios = [o[key] / t[key] for o, t in zip(ours, theirs)
                  if o.get(key) is not None and t.get(key) not in (None, 0)]
        direct = median_of(per_target.get("direct", []), key) if haproxy == "haproxy" else None
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            label, number(direct), number(median_of(theirs, key)), number(median_of(ours, key)),
            "%.2f" % statistics.median(ratios) if ratios else "—",
            "%.2f–%.2f" % (min(ratios), max(ratios)) if ratios else "—",
            number(median_of(theirs, "cpu")) if cpu else "", number(median_of(ours, "cpu")) if cpu else ""))
    return "\n".join(lines)


def smoke_table(results):
    """The smoke run's table: each measurement through HALB, its main figure, CPU-s and errors."""
    keys = {"S1": "rate", "S2": "rate", "S3": "mbs", "S4": "gbits", "S5": "kib", "S6h": "rate", "S6k": "rate"}
    lines = ["| measurement (smoke: one short round, figures not comparable) | HALB | HALB CPU-s | errors |",
             "|---|---|---|---|"]
    for label, measurement, key, haproxy, _ in ROWS:
        if haproxy != "haproxy" or key != keys[measurement] or measurement not in results:
            continue
        for record in results[measurement].get("halb", []):
            lines.append("| %s | %s | %s | %s |" % (label, number(record.get(key)), number(record.get("cpu")),
                                                    "; ".join(record.get("errors", [])) or "none"))
    return "\n".join(lines)


def errors_of(results, targets=None):
    found = []
    for measurement, per_target in results.items():
        for target, records in per_target.items():
            if targets and target not in targets:
                continue
            for round_index, record in enumerate(records):
                for error in record.get("errors", []):
                    found.append("%s, %s, round %d: %s" % (measurement, target, round_index + 1, error))
    return found


def machine_description():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    debian = ""
    if os.path.exists("/etc/debian_version"):
        debian = ", Debian " + open("/etc/debian_version").read().strip()
    return "%d CPUs (%s), Linux %s%s" % (os.cpu_count() or 0, model, platform.release(), debian)


def halb_revision():
    def git(*argv):
        result = subprocess.run(["git", "-C", ROOT] + list(argv), capture_output=True, text=True, timeout=10)
        return result.stdout.strip() if result.returncode == 0 else ""
    revision = git("rev-parse", "--short", "HEAD") or "?"
    if git("status", "--porcelain", "--", "Sources", "Package.swift"):
        revision += " with uncommitted changes in Sources/"
    return revision


def update_docs(path, block):
    """Replaces what lies between the markers in path, or appends a section holding them."""
    text = open(path).read()
    begin, end = text.find(BEGIN_MARK), text.find(END_MARK)
    if begin >= 0 and end > begin:
        text = text[:begin] + BEGIN_MARK + "\n" + block + "\n" + text[end:]
    else:
        text = text.rstrip("\n") + "\n\n## Harness (bench/run.sh)\n\n%s\n%s\n%s\n" % (BEGIN_MARK, block, END_MARK)
    with open(path, "w") as f:
        f.write(text)


# ---------------------------------------------------------------------------------------------------------------

def default_halb():
    """$(swift build -c release --show-bin-path)/halb, built if it is not there."""
    shown = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, capture_output=True,
                           text=True, timeout=300)
    if shown.returncode != 0:
        raise SystemExit("bench: cannot find the release build directory: " + shown.stderr.strip())
    path = os.path.join(shown.stdout.strip(), "halb")
    if not os.access(path, os.X_OK):
        log("bench: building HALB (swift build -c release)")
        subprocess.run(["swift", "build", "-c", "release", "--product", "halb"], cwd=ROOT, check=True,
                       stdout=sys.stderr)
    return path


def raise_open_files():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        with open("/proc/sys/fs/nr_open") as f:
            wanted = min(OPEN_FILES, int(f.read()))
    except OSError:
        wanted = OPEN_FILES
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), max(hard, wanted)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # not root: as far as the hard limit goes
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--seconds", type=int, default=5, help="length of each measurement (default 5)")
    parser.add_argument("--threads", type=int, default=1, help="HALB --threads and HAProxy nbthread (default 1)")
    parser.add_argument("--idle", type=int, default=10000,
                        help="idle connections held in S5 (default 10000, fewer if the open-file limit is lower)")
    parser.add_argument("--halb", help="the halb binary (default: the release build, built if missing)")
    parser.add_argument("--revision", help="HALB's revision as the docs should give it (default: this checkout's "
                                             "git HEAD, noting uncommitted changes in Sources/)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="a subset, e.g. S1,S4 (no docs written)")
    parser.add_argument("--docs", default=DOCS,
                        help="where a full run writes its table (default docs/performance.md)")
    parser.add_argument("--no-docs", action="store_true", help="print the table only")
    parser.add_argument("--smoke", action="store_true",
                        help="CI: one round of 2 s per scenario through HALB only, 500 idle connections; "
                             "exits 1 on any error, checks no timing")
    args = parser.parse_args()
    scenarios = [s.strip().upper() for s in args.scenarios.split(",") if s.strip()]
    for s in scenarios:
        if s not in SCENARIOS:
            parser.error("unknown scenario %s (choose among %s)" % (s, ", ".join(SCENARIOS)))
    if args.smoke:
        args.rounds, args.seconds = 1, 2
        if args.idle == parser.get_default("idle"):
            args.idle = 500
    if args.rounds < 1 or not 1 <= args.seconds <= 600 or not 1 <= args.threads <= 256 or not 1 <= args.idle <= 50000:
        parser.error("--rounds >= 1, --seconds 1-600, --threads 1-256, --idle 1-50000")
    tools = ["nginx", "wrk", "iperf3", "openssl"] + ([] if args.smoke else ["haproxy"])
    missing = [tool for tool in tools if not shutil.which(tool)]
    if missing:
        raise SystemExit("bench: needs %s (apt-get install haproxy nginx wrk iperf3)" % ", ".join(missing))
    args.halb = os.path.abspath(args.halb) if args.halb else default_halb()
    if not os.access(args.halb, os.X_OK):
        raise SystemExit("bench: no halb binary at " + args.halb)
    limit = raise_open_files()
    fitting = (limit - 1600) // 2 // 100 * 100  # the balancer holds two descriptors per connection
    if fitting < 100:
        raise SystemExit("bench: the open-file limit (%d) is too low" % limit)
    if args.idle > fitting:
        log("bench: the open-file limit is %d and cannot be raised (no CAP_SYS_RESOURCE): S5 holds %d idle "
            "connections instead of %d" % (limit, fitting, args.idle))
        args.idle = fitting

    started = datetime.datetime.now(datetime.timezone.utc)
    machine_before, own_before, wall_before = machine_cpu(), own_cpu(), time.time()
    work = tempfile.mkdtemp(prefix="halb-bench-")
    lab = Lab(work)
    bench = Bench(args, lab)
    results = {}

    def on_signal(signum, _frame):
        raise SystemExit("bench: stopped by signal %d" % signum)

    # SIGINT too: a shell starts background jobs with it ignored, and Python would keep it so.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
    try:
        bench.setup()
        targets_in_run = ["halb"] if args.smoke else list(bench.targets)
        log("bench: %s; %d round(s) of %d s, %d thread(s), %d idle connections; work dir %s" % (
            "smoke (HALB only, no timing checked)" if args.smoke else "direct, HAProxy, HALB", args.rounds,
            args.seconds, args.threads, args.idle, work))
        for scenario in scenarios:
            for measurement in MEASUREMENTS[scenario]:
                targets = [t for t in TARGETS[measurement] if t in targets_in_run]
                results[measurement] = {t: [] for t in targets}
                for round_index in range(args.rounds):
                    for target in targets:
                        record = bench.measure(measurement, target)
                        results[measurement][target].append(record)
                        shown = ", ".join("%s %s" % (k, number(v)) for k, v in record.items()
                                          if isinstance(v, (int, float)) and k not in ("duration", "bytes"))
                        log("  %-4s round %d %-15s %s%s" % (measurement, round_index + 1, target, shown,
                                                              "  ERRORS: " + "; ".join(record["errors"])
                                                              if record.get("errors") else ""))
                        time.sleep(0.5)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # a second Ctrl-C must not cut the cleanup
            signal.signal(signum, signal.SIG_IGN)
        lab.stop_all()
        shutil.rmtree(work, ignore_errors=True)

    wall = time.time() - wall_before
    machine_after = machine_cpu()
    foreign = (machine_after[0] - machine_before[0]) - (own_cpu() - own_before)
    steal = machine_after[1] - machine_before[1]
    capacity = wall * (os.cpu_count() or 1)
    halb_errors = errors_of(results, ["halb"])

    if args.smoke:
        print(smoke_table(results))
        if halb_errors:
            log("bench: smoke run FAILED, errors through HALB:\n  " + "\n  ".join(halb_errors))
            sys.exit(1)
        log("bench: smoke run passed: every scenario (%s) completed through HALB with no error, in %.0f s"
            % (", ".join(scenarios), wall))
        return

    other_errors = errors_of(results, [t for t in bench.targets if t != "halb"])
    block = [
        "Run of %s, `bench/run.sh --rounds %d --seconds %d --threads %d --idle %d` (%.0f min): %s." % (
            started.strftime("%Y-%m-%d %H:%M UTC"), args.rounds, args.seconds, args.threads, args.idle, wall / 60,
            machine_description()),
        "",
        "Versions: %s; %s; %s; %s; halb %s (%s)." % (
            " ".join(bench.haproxy_version.replace(" version", "").split()[:2]),
            version_line(["nginx", "-v"]).replace("nginx version: ", ""),
            " ".join(version_line(["wrk", "-v"]).split()[:2]), version_line(["iperf3", "--version"]).split(" (")[0],
            version_line([args.halb, "--version"]), args.revision or halb_revision()),
        "",
        "Open-file limit %d. Besides the harness's own processes, the machine was busy %.0f CPU-seconds during "
        "the run (%.0f%% of its capacity), and the hypervisor took %.0f%% (steal)." % (
            bench.open_files, max(0.0, foreign), 100 * max(0.0, foreign) / capacity, 100 * steal / capacity),
        "",
        table(results, scenarios, args.idle),
    ]
    all_errors = halb_errors + other_errors
    if all_errors:
        block += ["", "Errors during the run:", ""] + ["- " + e for e in all_errors]
    print("\n".join(block))
    if args.no_docs or scenarios != SCENARIOS:
        log("bench: docs not written (--no-docs or a subset of scenarios)")
    else:
        update_docs(args.docs, "\n".join(block))
        log("bench: table written to " + os.path.relpath(args.docs))


if __name__ == "__main__":
    main()
