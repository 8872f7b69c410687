#!/bin/bash
# Boots the HALB appliance in qemu, twice, as two devices of one virtual server, and checks what an operator relies
# on: each VM configures itself on first boot from a NoCloud seed (a cidata ISO), enrols with the console, shows OK
# in `halb status`; a client reaches the VIP through the primary; when the primary's VM quits (qemu's quit), the
# other serves the VIP and the console names it primary. Also checks the OVA (ovf.py check). The boot test's last
# result is in docs/appliance.md.
#
#   packaging/appliance/test.sh [--sizing N] [DIR]    (default DIR: .build-appliance/, made by build.sh)
#
# --sizing N: the VMs get 2 vCPU and 2 GB (the size RAS documents 12 500 sessions for), and at the end the surviving
# appliance holds N idle client connections through its VIP; the test prints its memory (free, and the device's
# resident size, read on its serial console) without and with them. For docs/appliance.md; not run by CI.
#
# Root only. Needs qemu-system-x86 (KVM when /dev/kvm works, software emulation otherwise), genisoimage, python3.
# The network is namespaces this test makes and removes (also on failure): a bridge with the VMs' taps, a console
# host and an edge host (gateway and client), all in 192.0.2.0/24 and connected to nothing else. The VMs have no
# other network (no qemu user network). Bounded: each wait has its own limit; the whole test takes a few minutes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
sizing=0
if [ "${1:-}" = --sizing ]; then
    sizing="${2:?--sizing needs a number of connections}"
    shift 2
fi
images="${1:-$root/.build-appliance}"
qcow2="$(ls -t "$images"/halb-appliance-*.qcow2 2> /dev/null | head -1 || true)"
[ -f "$qcow2" ] || { echo "no appliance image in $images: run packaging/appliance/build.sh first" >&2; exit 2; }
ova="${qcow2%.qcow2}.ova"
deb="$(ls -t "$root"/.build-deb/halb_*.deb 2> /dev/null | head -1 || true)"
[ -f "$deb" ] || { echo "no .deb in .build-deb (the console and the CLI come from it)" >&2; exit 2; }
prefix="halb-appl-$$"
lan="$prefix-lan"
edge="$prefix-edge"
console_ns="$prefix-console"
work="$(mktemp -d /var/tmp/halb-appliance-test.XXXXXX)"
failures=0
pids=()

log() { printf '== %s\n' "$*"; }
pass() { printf 'ok: %s\n' "$*"; }
fail() {
    printf 'FAIL: %s\n' "$*"
    failures=$((failures + 1))
    if [ "$failures" = 1 ]; then
        for vm in vm1 vm2; do
            [ -f "$work/$vm.serial" ] || continue
            echo "    --- the last lines of $vm's serial console"
            # Without the terminal's escape sequences (GRUB's menu).
            sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' "$work/$vm.serial" | tr -d '\r' | grep -a -v '^[[:space:]]*$' \
                | tail -25 | sed 's/^/    /'
        done
        echo "    --- the console's log"
        tail -15 "$work/console.log" 2> /dev/null | sed 's/^/    /' || true
    fi
    return 0 # the test goes on to its other checks
}

