#!/bin/bash
# Installs the .deb into fresh Debian 12 roots, boots them with systemd-nspawn as two devices on one LAN, and checks
# what an operator relies on: both services start (Type=notify); a device serves a site through VRRP on its own
# interface, as user halb with only its three capabilities; the journal has each line at its priority; upgrading
# the package restarts the primary gracefully while a client keeps connecting (the secondary takes over; no
# connection refused); `systemctl reload` applies a change; the console makes its certificate and writes the first
# password to a private file; a second device enrols with that console from a join token in a file; removing the
# package stops the device cleanly. Prints `systemd-analyze security`.
#
#   packaging/deb/test.sh [DEB]     (default: the newest .build-deb/halb_*.deb; build it with build.sh)
#
# Root only. Needs debootstrap and systemd-nspawn (systemd-container); the root file system is made once from
# Debian's mirror and kept in /var/cache/halb-test/rootfs. The network is namespaces this test makes and removes
# (also on failure): a bridge, the two devices and an "edge" host (gateway and client), all in 192.0.2.0/24 and
# connected to nothing else.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
deb="${1:-$(ls -t "$root"/.build-deb/halb_*.deb 2> /dev/null | head -1)}"
[ -f "$deb" ] || { echo "no .deb: run packaging/deb/build.sh first" >&2; exit 2; }
cache=/var/cache/halb-test/rootfs
prefix="halb-deb-$$"
lan="$prefix-lan"
edge="$prefix-edge"
work="$(mktemp -d /var/tmp/halb-deb-test.XXXXXX)"
failures=0

log() { printf '== %s\n' "$*"; }
pass() { printf 'ok: %s\n' "$*"; }
fail() {
    printf 'FAIL: %s\n' "$*"
    failures=$((failures + 1))
    # The first failure shows what the services said.
    if [ "$failures" = 1 ]; then
        for name in lb1 lb2; do
            in_machine "$name" journalctl -u halb-device -u halb-console --no-pager -n 20 2> /dev/null \
                | sed 's/^/    /' || true
        done
    fi
}

cleanup() {
    set +e
    for name in lb1 lb2; do
        [ -f "$work/$name.pid" ] || continue
        pid="$(cat "$work/$name.pid")"
        kill -TERM "$pid" 2> /dev/null
        for _ in $(seq 1 30); do kill -0 "$pid" 2> /dev/null || break; sleep 0.5; done
        kill -KILL "$pid" 2> /dev/null
    done
    [ -n "${gateway_pid:-}" ] && kill "$gateway_pid" 2> /dev/null
    for namespace in "$prefix-lb1" "$prefix-lb2" "$edge" "$lan"; do ip netns del "$namespace" 2> /dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT
trap "exit 1" INT TERM

if [ ! -x "$cache/usr/bin/systemctl" ]; then
    log "making a Debian 12 root in $cache (once)"
    rm -rf "$cache.new"
    debootstrap --variant=minbase \
        --include=systemd,systemd-sysv,dbus,iproute2,adduser,libsqlite3-0,curl,ca-certificates,procps \
        bookworm "$cache.new" http://deb.debian.org/debian > "$work/debootstrap.log" 2>&1 \
        || { tail -20 "$work/debootstrap.log"; exit 1; }
    mv "$cache.new" "$cache"
fi

log "the network: a bridge, two devices and an edge host (gateway and client) in 192.0.2.0/24"
ip netns add "$lan"
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
attach "$prefix-lb1" 192.0.2.11 port-lb1
attach "$prefix-lb2" 192.0.2.12 port-lb2
attach "$edge" 192.0.2.2 port-edge
mkdir -p "$work/www"
echo "served by the gateway" > "$work/www/index.html"
ip netns exec "$edge" python3 -m http.server 18081 --bind 192.0.2.2 --directory "$work/www" > /dev/null 2>&1 &
gateway_pid=$!

site() { # $1: the VIP's port
    cat << SITE
site: packaged
gateways:
  - { name: gw1, address: 192.0.2.2, ports: { gateway: 18081 } }
  - { name: gw2, address: 127.0.0.1, ports: { gateway: 18089 } }
devices:
  - { name: lb1, address: 192.0.2.11, interface: eth0 }
  - { name: lb2, address: 192.0.2.12, interface: eth0 }
virtualServers:
  - name: web
    vip: { ipv4: 192.0.2.100/24 }
    devices: [lb1, lb2]
    vrrp: { advertInterval: 200ms }
    payloads:
      gateway: { port: $1 }
    healthCheck: { type: tcp, interval: 500ms, timeout: 300ms, rise: 1, fall: 1 }
SITE
}

machine() { # $1: device name. A fresh copy of the root with the package installed and the site in place.
    local dir="$work/$1"
    cp -a "$cache" "$dir"
    cp "$deb" "$dir/root/halb.deb"
    echo "$1" > "$dir/etc/hostname"
    # A minimal root has no /etc/hosts (an installed system has one); halb resolves names with getaddrinfo.
    printf '127.0.0.1 localhost\n::1 localhost\n192.0.2.11 lb1\n192.0.2.12 lb2\n' > "$dir/etc/hosts"
    # Installed before boot (no systemd running: the services start on boot, as after an installer's reboot).
    systemd-nspawn -q -D "$dir" --register=no --keep-unit --private-network --pipe sh -c \
        'apt-get install -y -q --no-install-recommends /root/halb.deb > /root/install.log 2>&1 || { cat /root/install.log; exit 1; }' \
        2> /dev/null
    site 8080 > "$dir/etc/halb/site.yaml"
    echo "HALB_NAME=$1" > "$dir/etc/halb/device.conf"
}

boot() { # $1: device name. nspawn keeps CAP_NET_ADMIN from a container unless told (a VM has it); VIPs need it.
    systemd-nspawn -q -D "$work/$1" --register=no --keep-unit --capability=CAP_NET_ADMIN --boot \
        --network-namespace-path="/run/netns/$prefix-$1" > "$work/$1.console" 2>&1 &
    echo $! > "$work/$1.pid"
    local state=""
    for _ in $(seq 1 120); do
        state="$(in_machine "$1" systemctl is-system-running 2> /dev/null || true)"
        case "$state" in running | degraded) pass "$1 booted ($state)"; return 0 ;; esac
        sleep 0.5
    done
    cat "$work/$1.console"
    echo "$1 did not boot within 60 s" >&2
    exit 1
}

