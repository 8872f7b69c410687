#!/usr/bin/env python3
"""Chaos failover (issue 13): random faults against two managed HALB devices, with invariants checked after each.

The lab is built like bench/failover.py's: network namespaces named halbchaos-*, joined only to each other by a
bridge inside the namespace halbchaos-br, on 192.0.2.0/24 (nothing reaches the root namespace or a real interface):

  lb1 192.0.2.11, lb2 192.0.2.12   HALB devices (`halb device --console ...`), one virtual server `web` with the VIP
                                   192.0.2.100 (lb1 preferred primary, VRRP adverts every 100 ms, preempt)
  gw1 192.0.2.21, gw2 192.0.2.22   gateways: small HTTP servers on :8080 that answer their name
  console 192.0.2.5:8440           `halb console`; the devices are managed by it (enrolled with join tokens)
  client 192.0.2.31                opens a new HTTP connection to the VIP every 20 ms for the whole run

Each round picks one fault at random (seeded), on the current primary or secondary (at random):

  kill       kill -9 of the device, restarted 1-3 s later (same state directory)
  stop       SIGSTOP for 5 s, then SIGCONT
  link       the device's link down for 2-4 s (the bridge's end of its veth, or its own eth0), then up
  loss       30% packet loss both ways on the device's link for 3-5 s (nftables `numgen random mod 100 < 30 drop`
             on eth0's ingress and egress hooks in the device's namespace; this kernel has no netem)
  partition  lb1 and lb2 drop each other's packets (VRRP included) for 2-4 s; split brain is expected meanwhile
  console    SIGTERM or kill -9 of the console, started again 1-3 s later on the same data directory

After the fault ends, these invariants are checked within bounded time; each violation is counted:

  1 single VIP     the VIP is on exactly one device (`ip -4 addr` in each device's namespace) within 5 s
  2 no crash       no device (or console) process exited unless the fault killed it, and no log says
                   "Fatal error" or "Program crashed"
  3 bounded outage no run of failed client connections lasts more than 5 s past the end of the fault; for the
                   faults a failover should hide at once (kill, stop, link, console) no run lasts more than 3 s
                   at all. The longest run from the start of the fault to the end of the round is the round's
                   outage (as in bench/failover.py: from the start of the first failed connection to the start of
                   the next good one; 20 ms resolution). A round ends once the client is answered again, at most
                   10 s after the fault ("> N" ms: still failing then; the client's ARP entry for the VIP is then
                   flushed so that the next round starts clean). A violation says what the client's link carried
                   meanwhile (ARP for the VIP, VRRP adverts: a sniffer in the client's namespace) and whose MAC
                   address the client's ARP entry for the VIP held.
  4 status=kernel  each device's /status (admin endpoint 127.0.0.1:9100 in its namespace) agrees with the kernel
                   within 5 s: the device whose status says master holds the VIP, a backup does not
  5 steady state   lb1 is primary again (status master, holds the VIP), lb2 secondary, within 20 s (preempt: true)

Usage (root, with ip, nft, curl and python3; a built halb):
  bench/chaos.py [--rounds 100] [--seed N] [--halb PATH] [--report FILE]

Progress goes to standard error; a Markdown summary to standard output (and to --report FILE). The exit status is
1 if any invariant was violated. Every loop is bounded; the lab is removed at the end, also on failure, Ctrl-C or
SIGTERM, and a start removes what a crashed earlier run left (namespaces halbchaos-*).
"""

import argparse
import fcntl
import json
import os
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREFIX = "halbchaos-"
LOCK_FILE = "/run/halbchaos.lock"
VIP = "192.0.2.100"
HOSTS = {
    "lb1": "192.0.2.11", "lb2": "192.0.2.12", "gw1": "192.0.2.21", "gw2": "192.0.2.22",
    "console": "192.0.2.5", "client": "192.0.2.31",
}
DEVICES = ("lb1", "lb2")
CONSOLE_URL = "http://%s:8440" % HOSTS["console"]
ADMIN = "127.0.0.1:9100"
SITE_NAME = "chaos"
KINDS = ("kill", "stop", "link", "loss", "partition", "console")
# Faults that a failover should hide at once: any run of failed connections longer than this is a violation.
FAILOVER_KINDS = ("kill", "stop", "link", "console")
RUN_BOUND = 3.0
AFTER_FAULT_BOUND = 5.0
SINGLE_VIP_TIMEOUT = 5.0
STATUS_TIMEOUT = 5.0
STEADY_TIMEOUT = 20.0
RECOVERY_TIMEOUT = 10.0
CRASH_MARKERS = ("Fatal error", "Program crashed")

SITE = """site: %(site)s
gateways:
  - { name: gw1, address: 192.0.2.21, ports: { gateway: 8080 } }
  - { name: gw2, address: 192.0.2.22, ports: { gateway: 8080 } }
devices:
  - { name: lb1, address: 192.0.2.11, interface: eth0 }
  - { name: lb2, address: 192.0.2.12, interface: eth0 }
virtualServers:
  - name: web
    vip: { ipv4: %(vip)s/24 }
    vrrp: { routerId: 51, advertInterval: 100ms, preempt: true }
    devices: [lb1, lb2]
    payloads:
      gateway: { port: 80, gateways: [gw1, gw2] }
    healthCheck: { type: tcp, interval: 1s, timeout: 500ms, rise: 1, fall: 3 }
""" % {"site": SITE_NAME, "vip": VIP}

