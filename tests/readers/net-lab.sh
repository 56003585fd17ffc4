#!/bin/bash
# The network target end to end (issue 4): the lab kernel panics and
# salvage as /init streams the dump over QEMU's user network to a TLS
# collector on the host's loopback, statically configured (IPv4, then a
# boot on IPv6 only: fec0::15/64 to the collector on [::1]); another boot
# gets its address by DHCP and has the collector killed mid-transfer and
# restarted (the dump completes by resuming). Each boot ~1-3 min; crash,
# makedumpfile and a page-by-page comparison with a reference copy of
# /proc/vmcore from the same capture (tests/vm/run-net-lab.sh); a third
# (~30 s) has a 4 MiB collector quota: the transfer is ended and the agent
# falls back to its LABEL= disk target.
# NET_LAB=0 skips both.
#   usage: net-lab.sh LAB_CACHE_DIR
. "$(dirname "$0")/lib.sh" "$1"

if [ "${NET_LAB:-1}" = 1 ]; then
  if "$ROOT/tests/vm/run-net-lab.sh" "$LAB_CACHE" "$SALVAGE"; then pass "net: static link, TLS stream to the collector, crash, pages equal"
  else fail "net: static (tests/vm/run-net-lab.sh)"; fi
  if "$ROOT/tests/vm/run-net-lab.sh" "$LAB_CACHE" "$SALVAGE" --ipv6; then pass "net: static IPv6 (fec0::15/64) to the collector on [::1], crash, pages equal"
  else fail "net: static IPv6 (tests/vm/run-net-lab.sh --ipv6)"; fi
  if "$ROOT/tests/vm/run-net-lab.sh" "$LAB_CACHE" "$SALVAGE" --dhcp-resume; then pass "net: DHCP, collector killed and restarted, dump resumed, pages equal"
  else fail "net: dhcp + resume (tests/vm/run-net-lab.sh --dhcp-resume)"; fi
  if "$ROOT/tests/vm/run-net-lab.sh" "$LAB_CACHE" "$SALVAGE" --quota-fallback; then pass "net: collector quota ends the transfer, agent falls back to its disk target"
  else fail "net: quota fallback (tests/vm/run-net-lab.sh --quota-fallback)"; fi
fi
finish