in_machine() { # $1: device name, then a command to run in it (its init's namespaces)
    local name="$1" init
    shift
    init="$(pgrep -n -P "$(cat "$work/$name.pid")" 2> /dev/null || true)"
    [ -n "$init" ] || return 1
    nsenter --target "$init" --mount --uts --ipc --net --pid -- "$@"
}

wait_for() { # $1: what, $2...: a command that succeeds once it holds (tried for 30 s)
    local what="$1"
    shift
    for _ in $(seq 1 60); do
        if "$@" > /dev/null 2>&1; then pass "$what"; return 0; fi
        sleep 0.5
    done
    fail "$what"
}

vip_answers() { # $1: the port
    ip netns exec "$edge" curl -sf --max-time 2 "http://192.0.2.100:$1/" | grep -q 'served by the gateway'
}

log "installing"
machine lb1
machine lb2
pass "apt-get installs the package and its dependencies"

log "the device"
boot lb1
wait_for "halb-device is active (Type=notify: READY after listeners and first health checks)" \
    in_machine lb1 systemctl is-active --quiet halb-device
wait_for "a client reaches the VIP, held by lb1 through VRRP" vip_answers 8080
pid="$(in_machine lb1 systemctl show -p MainPID --value halb-device)"
status="$(in_machine lb1 cat "/proc/$pid/status" || true)"
capabilities="$(echo "$status" | sed -n 's/^CapEff:\s*//p')"
# CAP_NET_BIND_SERVICE (10), CAP_NET_ADMIN (12), CAP_NET_RAW (13): 0x3400, nothing else.
[ "$capabilities" = "0000000000003400" ] && pass "its effective capabilities are 3400 (bind, admin, raw)" \
    || fail "effective capabilities $capabilities, not 0000000000003400"
uid="$(echo "$status" | sed -n 's/^Uid:\s*\([0-9]*\).*/\1/p')"
[ "$uid" = "$(in_machine lb1 id -u halb)" ] && pass "it runs as user halb" || fail "it runs as uid $uid"
# A container cannot change kernel settings (its /proc/sys is read-only); systemd-sysctl must know the file.
in_machine lb1 systemd-analyze cat-config sysctl.d/60-halb.conf 2> /dev/null | grep -q "^net.ipv4.ip_nonlocal_bind = 1" \
    && pass "the sysctl drop-in is where systemd-sysctl applies it at boot" || fail "no sysctl drop-in"