# A gateway: answers every connection with its name (after reading the request), then closes.
GATEWAY = """
import socketserver, sys
name = sys.argv[1].encode()
body = name + b"\\n"
answer = b"HTTP/1.1 200 OK\\r\\nContent-Length: %d\\r\\nConnection: close\\r\\n\\r\\n" % len(body) + body
class H(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            self.request.settimeout(2); self.request.recv(1024); self.request.sendall(answer)
        except OSError: pass
socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer.daemon_threads = True
with socketserver.ThreadingTCPServer(("0.0.0.0", 8080), H) as s: s.serve_forever()
"""

# The client: a new connection to the VIP every 20 ms (0.5 s to connect, 0.5 s for the answer), one line per
# finished attempt ("start 1 gateway" or "start 0 error"), flushed at once. It stops when its standard input closes or after
# max_seconds, whichever comes first.
CLIENT = """
import socket, sys, threading, time
vip, max_seconds = sys.argv[1], float(sys.argv[2])
lock = threading.Lock()
stop = threading.Event()
def watch():
    sys.stdin.read(); stop.set()
threading.Thread(target=watch, daemon=True).start()
def attempt(start):
    ok, who = 0, "-"
    try:
        with socket.create_connection((vip, 80), timeout=0.5) as s:
            s.settimeout(0.5)
            s.sendall(b"GET / HTTP/1.1\\r\\nHost: chaos\\r\\nConnection: close\\r\\n\\r\\n")
            data = b""
            while len(data) < 4096:
                chunk = s.recv(4096)
                if not chunk: break
                data += chunk
            if data.startswith(b"HTTP/1.1 200"):
                ok, who = 1, data.rsplit(b"\\r\\n\\r\\n", 1)[-1].strip().decode(errors="replace") or "?"
            else:
                who = "answer:%d-bytes" % len(data)
    except socket.timeout: who = "timeout"
    except ConnectionRefusedError: who = "refused"
    except ConnectionResetError: who = "reset"
    except OSError as error: who = "errno:%s" % error.errno
    with lock:
        sys.stdout.write("%.4f %d %s\\n" % (start, ok, who)); sys.stdout.flush()
end = time.time() + max_seconds
next_start = time.time()
threads = []
while next_start < end and not stop.is_set():
    time.sleep(max(0.0, next_start - time.time()))
    thread = threading.Thread(target=attempt, args=(time.time(),), daemon=True); thread.start(); threads.append(thread)
    threads = [t for t in threads if t.is_alive()]
    next_start += 0.02
for thread in threads: thread.join(timeout=2)
"""

# A sniffer in the client's namespace (diagnostics only): every ARP packet for the VIP and every VRRP advertisement
# that reaches the client's link, one line each: "time arp OP SENDER_MAC SENDER_IP" or "time vrrp SOURCE PRIORITY".
# It stops when its standard input closes or after max_seconds.
SNIFFER = """
import select, socket, struct, sys, threading, time
vip, max_seconds = socket.inet_aton(sys.argv[1]), float(sys.argv[2])
stop = threading.Event()
def watch():
    sys.stdin.read(); stop.set()
threading.Thread(target=watch, daemon=True).start()
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind(("eth0", 0))
end = time.time() + max_seconds
while not stop.is_set() and time.time() < end:
    if not select.select([s], [], [], 0.5)[0]:
        continue
    frame, meta = s.recvfrom(2048)
    now = time.time()
    kind = frame[12:14]
    if kind == b"\\x08\\x06" and len(frame) >= 42:
        op = struct.unpack("!H", frame[20:22])[0]
        mac = frame[22:28].hex(":")
        if frame[28:32] == vip or frame[38:42] == vip:
            sys.stdout.write("%.4f arp %s %s %s %s\\n" % (now, "reply" if op == 2 else "request", mac,
                             socket.inet_ntoa(frame[28:32]), socket.inet_ntoa(frame[38:42])))
    elif kind == b"\\x08\\x00" and len(frame) >= 42 and frame[23] == 112:
        ihl = (frame[14] & 15) * 4
        sys.stdout.write("%.4f vrrp %s %d\\n" % (now, socket.inet_ntoa(frame[26:30]), frame[14 + ihl + 2]))
    sys.stdout.flush()
"""


def log(message):
    print("%s %s" % (time.strftime("%H:%M:%S"), message), file=sys.stderr, flush=True)


def sh(*args, check=True, timeout=20, env=None):
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)
    if check and result.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(args), result.returncode, result.stderr.strip()))
    return result.stdout


def ns(host):
    return PREFIX + host


def remove_leftovers():
    """Removes the namespaces (and what runs in them) of an earlier run of this script that did not clean up."""
    names = [line.split()[0] for line in sh("ip", "netns", "list", check=False).splitlines() if line.strip()]
    for name in names:
        if name.startswith(PREFIX):
            log("removing the leftover namespace %s" % name)
            kill_namespace(name)


def kill_namespace(name):
    for _ in range(3):
        pids = sh("ip", "netns", "pids", name, check=False).split()
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGCONT)
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        time.sleep(0.2)
    sh("ip", "netns", "del", name, check=False)