cleanup() {
    set +e
    for vm in vm1 vm2; do
        [ -f "$work/$vm.pid" ] && kill -KILL "$(cat "$work/$vm.pid")" 2> /dev/null
    done
    for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null; done
    sleep 0.5
    for namespace in "$edge" "$console_ns" "$lan"; do ip netns del "$namespace" 2> /dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT
trap "exit 1" INT TERM

wait_for() { # $1: seconds, $2: what, $3...: a command that succeeds once it holds
    local limit="$1" what="$2"
    shift 2
    local deadline=$((SECONDS + limit))
    while [ "$SECONDS" -lt "$deadline" ]; do
        if "$@" > /dev/null 2>&1; then pass "$what"; return 0; fi
        sleep 1
    done
    fail "$what (not within ${limit} s)"
    return 1
}

log "the OVA"
if [ -f "$ova" ]; then
    python3 "$here/ovf.py" check "$ova" && pass "the OVA's descriptor, sizes and manifest" || fail "ovf.py check $ova"
    # The check can fail: the same OVA with one digit of the disk's sum changed in its manifest.
    mkdir "$work/ova"
    tar -C "$work/ova" -xf "$ova"
    sed -i -E '/vmdk\)= /s/[0-9a-f]$/x/' "$work/ova"/*.mf
    (cd "$work/ova" && tar --format=ustar -cf ../tampered.ova *.ovf *.mf *.vmdk)
    tampered="$(python3 "$here/ovf.py" check "$work/tampered.ova" 2>&1 || true)"
    grep -q "manifest: .*vmdk has SHA-256" <<< "$tampered" && pass "a manifest that does not match its disk is caught" \
        || fail "ovf.py check of a tampered OVA: $tampered"
    rm -rf "$work/ova" "$work/tampered.ova"
else
    fail "no OVA next to $qcow2"
fi

log "the network: a bridge with the VMs' taps, a console host and an edge host (gateway, client) in 192.0.2.0/24"
ip netns add "$lan"
ip -n "$lan" link set lo up
ip -n "$lan" link add br0 type bridge
ip -n "$lan" link set br0 up
attach() { # $1: namespace, $2: its address, $3: the port's name on the bridge
    ip netns add "$1"
    ip -n "$1" link set lo up
    ip -n "$1" link add eth0 type veth peer name "$3" netns "$lan"
    ip -n "$1" addr add "$2/24" dev eth0
    ip -n "$1" link set eth0 up
    ip -n "$lan" link set "$3" master br0 up
}
attach "$console_ns" 192.0.2.2 port-console
attach "$edge" 192.0.2.3 port-edge
for vm in vm1 vm2; do
    ip -n "$lan" tuntap add "tap-$vm" mode tap
    ip -n "$lan" link set "tap-$vm" master br0 up
done

mkdir -p "$work/halb" "$work/home" "$work/console"
# The gateway: answers an HTTP request with "served by the gateway" and holds idle connections open (for --sizing);
# writes how many it holds to $work/gateway-count every second.
cat > "$work/gateway.py" << 'GATEWAY'
import asyncio, os, resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
held = 0

async def serve(reader, writer):
    global held
    held += 1
    try:
        request = b""
        while b"\r\n\r\n" not in request and len(request) < 8192:
            chunk = await reader.read(4096)
            if not chunk:
                return
            request += chunk
        body = b"served by the gateway\n"
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        await writer.drain()
    except OSError:
        pass
    finally:
        held -= 1
        writer.close()

async def main():
    server = await asyncio.start_server(serve, "192.0.2.3", 18081, backlog=4096)
    async with server:
        while True:
            with open(sys.argv[1] + ".new", "w") as f:
                f.write(str(held))
            os.replace(sys.argv[1] + ".new", sys.argv[1])
            await asyncio.sleep(1)

asyncio.run(main())
GATEWAY
ip netns exec "$edge" python3 "$work/gateway.py" "$work/gateway-count" > "$work/gateway.log" 2>&1 &
pids+=($!)
dpkg-deb -x "$deb" "$work/halb"
halb="$work/halb/usr/bin/halb"

log "the console (in its own namespace, self-signed)"
ip netns exec "$console_ns" "$halb" console --data "$work/console" --listen 192.0.2.2:8443 \
    --tls-certificate "$work/console/console.pem" --tls-key "$work/console/console.key" --tls-self-signed \
    --first-password-file "$work/admin-password" > "$work/console.log" 2>&1 &
pids+=($!)
console_up() { ip netns exec "$console_ns" curl -sf --max-time 2 --cacert "$work/console/console.pem" https://192.0.2.2:8443/healthz; }
wait_for 30 "the console answers" console_up || exit 1
admin() { ip netns exec "$console_ns" env HOME="$work/home" "$halb" "$@"; }
HALB_PASSWORD="$(cat "$work/admin-password")" admin login --console https://192.0.2.2:8443 --user admin \
    --ca "$work/console/console.pem" > "$work/admin.log" 2>&1 || { cat "$work/admin.log"; fail "halb login"; exit 1; }
cat > "$work/site.yaml" << SITE
site: appliances
gateways:
  - { name: gw1, address: 192.0.2.3, ports: { gateway: 18081 } }
devices:
  - { name: appl1, address: 192.0.2.11, interface: eth0 }
  - { name: appl2, address: 192.0.2.12, interface: eth0 }
virtualServers:
  - name: web
    vip: { ipv4: 192.0.2.100/24 }
    devices: [appl1, appl2]
    vrrp: { advertInterval: 1s }
    payloads:
      gateway: { port: 8080 }
    healthCheck: { type: tcp, interval: 500ms, timeout: 300ms, rise: 1, fall: 1 }
SITE
admin import "$work/site.yaml" > "$work/admin.log" 2>&1 || { cat "$work/admin.log"; fail "halb import"; exit 1; }
fingerprint="$(openssl x509 -in "$work/console/console.pem" -noout -fingerprint -sha256 | cut -d= -f2)"

# KVM when it works: /dev/kvm can be there and still not run a guest (nested virtualization that hangs in the
# kernel's start): a first boot with KVM must reach the serial console's login prompt within 60 s.
accel=(-accel tcg)
boot_limit=900
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
    log "does KVM work here? (a boot with it must reach its login prompt within 60 s)"
    timeout 60 qemu-system-x86_64 -accel kvm -m 1024 -smp 1 -nodefaults -display none -snapshot \
        -drive "file=$qcow2,if=virtio,format=qcow2" -serial "file:$work/probe.serial" -net none \
        > "$work/probe.log" 2>&1 &
    probe=$!
    for _ in $(seq 1 60); do
        grep -q 'login:' "$work/probe.serial" 2> /dev/null && break
        kill -0 "$probe" 2> /dev/null || break
        sleep 1
    done
    if grep -q 'login:' "$work/probe.serial" 2> /dev/null; then
        accel=(-accel kvm)
        boot_limit=240
        pass "KVM works"
    else
        echo "   KVM does not boot a guest here: software emulation"
    fi
    kill "$probe" 2> /dev/null || true
    wait "$probe" 2> /dev/null || true
fi
size=(-m 1024 -smp 1)
[ "$sizing" -gt 0 ] && size=(-m 2048 -smp 2)
log "two appliances (qemu, ${accel[1]}, ${size[*]}), configured by NoCloud seeds"
start_vm() { # $1: vm1 or vm2, $2: the device's name, $3: its address
    local vm="$1" name="$2" address="$3" token
    token="$(admin join-token create "$name" | grep -o 'halb_join_[^[:space:]]*' | head -1)"
    [ -n "$token" ] || { fail "no join token for $name"; return 1; }
    mkdir -p "$work/$vm-seed"
    printf 'instance-id: %s\nlocal-hostname: %s\n' "$name" "$name" > "$work/$vm-seed/meta-data"
    cat > "$work/$vm-seed/user-data" << SEED
#cloud-config
halb:
  address: $address/24
  gateway: 192.0.2.1
  dns: 192.0.2.1
  console: https://192.0.2.2:8443
  console_ca_sha256: "$fingerprint"
  join_token: $token
SEED
    genisoimage -quiet -output "$work/$vm-seed.iso" -volid cidata -joliet -rock \
        "$work/$vm-seed/meta-data" "$work/$vm-seed/user-data"
    qemu-img create -q -f qcow2 -F qcow2 -b "$qcow2" "$work/$vm.qcow2"
    local mac
    mac="52:54:00:12:34:$(printf '%02x' "${vm#vm}")"
    ip netns exec "$lan" qemu-system-x86_64 "${accel[@]}" "${size[@]}" -nodefaults -display none \
        -drive "file=$work/$vm.qcow2,if=virtio,format=qcow2" -drive "file=$work/$vm-seed.iso,media=cdrom,if=ide" \
        -netdev "tap,id=lan,ifname=tap-$vm,script=no,downscript=no" -device "virtio-net-pci,netdev=lan,mac=$mac" \
        -chardev "socket,id=serial,path=$work/$vm.console,server=on,wait=off,logfile=$work/$vm.serial" \
        -serial chardev:serial -monitor "unix:$work/$vm.monitor,server,nowait" \
        -pidfile "$work/$vm.pid" -daemonize
}
status_ok() { admin status | grep -qE "^$1 +OK "; }
vip_answers() { ip netns exec "$edge" curl -sf --max-time 2 http://192.0.2.100:8080/ | grep -q 'served by the gateway'; }
started=$SECONDS
start_vm vm1 appl1 192.0.2.11
start_vm vm2 appl2 192.0.2.12
wait_for "$boot_limit" "appl1 booted, configured itself from its seed, enrolled: OK in halb status" status_ok appl1 \
    || exit 1
echo "   (after $((SECONDS - started)) s)"
wait_for 120 "appl2 too: OK in halb status" status_ok appl2 || true
admin status | sed 's/^/    /'
wait_for 60 "a client reaches the VIP" vip_answers || true
# The devices that say they are primary for web (halb status --json; several only in a split brain).
primary_of_web() {
    admin status --json | python3 -c '
import json, sys
devices = json.load(sys.stdin)["devices"]
print(",".join(d["device"] for d in devices
               if any(r["virtualServer"] == "web" and r["role"] == "primary" for r in d.get("roles", []))))'
}
primary_is() { [ "$(primary_of_web)" = "$1" ]; }
one_primary() { case "$(primary_of_web)" in appl1 | appl2) return 0 ;; *) return 1 ;; esac; }
wait_for 60 "one appliance is primary for web (halb status)" one_primary || true
primary="$(primary_of_web)"
echo "   the primary: ${primary:-none}"

# tty1's banner (agetty shows it on the serial console too): the first boot's settings and the running device.
banner_says_running() { grep -a -q "device: running, enrolled" "$work/$1.serial"; }
wait_for 60 "vm1's console banner: name, address, console, and the device running and enrolled" \
    banner_says_running vm1 || true
grep -a -q "name: appl1" "$work/vm1.serial" && grep -a -q "eth0 192.0.2.11" "$work/vm1.serial" \
    && grep -a -q "console: https://192.0.2.2:8443" "$work/vm1.serial" || fail "vm1's banner lacks its settings"

# The VM's console (its serial line here): `serial.py SOCKET first-login` checks that the first login as root must
# set a password at once (and leaves it unset); `serial.py SOCKET run COMMAND` logs in (setting the password on the
# first login) and prints what COMMAND prints.
cat > "$work/serial.py" << 'SERIAL'
import socket, sys, time
PASSWORD = b"Halb-appliance-test-3k9q"
s = socket.socket(socket.AF_UNIX)
s.settimeout(1)
s.connect(sys.argv[1])
seen = b""

def wait(*texts, limit=60, poke=False):
    """The first of texts to show on the console, and what came before it."""
    global seen
    deadline = time.time() + limit
    while time.time() < deadline:
        hits = [(seen.index(t), t) for t in texts if t in seen]
        if hits:
            at, text = min(hits)
            before, seen = seen[:at], seen[at + len(text):]
            return text, before
        if poke:
            s.sendall(b"\r")
        try:
            seen += s.recv(65536)
        except socket.timeout:
            pass
    sys.exit("no %r on the console within %d s; it showed: %r" % (texts, limit, seen[-300:]))

wait(b"login:", poke=True)
s.sendall(b"root\r")
if sys.argv[2] == "first-login":
    wait(b"required to change your password")
    wait(b"New password:")
    s.sendall(b"\x03")  # leave it unset: the next login asks again
    sys.exit(0)
if wait(b"New password:", b"Password:", b"# ")[0] != b"# ":
    s.sendall(PASSWORD + b"\r")
    if wait(b"Retype new password:", b"# ", b"Login incorrect")[0] == b"Retype new password:":
        s.sendall(PASSWORD + b"\r")
        wait(b"# ")
# The markers are typed split, so that the echo of the command line does not match them.
s.sendall(b"echo __HALB_B''EGIN__; " + sys.argv[3].encode() + b"; echo __HALB_E''ND__\r")
wait(b"__HALB_BEGIN__")
output = wait(b"__HALB_END__", limit=30)[1]
s.sendall(b"exit\r")
print(output.decode(errors="replace").replace("\r", "").strip())
SERIAL
first_login() { python3 "$work/serial.py" "$work/$1.console" first-login; }
wait_for 90 "vm1's first login as root asks for a new password at once" first_login vm1 || true

log "the primary's VM quits; the other serves the VIP"
first_vm=vm1
other=appl2
if [ "$primary" = appl2 ]; then first_vm=vm2; other=appl1; fi
python3 - "$work/$first_vm.monitor" << 'QUIT'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
seen = b""
while b"(qemu)" not in seen:  # the monitor's prompt: it reads commands from here on
    chunk = s.recv(4096)
    if not chunk:
        break
    seen += chunk
s.sendall(b"quit\n")
try:
    while s.recv(4096):  # until qemu closes the monitor as it exits
        pass
except OSError:
    pass
s.close()
QUIT
quit_at=$SECONDS
vm_gone() { ! kill -0 "$(cat "$work/$first_vm.pid")" 2> /dev/null; }
wait_for 10 "$first_vm's qemu has quit" vm_gone || true
wait_for 30 "the VIP answers from $other" vip_answers || true
echo "   (within $((SECONDS - quit_at)) s of the quit)"
wait_for 60 "halb status names $other primary" primary_is "$other" || true

if [ "$sizing" -gt 0 ]; then
    survivor=vm2
    [ "$first_vm" = vm2 ] && survivor=vm1
    log "sizing: $other ($survivor, ${size[*]}) holds $sizing idle client connections through its VIP"
    # In the VM: memory in use (MiB, as free counts it) and the device's resident size (KiB).
    measure='echo "used_mib=$(free -m | awk "/^Mem:/ {print \$3}") halb_rss_kib=$(ps -o rss= -C halb | head -1 | tr -d " ")"'
    before="$(python3 "$work/serial.py" "$work/$survivor.console" run "$measure" | grep -o 'used_mib=.*' || true)"
    echo "   without them: $before"
    cat > "$work/clients.py" << 'CLIENTS'
import asyncio, os, resource, sys, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
wanted, status, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3]
held, failed = [], 0

async def one(gate):
    global failed
    async with gate:
        try:
            held.append(await asyncio.wait_for(asyncio.open_connection("192.0.2.100", 8080), 10))
        except (OSError, asyncio.TimeoutError):
            failed += 1

async def main():
    gate = asyncio.Semaphore(200)
    await asyncio.gather(*(one(gate) for _ in range(wanted)))
    with open(status, "w") as f:
        f.write("held=%d failed=%d\n" % (len(held), failed))
    deadline = time.time() + 600  # bounded: held until told to stop, at most 10 minutes
    while time.time() < deadline and not os.path.exists(stop):
        await asyncio.sleep(0.5)

asyncio.run(main())
CLIENTS
    ip netns exec "$edge" python3 "$work/clients.py" "$sizing" "$work/clients-status" "$work/clients-stop" &
    clients=$!
    pids+=("$clients")
    clients_done() { [ -s "$work/clients-status" ]; }
    wait_for 300 "the client opened its connections" clients_done || true
    echo "   client: $(cat "$work/clients-status" 2> /dev/null)"
    gateway_holds() { [ "$(cat "$work/gateway-count" 2> /dev/null || echo 0)" -ge "$sizing" ]; }
    wait_for 120 "the gateway holds $sizing connections through the appliance" gateway_holds || true
    echo "   gateway: holds $(cat "$work/gateway-count")"
    with="$(python3 "$work/serial.py" "$work/$survivor.console" run "$measure" | grep -o 'used_mib=.*' || true)"
    echo "   with them: $with"
    touch "$work/clients-stop"
    wait "$clients" 2> /dev/null || true
    wait_for 30 "a client still reaches the VIP" vip_answers || true
fi

log "done"
if [ "$failures" -gt 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all checks passed"