log "the journal"
gateway_down_logged() { in_machine lb1 journalctl -u halb-device -p warning --no-pager | grep -q 'Gateway is down'; }
wait_for "a warning is a warning: 'Gateway is down' (gw2) in journalctl -p warning" gateway_down_logged
in_machine lb1 journalctl -u halb-device -p notice --no-pager | grep -q "Device started" \
    && pass "a notice is a notice: 'Device started' in -p notice" || fail "no 'Device started' in journalctl -p notice"
in_machine lb1 journalctl -u halb-device -p warning --no-pager | grep -q "Device started" \
    && fail "'Device started' (a notice) shows in -p warning" || pass "a notice is not in -p warning"

log "an upgrade of the primary, under a client connecting every 50 ms"
boot lb2
lb2_is_backup() { in_machine lb2 journalctl -u halb-device --no-pager | grep -q "vrrp.to=backup"; }
wait_for "lb2 runs as the secondary" lb2_is_backup
# The same program as a newer version of the package.
version="$(dpkg-deb -f "$deb" Version)"
dpkg-deb -R "$deb" "$work/repack"
sed -i "s/^Version: .*/Version: $version+upgrade/" "$work/repack/DEBIAN/control"
dpkg-deb --root-owner-group -b "$work/repack" "$work/lb1/root/halb-upgrade.deb" > /dev/null
# The client: at most 40 s, one connection every 50 ms, until told to stop; curl's exit code per connection.
ip netns exec "$edge" bash -c '
    end=$((SECONDS + 40))
    while [ ! -e "$1/stop" ] && [ $SECONDS -lt $end ]; do
        curl -s -o /dev/null --max-time 3 "http://192.0.2.100:8080/"; echo $?
        sleep 0.05
    done > "$1/client"' client "$work" &
client_pid=$!
sleep 2
in_machine lb1 apt-get install -y -q /root/halb-upgrade.deb > "$work/upgrade.log" 2>&1 \
    || { cat "$work/upgrade.log"; fail "apt-get install of the upgrade"; }
[ "$(in_machine lb1 dpkg-query -W -f '${Version}' halb)" = "$version+upgrade" ] && pass "lb1 runs the upgrade" \
    || fail "the upgrade is not installed"
lb1_master_again() { [ "$(in_machine lb1 journalctl -u halb-device --no-pager | grep -c "vrrp.to=master")" -ge 2 ]; }
wait_for "the upgraded lb1 is primary again" lb1_master_again
sleep 2
touch "$work/stop"
wait "$client_pid" || true
total="$(wc -l < "$work/client")"
refused="$(grep -c '^7$' "$work/client" || true)"
others="$(grep -vc '^0$' "$work/client" || true)"
in_machine lb2 journalctl -u halb-device --no-pager | grep -q "vrrp.to=master" \
    && pass "lb2 took over while lb1 restarted" || fail "lb2 never became primary"
in_machine lb1 journalctl -u halb-device --no-pager | grep -q "resigned with priority 0" \
    && pass "lb1 resigned (priority 0) before it stopped" || fail "lb1 did not resign"
[ "$total" -ge 40 ] && [ "$refused" = 0 ] \
    && pass "no client connection refused during the upgrade ($total connections, $others failed in flight)" \
    || fail "$refused of $total client connections refused during the upgrade ($others failed in all; curl's exit codes: $(sort "$work/client" | uniq -c | tr -s ' \n' ' '))"
# A connection in flight when the VIP moves back to lb1 is reset (lb1 does not know it); there are few.
[ "$others" -le 3 ] && pass "at most 3 connections lost in flight ($others)" || fail "$others connections failed"

log "reload"
site 8081 > "$work/lb1/etc/halb/site.yaml"
pid="$(in_machine lb1 systemctl show -p MainPID --value halb-device)"
in_machine lb1 systemctl reload halb-device
wait_for "systemctl reload applies a change: the VIP answers on port 8081" vip_answers 8081
[ "$(in_machine lb1 systemctl show -p MainPID --value halb-device)" = "$pid" ] \
    && pass "the same process (no restart)" || fail "reload restarted the device"

