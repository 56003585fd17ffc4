#!/bin/bash
# Arming for the network target (issue 4) on a real kernel, in a network
# namespace this test makes (unshare -n -m; the host's network and mounts
# are untouched):
# a veth with IPv4 and IPv6 addresses and a route to a collector behind a
# gateway; `salvage mkinitramfs --collector BUNDLE` must find that
# interface by RTM_GETROUTE and write its MAC, its addresses, the gateways
# and the bundle (0600) into the initramfs, which cpio(1) reads back.
# A collector on this host (loopback) must be refused.
#   usage: net-arming.sh LAB_CACHE_DIR
. "$(dirname "$0")/lib.sh" "$1"

command -v unshare >/dev/null || { echo "net-arming: no unshare; skipped"; exit 0; }
printf 'lab credentials\n' > "$WORK/bundle"
cat > "$WORK/inns.sh" <<INNER
set -e
mount -t sysfs sysfs /sys   # this namespace's view (private mount namespace)
ip link add v0 type veth peer name v1
ip link set lo up; ip link set v0 up; ip link set v1 up
ip addr add 10.9.0.1/24 dev v0
ip addr add fd00:9::1/64 dev v0 nodad
ip route add 10.77.0.0/16 via 10.9.0.2 dev v0
ip -6 route add default via fd00:9::2 dev v0
cat /sys/class/net/v0/address > "$WORK/mac"
"$SALVAGE" mkinitramfs --modules-dir "$LAB_DIR/lib/modules/$KVER" --kernel-version "$KVER" \
  --kernel-config "$LAB_DIR/boot/config-$KVER" --compress none --target LABEL=dump \
  --collector "$WORK/bundle" --collector-address 10.77.1.1:7341 --output "$WORK/net.img" > "$WORK/mk.out" 2>&1
"$SALVAGE" mkinitramfs --modules-dir "$LAB_DIR/lib/modules/$KVER" --kernel-version "$KVER" \
  --kernel-config "$LAB_DIR/boot/config-$KVER" --compress none \
  --collector "$WORK/bundle" --collector-address 127.0.0.1:7341 --output "$WORK/lo.img" > "$WORK/lo.out" 2>&1 && echo LOCAL-ACCEPTED
exit 0
INNER
if ! unshare -n -m --propagation private bash "$WORK/inns.sh" > "$WORK/inns.out" 2>&1; then
  cat "$WORK/inns.out" "$WORK/mk.out" 2>/dev/null
  fail "net arming: mkinitramfs --collector in a namespace"
  finish; exit
fi
MAC=$(cat "$WORK/mac")
mkdir -p "$WORK/x" && (cd "$WORK/x" && cpio -id --quiet < "$WORK/net.img")
CONF=$WORK/x/etc/salvage.conf
want() { grep -qx "$1" "$CONF" || { echo "--- salvage.conf:"; cat "$CONF"; return 1; }; }
if [ "$(sed -n 's/^target=//p' "$CONF" | tr '\n' ' ')" = "net LABEL=dump " ] && want "net=$MAC" && want "ip=static" &&
   want "net_address=10.9.0.1/24" && want "net_address=fd00:9::1/64" && want "net_gateway=10.9.0.2" &&
   want "net_gateway=fd00:9::2" && want "collector=10.77.1.1:7341" && want "collector_bundle=/etc/salvage/collector.bundle"; then
  pass "net arming: the interface routing to the collector (RTM_GETROUTE), its MAC, IPv4+IPv6 addresses and both gateways in salvage.conf; net target first"
else
  fail "net arming: salvage.conf"
fi
if cmp -s "$WORK/bundle" "$WORK/x/etc/salvage/collector.bundle" &&
   [ "$(cpio -itv --quiet < "$WORK/net.img" | awk '$NF=="etc/salvage/collector.bundle"{print $1}')" = "-rw-------" ]; then
  pass "net arming: the bundle is embedded at /etc/salvage/collector.bundle, 0600"
else
  fail "net arming: bundle in the initramfs"
fi
if ! grep -q LOCAL-ACCEPTED "$WORK/inns.out" && grep -q "is this host" "$WORK/lo.out"; then
  pass "net arming: a collector on this host is refused ($(tail -n1 "$WORK/lo.out"))"
else
  cat "$WORK/lo.out"; fail "net arming: a loopback collector was accepted"
fi
finish