class Lab:
    def __init__(self, directory):
        self.directory = directory
        self.namespaces = []
        self.processes = []
        self.add("br")
        sh("ip", "-n", ns("br"), "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", ns("br"), "link", "set", "br0", "up")
        for host, address in HOSTS.items():
            self.add(host)
            # The veth is made inside the bridge's namespace, its peer inside the host's: never in the root namespace.
            sh("ip", "-n", ns("br"), "link", "add", self.port(host), "type", "veth", "peer", "name", "eth0",
               "netns", ns(host))
            sh("ip", "-n", ns("br"), "link", "set", self.port(host), "master", "br0", "up")
            sh("ip", "-n", ns(host), "addr", "add", address + "/24", "dev", "eth0")
            sh("ip", "-n", ns(host), "link", "set", "eth0", "up")

    @staticmethod
    def port(host):
        return "hc-" + host

    def add(self, host):
        sh("ip", "netns", "add", ns(host))
        self.namespaces.append(ns(host))
        sh("ip", "-n", ns(host), "link", "set", "lo", "up")

    def spawn(self, host, args, log_path=None, env=None, stdin=None, stdout=None):
        out = stdout if stdout is not None else (open(log_path, "a") if log_path else subprocess.DEVNULL)
        process = subprocess.Popen(["ip", "netns", "exec", ns(host)] + args, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=stdin if stdin is not None else subprocess.DEVNULL, env=env)
        if log_path and stdout is None:
            out.close()
        self.processes.append(process)
        return process

    def holders(self):
        held = []
        for host in DEVICES:
            if (" %s/" % VIP) in sh("ip", "-n", ns(host), "-4", "-o", "addr", "show", check=False):
                held.append(host)
        return held

    def curl(self, host, url, data=None, headers=(), timeout=1.0):
        args = ["ip", "netns", "exec", ns(host), "curl", "-s", "-m", str(timeout), "-w", "\n%{http_code}"]
        for header in headers:
            args += ["-H", header]
        if data is not None:
            args += ["-H", "Content-Type: application/json", "--data", data]
        result = subprocess.run(args + [url], capture_output=True, text=True, timeout=timeout + 5)
        body, _, code = result.stdout.rpartition("\n")
        return (int(code) if code.isdigit() else 0), body

    def nft(self, host, ruleset):
        subprocess.run(["ip", "netns", "exec", ns(host), "nft", "-f", "-"], input=ruleset, text=True, check=True,
                       capture_output=True, timeout=10)

    def nft_clear(self, *hosts):
        """Removes the fault's rules; from several hosts at the same moment (a partition heals at once)."""
        processes = [subprocess.Popen(["ip", "netns", "exec", ns(host), "nft", "delete", "table", "netdev", "halbchaos"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for host in hosts]
        for process in processes:
            process.wait(timeout=10)

    def teardown(self):
        for process in self.processes:
            if process.poll() is None:
                try:
                    process.send_signal(signal.SIGCONT)
                    process.kill()
                    process.wait(timeout=5)
                except (OSError, subprocess.TimeoutExpired):
                    pass
        for name in reversed(self.namespaces):
            kill_namespace(name)


class Chaos:
    def __init__(self, lab, directory, halb, rng):
        self.lab, self.directory, self.halb, self.rng = lab, directory, halb, rng
        self.devices = {}          # host -> Popen of the running process
        self.device_logs = {}      # host -> list of log paths
        self.expected_exit = set() # Popen objects this script killed
        self.console = None
        self.console_logs = []
        self.console_data = os.path.join(directory, "console")
        self.crashes_seen = set()
        self.scanned_logs = {}
        self.password = secrets.token_urlsafe(18)
        self.token = None
        self.starts = 0
        self.macs = {}

    # --- processes ---------------------------------------------------------------------------------------------

    def start_console(self):
        self.starts += 1
        path = os.path.join(self.directory, "console-%d.log" % self.starts)
        self.console_logs.append(path)
        env = dict(os.environ, HALB_ADMIN_PASSWORD=self.password)
        self.console = self.lab.spawn("console", [self.halb, "console", "--data", self.console_data,
                                                  "--listen", "%s:8440" % HOSTS["console"]], log_path=path, env=env)
        if not self.wait_for(lambda: self.lab.curl("console", CONSOLE_URL + "/healthz")[0] == 200, 15):
            raise RuntimeError("the console did not answer /healthz within 15 s (see %s)" % path)

    def start_device(self, host, join_token=None):
        self.starts += 1
        path = os.path.join(self.directory, "%s-%d.log" % (host, self.starts))
        self.device_logs.setdefault(host, []).append(path)
        env = dict(os.environ)
        env.pop("HALB_JOIN_TOKEN", None)
        if join_token:
            env["HALB_JOIN_TOKEN"] = join_token
        state = os.path.join(self.directory, host)
        os.makedirs(state, exist_ok=True)
        self.devices[host] = self.lab.spawn(host, [
            self.halb, "device", "--console", CONSOLE_URL, "--name", host, "--state", state,
            "--admin", ADMIN, "--drain-timeout", "1s",
        ], log_path=path, env=env)

    def kill(self, process, sig=signal.SIGKILL):
        self.expected_exit.add(process)
        process.send_signal(sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def setup(self):
        with open(os.path.join(self.directory, "site.yaml"), "w") as f:
            f.write(SITE)
        os.makedirs(self.console_data, mode=0o700, exist_ok=True)
        sh(self.halb, "console", "import", "--data", self.console_data, os.path.join(self.directory, "site.yaml"))
        self.start_console()
        code, body = self.lab.curl("console", CONSOLE_URL + "/api/v1/login",
                                   data=json.dumps({"user": "admin", "password": self.password}), timeout=10)
        if code not in (200, 201):
            raise RuntimeError("login: HTTP %d %s" % (code, body[:300]))
        self.token = json.loads(body)["token"]
        for host in DEVICES:
            code, body = self.lab.curl("console", "%s/api/v1/sites/%s/join-tokens" % (CONSOLE_URL, SITE_NAME),
                                       data=json.dumps({"device": host}), timeout=10,
                                       headers=("Authorization: Bearer " + self.token,))
            if code != 201:
                raise RuntimeError("join token for %s: HTTP %d %s" % (host, code, body))
            self.start_device(host, json.loads(body)["token"])
            if host == "lb1" and not self.wait_for(
                    lambda: self.lab.holders() == ["lb1"] and (self.status_state("lb1") or ("",))[0] == "master", 30):
                raise RuntimeError("lb1 did not become primary within 30 s (see %s)" % self.device_logs["lb1"][-1])
        for host in HOSTS:
            self.macs[sh("ip", "-n", ns(host), "-o", "link", "show", "eth0").split("link/ether")[1].split()[0]] = host
        if not self.wait_for(lambda: self.steady(), 30):
            raise RuntimeError("the lab did not reach lb1 primary, lb2 secondary within 30 s: %s" % self.describe())
        for host in DEVICES:
            if not os.path.exists(os.path.join(self.directory, host, "identity.json")):
                raise RuntimeError("%s did not enrol (no identity.json)" % host)

    # --- observation -------------------------------------------------------------------------------------------

    @staticmethod
    def wait_for(condition, timeout, step=0.05):
        deadline = time.time() + timeout
        while True:
            if condition():
                return True
            if time.time() >= deadline:
                return False
            time.sleep(step)

    def status_state(self, host):
        """The state of the virtual router web/ipv4 in the device's /status, or None if it does not answer."""
        try:
            code, body = self.lab.curl(host, "http://%s/status" % ADMIN, timeout=1.0)
            if code != 200:
                return None
            for router in json.loads(body).get("failover", []):
                if router.get("name") == "web" and router.get("family", "ipv4") == "ipv4":
                    return router.get("state"), router.get("transitions")
        except (ValueError, OSError, subprocess.TimeoutExpired):
            pass
        return None

    def agreement(self):
        """(True if each device's /status agrees with its kernel, a description)."""
        before = {host: self.status_state(host) for host in DEVICES}
        held = self.lab.holders()
        after = {host: self.status_state(host) for host in DEVICES}
        ok = True
        parts = []
        for host in DEVICES:
            state = after[host]
            if state is None or before[host] != state:
                ok = False  # no answer, or a transition while we looked: look again
                parts.append("%s:%s" % (host, "no status" if state is None else "changing"))
                continue
            master = state[0] == "master"
            if master != (host in held):
                ok = False
            parts.append("%s:%s%s" % (host, state[0], "+VIP" if host in held else ""))
        return ok, " ".join(parts)

    def steady(self):
        if any(self.devices[host].poll() is not None for host in DEVICES):
            return False
        ok, description = self.agreement()
        return ok and self.lab.holders() == ["lb1"] and description.startswith("lb1:master") and "lb2:backup" in description

    def describe(self):
        return "holders %s, %s" % (self.lab.holders(), self.agreement()[1])

    def client_arp(self):
        """Whose MAC address the client's neighbour entry for the VIP holds, with the entry's state."""
        entry = sh("ip", "-n", ns("client"), "neigh", "show", VIP, check=False).split()
        if "lladdr" not in entry:
            return "none" + ("(%s)" % entry[-1] if entry else "")
        mac = entry[entry.index("lladdr") + 1]
        return "%s(%s)" % (self.macs.get(mac, mac), entry[-1])

    def timeline(self, path, origin, begin, end):
        """What the client's link carried between begin and end: ARP for the VIP, and VRRP adverts (runs of them
        from one sender with one priority shown as one entry). Times from origin."""
        names = dict(self.macs)
        names.update({address: host for host, address in HOSTS.items()})
        events = []      # (time, text)
        segments = {}    # sender and priority -> [[first, last, count], ...]: adverts less than 0.35 s apart
        try:
            with open(path, errors="replace") as f:
                lines = f.readlines()
        except OSError:
            return "(no capture)"
        for line in lines:
            fields = line.split()
            try:
                t = float(fields[0])
            except (ValueError, IndexError):
                continue
            if t < begin or t > end:
                continue
            if fields[1] == "arp" and len(fields) >= 6:
                who = names.get(fields[3], fields[3])
                events.append((t, "ARP %s from %s (%s for %s)" % (fields[2], who, fields[4], fields[5])))
            elif fields[1] == "vrrp" and len(fields) >= 4:
                runs = segments.setdefault("%s prio %s" % (names.get(fields[2], fields[2]), fields[3]), [])
                if runs and t - runs[-1][1] < 0.35:
                    runs[-1][1], runs[-1][2] = t, runs[-1][2] + 1
                else:
                    runs.append([t, t, 1])
        for key, runs in segments.items():
            for first, last, count in runs:
                events.append((first, "%d adverts from %s until %+.2f" % (count, key, last - origin)))
        events.sort()
        parts = ["%+.2f %s" % (t - origin, text) for t, text in events[:30]]
        if len(events) > 30:
            parts.append("(%d more)" % (len(events) - 30))
        return "; ".join(parts) or "nothing"

    def primary(self):
        held = self.lab.holders()
        return held[0] if len(held) == 1 else "lb1"

    def crashes(self):
        """New crashes: processes that exited without being killed here, and crash markers in the logs."""
        found = []
        processes = [(host, process) for host, process in self.devices.items()] + [("console", self.console)]
        for host, process in processes:
            if process is not None and process.poll() is not None and process not in self.expected_exit \
                    and process not in self.crashes_seen:
                self.crashes_seen.add(process)
                found.append("%s exited by itself with status %s" % (host, process.returncode))
        for path in [p for paths in self.device_logs.values() for p in paths] + self.console_logs:
            try:
                with open(path, errors="replace") as f:
                    f.seek(self.scanned_logs.get(path, 0))
                    text = f.read()
                    self.scanned_logs[path] = f.tell()
            except OSError:
                continue
            for line in text.splitlines():
                if any(marker in line for marker in CRASH_MARKERS):
                    found.append("%s: %s" % (os.path.basename(path), line.strip()[:300]))
        return found

    def restart_exited(self):
        """Starts again a device or console that exited by itself (a crash), so that the run goes on."""
        for host in DEVICES:
            if self.devices[host].poll() is not None:
                log("  restarting %s after its crash" % host)
                self.start_device(host)
        if self.console.poll() is not None:
            log("  restarting the console after its crash")
            self.start_console()

    # --- faults ------------------------------------------------------------------------------------------------

    def fault(self, kind, target):
        """Applies the fault and ends it; returns (start, end, detail)."""
        rng = self.rng
        start = time.time()
        if kind == "kill":
            self.kill(self.devices[target], signal.SIGKILL)
            pause = rng.uniform(1, 3)
            time.sleep(pause)
            self.start_device(target)
            detail = "kill -9 %s, restarted after %.1f s" % (target, pause)
        elif kind == "stop":
            process = self.devices[target]
            process.send_signal(signal.SIGSTOP)
            try:
                time.sleep(5)
            finally:
                process.send_signal(signal.SIGCONT)
            detail = "SIGSTOP %s for 5 s" % target
        elif kind == "link":
            side = rng.choice(("bridge", "device"))
            down = rng.uniform(2, 4)
            if side == "bridge":
                command = ("ip", "-n", ns("br"), "link", "set", self.lab.port(target))
            else:
                command = ("ip", "-n", ns(target), "link", "set", "eth0")
            sh(*command, "down")
            try:
                time.sleep(down)
            finally:
                sh(*command, "up")
            detail = "link of %s down for %.1f s (%s end)" % (target, down, side)
        elif kind == "loss":
            seconds = rng.uniform(3, 5)
            self.lab.nft(target, """table netdev halbchaos {
  chain ingress { type filter hook ingress device "eth0" priority 0; numgen random mod 100 < 30 drop; }
  chain egress { type filter hook egress device "eth0" priority 0; numgen random mod 100 < 30 drop; }
}
""")
            try:
                time.sleep(seconds)
            finally:
                self.lab.nft_clear(target)
            detail = "30%% loss on %s's link for %.1f s" % (target, seconds)
        elif kind == "partition":
            seconds = rng.uniform(2, 4)
            for host, other in (("lb1", "lb2"), ("lb2", "lb1")):
                self.lab.nft(host, """table netdev halbchaos {
  chain ingress { type filter hook ingress device "eth0" priority 0; ip saddr %(other)s drop; ip protocol 112 ip saddr %(other)s drop; }
  chain egress { type filter hook egress device "eth0" priority 0; ip daddr %(other)s drop; }
}
""" % {"other": HOSTS[other]})
            try:
                time.sleep(seconds)
            finally:
                self.lab.nft_clear(*DEVICES)
            detail = "partition between lb1 and lb2 for %.1f s" % seconds
        elif kind == "console":
            how = rng.choice(("SIGTERM", "kill -9"))
            self.kill(self.console, signal.SIGTERM if how == "SIGTERM" else signal.SIGKILL)
            pause = rng.uniform(1, 3)
            time.sleep(pause)
            self.start_console()
            detail = "console %s, started again after %.1f s" % (how, pause)
        else:
            raise ValueError(kind)
        return start, time.time(), detail


# --- client results ----------------------------------------------------------------------------------------------

def read_attempts(path, errors=None):
    attempts = []
    with open(path, errors="replace") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 2:
                try:
                    attempts.append((float(fields[0]), fields[1] == "1"))
                    if errors is not None and fields[1] != "1" and len(fields) >= 3:
                        errors.append((float(fields[0]), fields[2]))
                except ValueError:
                    pass
    attempts.sort()
    return attempts


def failure_runs(attempts, begin, end):
    """Runs of failed attempts started in [begin, end]: (first failure's start, next success's start or None)."""
    runs = []
    run_start = None
    for t, ok in attempts:
        if t < begin:
            continue
        if not ok and run_start is None:
            if t > end:
                break
            run_start = t
        elif ok and run_start is not None:
            runs.append((run_start, t))
            run_start = None
    if run_start is not None:
        runs.append((run_start, None))
    return runs


def git_commit():
    try:
        return sh("git", "-C", ROOT, "log", "-1", "--format=%h %cd", "--date=iso-strict").strip()
    except (RuntimeError, OSError, subprocess.TimeoutExpired):
        return "unknown"


def fmt_ms(value, still_failing=False):
    """An outage in ms; one still going on when the round ended (the client was not answered again within
    RECOVERY_TIMEOUT) is shown as a lower bound."""
    if value is None:
        return "n/a"
    return ("> %.0f" if still_failing else "%.0f") % value


def markdown(rounds, violations, options, halb, started, elapsed, attempts_total, failed_total, notes):
    lines = []
    lines.append("## Chaos failover: %d rounds" % len(rounds))
    lines.append("")
    lines.append("- date: %s UTC, %.0f s (%.1f min)" % (time.strftime("%Y-%m-%d %H:%M", time.gmtime(started)),
                                                       elapsed, elapsed / 60))
    lines.append("- halb: `%s`, commit %s" % (halb, git_commit()))
    lines.append("- seed %d; 2 managed devices (lb1 preferred primary, lb2), 100 ms adverts, 2 gateways, a console;"
                 " a new client connection every 20 ms (0.5 s + 0.5 s timeouts): %d attempts, %d failed"
                 % (options.seed, attempts_total, failed_total))
    lines.append("")
    lines.append("| fault | rounds | on primary / secondary | outage ms, median | outage ms, worst |")
    lines.append("|---|---|---|---|---|")
    for kind in KINDS:
        mine = [r for r in rounds if r["kind"] == kind]
        if not mine:
            lines.append("| %s | 0 | | | |" % kind)
            continue
        worst = max(mine, key=lambda r: (r["outage_ms"], r["open"]))
        roles = "%d / %d" % (sum(1 for r in mine if r["role"] == "primary"),
                             sum(1 for r in mine if r["role"] == "secondary")) if kind != "console" and kind != "partition" else "-"
        lines.append("| %s | %d | %s | %s | %s |" % (kind, len(mine), roles,
                                                   fmt_ms(statistics.median(r["outage_ms"] for r in mine)),
                                                   fmt_ms(worst["outage_ms"], worst["open"])))
    lines.append("")
    lines.append("| invariant | violations |")
    lines.append("|---|---|")
    for name in INVARIANTS:
        lines.append("| %s | %d |" % (name, len(violations[name])))
    lines.append("")
    total = sum(len(v) for v in violations.values())
    lines.append("**%s**" % ("No invariant violated." if total == 0 else "%d invariant violation(s):" % total))
    for name in INVARIANTS:
        for text in violations[name]:
            lines.append("- %s: %s" % (name, text))
    if notes:
        lines.append("")
        lines.append("Notes:")
        for note in notes:
            lines.append("- %s" % note)
    lines.append("")
    lines.append("<details><summary>Rounds</summary>")
    lines.append("")
    lines.append("| # | fault | outage ms | VIP single after (s) | status agrees after (s) | steady after (s) |"
                 " client's ARP for the VIP then |")
    lines.append("|---|---|---|---|---|---|---|")
    for r in rounds:
        lines.append("| %d | %s | %s | %s | %s | %s | %s |" % (
            r["round"], r["detail"], fmt_ms(r["outage_ms"], r["open"]), r["single_after"], r["agree_after"], r["steady_after"],
            r["arp"]))
    lines.append("")
    lines.append("</details>")
    return "\n".join(lines) + "\n"


INVARIANTS = ("1 single VIP", "2 no crash", "3 bounded outage", "4 status = kernel", "5 steady state")


def run(options, lab, directory, started):
    rng = random.Random(options.seed)
    chaos = Chaos(lab, directory, options.halb, rng)
    violations = {name: [] for name in INVARIANTS}
    rounds = []
    notes = []
    for host, address in HOSTS.items():
        if host.startswith("gw"):
            lab.spawn(host, ["python3", "-c", GATEWAY, host], log_path=os.path.join(directory, host + ".log"))
    log("lab up; starting the console and enrolling lb1 and lb2")
    chaos.setup()
    log("steady: %s" % chaos.describe())
    client_log = os.path.join(directory, "client.log")
    client_out = open(client_log, "w")
    client = lab.spawn("client", ["python3", "-u", "-c", CLIENT, VIP, str(options.rounds * 60 + 120)],
                       stdin=subprocess.PIPE, stdout=client_out)
    client_out.close()
    sniffer_log = os.path.join(directory, "sniffer.log")
    sniffer_out = open(sniffer_log, "w")
    sniffer = lab.spawn("client", ["python3", "-u", "-c", SNIFFER, VIP, str(options.rounds * 60 + 120)],
                        stdin=subprocess.PIPE, stdout=sniffer_out)
    sniffer_out.close()
    time.sleep(1.5)
    def answered_before():
        now = time.time()
        recent = [ok for t, ok in read_attempts(client_log) if now - 1.6 <= t <= now - 1.1]
        return len(recent) >= 15 and all(recent)

    try:
        for number in range(1, options.rounds + 1):
            if not chaos.wait_for(chaos.steady, STEADY_TIMEOUT):
                log("  not steady before round %d: %s" % (number, chaos.describe()))
            # The client must be answered before the fault, or this round would be blamed for the last one.
            if not chaos.wait_for(answered_before, RECOVERY_TIMEOUT, step=0.2):
                sh("ip", "-n", ns("client"), "neigh", "flush", VIP, check=False)
                ok = chaos.wait_for(answered_before, 5, step=0.2)
                notes.append("before round %d the client was not answered (its ARP entry for the VIP: %s); after"
                             " a flush of that entry it %s" % (number, chaos.client_arp(), "was" if ok else "was not"))
            kind = rng.choice(KINDS)
            role = rng.choice(("primary", "secondary"))
            current = chaos.primary()
            target = current if role == "primary" else next(h for h in DEVICES if h != current)
            if kind in ("partition", "console"):
                role, target = "-", None
            start, end, detail = chaos.fault(kind, target)
            if target:
                detail = "%s (%s)" % (detail, role)
            tag = "round %d (%s)" % (number, detail)

            # 1: the VIP on exactly one device, within 5 s of the end of the fault.
            single = chaos.wait_for(lambda: len(lab.holders()) == 1, SINGLE_VIP_TIMEOUT, step=0.02)
            single_after = "%.2f" % (time.time() - end) if single else "> %.0f" % SINGLE_VIP_TIMEOUT
            if not single:
                violations["1 single VIP"].append("%s: VIP held by %s %.0f s after the fault" % (
                    tag, lab.holders() or "no device", SINGLE_VIP_TIMEOUT))
            # 4: /status agrees with the kernel on every device.
            begin = time.time()
            agree = chaos.wait_for(lambda: chaos.agreement()[0], STATUS_TIMEOUT, step=0.02)
            agree_after = "%.2f" % (time.time() - end) if agree else "> %.0f" % (begin - end + STATUS_TIMEOUT)
            if not agree:
                violations["4 status = kernel"].append("%s: %s" % (tag, chaos.describe()))
            # 5: back to lb1 primary, lb2 secondary.
            steady = chaos.wait_for(chaos.steady, STEADY_TIMEOUT)
            steady_after = "%.2f" % (time.time() - end) if steady else "> %.0f" % STEADY_TIMEOUT
            arp_steady = chaos.client_arp()
            if not steady:
                violations["5 steady state"].append("%s: after %.0f s: %s" % (tag, STEADY_TIMEOUT, chaos.describe()))
            # 2: crashes.
            for text in chaos.crashes():
                violations["2 no crash"].append("%s: %s" % (tag, text))
            chaos.restart_exited()
            # 3: the client's outage. The round ends once the client is answered again (its last 10 attempts
            # good), at most RECOVERY_TIMEOUT after the fault; attempts take 1 s at most, so look 1.2 s later.
            def answered(since=end):
                # Attempts started more than 1.1 s ago have all finished: those of the last 0.5 s before that all
                # good, and at least 1 s after the fault (failures caused by it start within that).
                now = time.time()
                if now - 1.1 < since + 1.0:
                    return False
                recent = [ok for t, ok in read_attempts(client_log) if now - 1.6 <= t <= now - 1.1]
                return len(recent) >= 15 and all(recent)
            recovered = chaos.wait_for(answered, max(0.0, end + RECOVERY_TIMEOUT - time.time()), step=0.2)
            round_end = time.time()
            time.sleep(1.2)
            arp_end = chaos.client_arp()
            errors = []
            attempts = read_attempts(client_log, errors)
            runs = failure_runs(attempts, start - 0.5, round_end)
            outage, outage_open = 0.0, False
            for run_start, run_end in runs:
                length = float("inf") if run_end is None else (run_end - run_start) * 1000
                if min(length, (round_end - run_start) * 1000) >= outage:
                    outage, outage_open = min(length, (round_end - run_start) * 1000), run_end is None
                past_end = float("inf") if run_end is None else run_end - max(run_start, end)
                if past_end > AFTER_FAULT_BOUND or (kind in FAILOVER_KINDS and length > RUN_BOUND * 1000):
                    violations["3 bounded outage"].append(
                        "%s: clients failed from %+.2f s to %s (the fault ended at %+.2f s; times from the start of"
                        " the fault). The client's ARP entry for the VIP: %s when the devices were steady again"
                        " (%s s after the fault), %s %.1f s after. On the client's link: %s" % (
                            tag, run_start - start,
                            "the end of the round (%+.2f s)" % (round_end - start) if run_end is None
                            else "%+.2f s" % (run_end - start),
                            end - start, arp_steady, steady_after, arp_end, time.time() - end,
                            chaos.timeline(sniffer_log, start, run_start - 1.0,
                                           (run_end or round_end) + 0.2)))
                    kinds = {}
                    for t, error in errors:
                        if t >= run_start and (run_end is None or t < run_end):
                            kinds[error] = kinds.get(error, 0) + 1
                    violations["3 bounded outage"][-1] += ". Failed attempts: %s" % (
                        ", ".join("%d %s" % (n, k) for k, n in sorted(kinds.items(), key=lambda x: -x[1])) or "-")
            if not recovered:
                # Measured and counted above; make the next round independent of this one: the client forgets its
                # neighbour entry for the VIP and asks again (who answers is then the kernel's ARP, not HALB's).
                sh("ip", "-n", ns("client"), "neigh", "flush", VIP, check=False)
                if chaos.wait_for(answered, 5, step=0.2):
                    notes.append("round %d: the client was not answered %.0f s after the fault; after its ARP entry for"
                                 " the VIP was flushed it was at once" % (number, RECOVERY_TIMEOUT))
                else:
                    notes.append("round %d: the client was not answered %.0f s after the fault, nor 5 s after its ARP"
                                 " entry for the VIP was flushed" % (number, RECOVERY_TIMEOUT))
            if client.poll() is not None:
                violations["3 bounded outage"].append("%s: the client stopped (status %s)" % (tag, client.returncode))
                raise RuntimeError("the client stopped")
            rounds.append({"round": number, "kind": kind, "role": role, "detail": detail, "outage_ms": outage,
                           "open": outage_open,
                           "single_after": single_after, "agree_after": agree_after, "steady_after": steady_after,
                           "arp": arp_steady})
            total = sum(len(v) for v in violations.values())
            log("round %d/%d: %s; outage %s ms; VIP single +%s s, status agrees +%s s, steady +%s s; violations %d" % (
                number, options.rounds, detail, fmt_ms(outage, outage_open), single_after, agree_after, steady_after, total))
        # At the end the console sees both devices (heartbeats every 5 s, offline after 15 s).
        def console_sees_both():
            code, body = lab.curl("console", "%s/api/v1/sites/%s/status" % (CONSOLE_URL, SITE_NAME), timeout=5,
                                  headers=("Authorization: Bearer " + chaos.token,))
            return code == 200 and body.count('"OK"') >= 2, body
        if not chaos.wait_for(lambda: console_sees_both()[0], 20, step=1):
            notes.append("the console did not show both devices OK within 20 s of the last round: %s"
                         % console_sees_both()[1][:500])
    finally:
        for process in (client, sniffer):
            try:
                process.stdin.close()
                process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
    attempts = read_attempts(client_log)
    return rounds, violations, notes, len(attempts), sum(1 for _, ok in attempts if not ok)


def pick_halb():
    """The release build unless it is missing or older than the newest commit; then the debug build."""
    release = os.path.join(ROOT, ".build", "release", "halb")
    debug = os.path.join(ROOT, ".build", "debug", "halb")
    try:
        newest = int(sh("git", "-C", ROOT, "log", "-1", "--format=%ct").strip())
    except (RuntimeError, ValueError, OSError):
        newest = 0
    if os.path.exists(release) and os.path.getmtime(release) >= newest:
        return release
    if os.path.exists(debug):
        return debug
    return release


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: from the clock, printed)")
    parser.add_argument("--halb", default=None, help="the halb binary (default: the newest of .build/release, .build/debug)")
    parser.add_argument("--report", default=None, help="also write the Markdown summary to this file")
    parser.add_argument("--keep-logs", default=None, help="copy the lab's logs into this directory at the end")
    options = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: the lab builds network namespaces")
    for tool in ("ip", "nft", "curl"):
        if shutil.which(tool) is None:
            raise SystemExit("%s is missing (Debian: iproute2, nftables, curl)" % tool)
    options.halb = os.path.abspath(options.halb or pick_halb())
    if not os.access(options.halb, os.X_OK):
        raise SystemExit("no halb binary at %s: build first" % options.halb)
    if options.seed is None:
        options.seed = int(time.time()) % 1000000
    lock = open(LOCK_FILE, "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise SystemExit("another bench/chaos.py runs (%s is locked)" % LOCK_FILE)

    # SIGTERM, SIGHUP and SIGINT end the run through the `finally` below, which removes the lab.
    def interrupted(signum, _frame):
        raise KeyboardInterrupt("signal %d" % signum)
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, interrupted)

    log("halb %s, seed %d, %d rounds" % (options.halb, options.seed, options.rounds))
    remove_leftovers()
    for name in os.listdir(tempfile.gettempdir()):
        if name.startswith(PREFIX) and not name.endswith("-logs"):
            shutil.rmtree(os.path.join(tempfile.gettempdir(), name), ignore_errors=True)
    directory = tempfile.mkdtemp(prefix=PREFIX)
    started = time.time()
    lab = None
    failed = False
    try:
        lab = Lab(directory)
        rounds, violations, notes, attempts, failures = run(options, lab, directory, started)
    except BaseException as error:  # noqa: the lab goes in any case
        failed = True
        log("aborted: %r" % error)
        raise
    finally:
        if lab is not None:
            # Signals must not interrupt the teardown.
            for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                signal.signal(signum, signal.SIG_IGN)
            lab.teardown()
        if options.keep_logs or failed:
            target = options.keep_logs or directory + "-logs"
            shutil.copytree(directory, target, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("*.sqlite*", "identity.json", "secrets.key", "certificates"))
            log("logs kept in %s" % target)
        shutil.rmtree(directory, ignore_errors=True)
    elapsed = time.time() - started
    report = markdown(rounds, violations, options, options.halb, started, elapsed, attempts, failures, notes)
    sys.stdout.write(report)
    if options.report:
        with open(options.report, "w") as f:
            f.write(report)
    total = sum(len(v) for v in violations.values())
    log("done in %.0f s: %d rounds, %d violation(s)" % (elapsed, len(rounds), total))
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