log "the console"
in_machine lb1 systemctl start halb-console
wait_for "halb-console is active" in_machine lb1 systemctl is-active --quiet halb-console
wait_for "it serves HTTPS with the certificate it made" \
    in_machine lb1 curl -sf --max-time 2 --cacert /var/lib/halb-console/console.pem https://localhost:8443/healthz
password_file="$(in_machine lb1 stat -c '%a %U' /var/lib/halb-console/admin-password)"
[ "$password_file" = "600 halb-console" ] && pass "the first password is in a file only its owner (and root) reads" \
    || fail "admin-password: $password_file"
password="$(in_machine lb1 cat /var/lib/halb-console/admin-password)"
in_machine lb1 journalctl -u halb-console --no-pager | grep -q "its password is in the file" \
    && pass "the journal says where the password is" || fail "the journal does not say where the password is"
in_machine lb1 journalctl -u halb-console --no-pager | grep -qF "$password" \
    && fail "the password is in the journal" || pass "the password is not in the journal"

log "a managed device: lb2 enrols with the console on lb1, its join token in a file"
in_machine lb1 env HOME=/root HALB_PASSWORD="$password" halb login --console https://localhost:8443 --user admin \
    --ca /var/lib/halb-console/console.pem > "$work/admin.log" 2>&1 \
    && in_machine lb1 env HOME=/root halb import /etc/halb/site.yaml >> "$work/admin.log" 2>&1 \
    && pass "halb login and halb import on the console's machine" || fail "halb login or import: $(cat "$work/admin.log")"
token="$(in_machine lb1 env HOME=/root halb join-token create lb2 | grep -o 'halb_join_[^[:space:]]*' | head -1 || true)"
[ -n "$token" ] && pass "halb join-token create lb2" || fail "no join token"
# The console's self-signed certificate is lb2's CA, and names the console's host, lb1.
install -m 0644 "$work/lb1/var/lib/halb-console/console.pem" "$work/lb2/etc/halb/console-ca.pem"
printf 'HALB_NAME=lb2\nHALB_CONSOLE=https://lb1:8443\nHALB_CONSOLE_CA=/etc/halb/console-ca.pem\n' \
    > "$work/lb2/etc/halb/device.conf"
(umask 077 && printf '%s\n' "$token" > "$work/lb2/etc/halb/join-token")
in_machine lb2 systemctl restart halb-device || true
wait_for "lb2 enrolled and runs from the console's configuration" in_machine lb2 systemctl is-active --quiet halb-device
lb2_ok() { in_machine lb1 env HOME=/root halb status | grep -qE '^lb2 +OK '; }
wait_for "the console shows lb2 OK (halb status)" lb2_ok
[ ! -e "$work/lb2/etc/halb/join-token" ] && [ ! -e "$work/lb2/var/lib/halb-device/join-token" ] \
    && pass "the join token is gone (moved out of /etc/halb, removed once used)" || fail "a join token file is left"
in_machine lb2 journalctl --no-pager | grep -qF "$token" && fail "the join token is in lb2's journal" \
    || pass "the join token is not in lb2's journal"
wait_for "the VIP still answers" vip_answers 8081

log "systemd-analyze security"
in_machine lb1 systemd-analyze security --no-pager halb-device | tail -1 | sed 's/^/halb-device: /'
in_machine lb1 systemd-analyze security --no-pager halb-console | tail -1 | sed 's/^/halb-console: /'

log "removal"
in_machine lb1 apt-get remove -y -q halb > "$work/remove.log" 2>&1 || { cat "$work/remove.log"; fail "apt-get remove"; }
in_machine lb1 systemctl is-active --quiet halb-device && fail "halb-device still runs after removal" \
    || pass "apt-get remove stops the device"
[ "$(in_machine lb1 journalctl -u halb-device --no-pager | grep -c "Device stopped")" -ge 2 ] \
    && pass "it stopped gracefully ('Device stopped', after the upgrade's)" || fail "no 'Device stopped' in the journal"
in_machine lb1 test -e /usr/bin/halb && fail "/usr/bin/halb is still there" || pass "the program is gone"

if [ "$failures" -gt 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all package checks passed"
