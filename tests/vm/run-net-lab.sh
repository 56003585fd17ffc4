#!/usr/bin/env bash
# run-net-lab.sh CACHE_DIR SALVAGE [--dhcp-resume | --quota-fallback | --ipv6]
#
# The network target end to end on the lab's real Debian kernel (issue 4):
#   1. on the host, `salvage collector enroll` makes the lab host's bundle
#      and `salvage collector` listens on 127.0.0.1 (TLS, temp dirs);
#   2. `salvage mkinitramfs --target net --collector BUNDLE` builds the
#      capture initramfs from the lab's module tree (virtio_net and its
#      dependencies): static 10.0.2.15/24 via 10.0.2.2 for QEMU's user
#      network (the host's loopback is 10.0.2.2 in the guest), the NIC by
#      its MAC. Lab only: net_lab_reference=/dev/vda makes the agent copy
#      /proc/vmcore raw onto a second disk first: the reference the stored
#      pages are compared with, from the same capture;
#   3. the first kernel (labinit) arms with `salvage load` and panics;
#   4. the capture kernel (its clock set to 2001 with -rtc: older than the
#      certificates) runs salvage as /init: link up, TLS session,
#      dmesg.txt, vmcore (priority passes), summary.txt; then reboots
#      (QEMU exits: -no-reboot);
#   5. on the host: the collector stored <root>/<host>/<time>/{vmcore,
#      dmesg.txt,summary.txt}; crash sys/bt/log with the lab vmlinux,
#      makedumpfile --dump-dmesg, and every page python3-libkdumpfile reads
#      from the stored vmcore equals the same page of the reference.
# --dhcp-resume: salvage.ip=dhcp on the capture kernel's command line (QEMU's
# user network answers DHCP), and the collector is killed (SIGKILL) once
# the stored dump passes RESUME_KILL_MIB (8) and restarted 3 s later: the
# agent reconnects and the dump completes by resuming, pages identical.
# --ipv6: as the static case, over IPv6 only: the collector listens on [::1],
# the capture kernel gets fec0::15/64 via fec0::2 (QEMU's user network maps
# fec0::2 to the host's IPv6 loopback) and streams to [fec0::2]:PORT.
# --quota-fallback: the collector has a 4 MiB per-host quota and the
# targets are `net` then LABEL=salvagedump (a GPT partition): the collector
# ends the transfer, keeps vmcore-incomplete, the agent says so and writes
# the dump to the partition; `salvage save` and crash bt/log check it.
#
# Prints "net-lab: PASS ..." lines; exits non-zero on failure.
# Env: NET_LAB_TIMEOUT=300 (QEMU wall-clock limit), NET_LAB_KEEP=1 keeps the
# work directory.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_TAG=net-lab
# shellcheck source=tests/vm/lab-lib.sh
. "$HERE/lab-lib.sh"

lab_args "$0 CACHE_DIR SALVAGE [--dhcp-resume | --quota-fallback | --ipv6]" "$@"
RESUME=0 QUOTA=0 IPV6=0
[ "${3:-}" = --dhcp-resume ] && RESUME=1
[ "${3:-}" = --quota-fallback ] && QUOTA=1
[ "${3:-}" = --ipv6 ] && IPV6=1
# The collector's address on the host, and as the guest reaches it. Only the
# IPv6 case names the user network's IPv6 prefix: with those options QEMU
# 7.2's user network stopped answering DHCP (15 DISCOVERs, no OFFER).
NETDEV=user,id=n0
[ $IPV6 = 1 ] && NETDEV=user,id=n0,ipv6=on,ipv6-net=fec0::/64,ipv6-host=fec0::2
if [ $IPV6 = 1 ]; then LOOP=::1 LISTEN_HOST="[::1]" GUEST_HOST="[fec0::2]"
else LOOP=127.0.0.1 LISTEN_HOST=127.0.0.1 GUEST_HOST=10.0.2.2; fi
MAC=52:54:00:12:34:56
HOST=labhost

lab_require qemu-system-x86_64 gcc cpio strip crash makedumpfile python3
/usr/bin/python3 -c 'import kdumpfile' 2>/dev/null || die "python3-libkdumpfile is missing"
lab_use_cache "$CACHE_DIR"
find "$LAB_DIR/lib/modules/$KVER" -name virtio_net.ko | grep -q . || die "no virtio_net.ko in the lab tree (tests/vm/fetch-kernel.sh)"

COLL_PID=
lab_on_exit() { [ -z "$COLL_PID" ] || { kill "$COLL_PID" 2>/dev/null && wait "$COLL_PID" 2>/dev/null; }; }
lab_fail_more() {
    echo "net-lab: --- collector log ---" >&2
    tail -n 30 "$WORK"/collector*.log >&2 2>/dev/null || true
}
lab_work_dir net-lab "${NET_LAB_KEEP:-0}"

# ---- 1. the collector on the host's loopback --------------------------------
PORT=$(python3 -c 'import socket,sys; f=socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET; s=socket.socket(f); s.bind((sys.argv[1],0)); print(s.getsockname()[1])' "$LOOP")
strip -o "$WORK/salvage" "$SALVAGE"
"$WORK/salvage" collector enroll "$HOST" --cred-dir "$WORK/cred" --address "$GUEST_HOST:$PORT" --out "$WORK/bundle" \
    > "$WORK/enroll.out" 2>&1 || { cat "$WORK/enroll.out" >&2; die "collector enroll failed"; }
mkdir -p "$WORK/store"
start_collector() {  # $1: log suffix
    "$WORK/salvage" collector --listen "$LISTEN_HOST:$PORT" --root "$WORK/store" --cred-dir "$WORK/cred" -v "${COLL_EXTRA[@]}" \
        > "$WORK/collector$1.log" 2>&1 &
    COLL_PID=$!
    for _ in $(seq 50); do
        python3 -c "import socket; socket.create_connection(('$LOOP',$PORT),0.2)" 2>/dev/null && return 0
        sleep 0.1
    done
    fail "the collector does not listen on $LISTEN_HOST:$PORT"
}
COLL_EXTRA=()
[ $QUOTA = 1 ] && COLL_EXTRA=(--quota-mib 4)
start_collector 1

# ---- 2. the capture initramfs -------------------------------------------------
IP_ARGS=(--ip static --net-address 10.0.2.15/24 --net-gateway 10.0.2.2)
[ $IPV6 = 1 ] && IP_ARGS=(--ip static --net-address fec0::15/64 --net-gateway fec0::2)
TARGET_ARGS=(--target net --net-lab-reference /dev/vda)
[ $QUOTA = 1 ] && TARGET_ARGS=(--target net --target LABEL=salvagedump)
lab_mkinitramfs "$WORK/capture.img" --salvage "$WORK/salvage" \
    --collector "$WORK/bundle" --collector-address "$GUEST_HOST:$PORT" \
    --net-interface "$MAC" "${IP_ARGS[@]}" "${TARGET_ARGS[@]}" \
    --add-module virtio_net --add-module virtio_pci --add-module virtio_blk --codec zlib --timeout 280
grep -q '^module: virtio_net ' "$WORK/mkinitramfs.out" || die "virtio_net is not in the capture initramfs"
[ "$(stat -c %a "$WORK/capture.img")" = 600 ] || die "the initramfs holding the credentials is not 0600"

# ---- 3. the first kernel's initramfs (as tests/vm/run-agent-lab.sh) -----------
lab_build_labinit "$WORK/labinit"
ROOT=$WORK/root
lab_init_root "$ROOT" "$WORK/labinit"
cp "$WORK/salvage" "$ROOT/lab/salvage"
lab_add_capture "$ROOT" "$WORK/capture.img"
[ $RESUME = 1 ] && printf '%s\n' --option ip=dhcp > "$ROOT/lab/salvage-load-args"
lab_mkcpio "$ROOT" > "$WORK/initramfs.cpio"

# The reference disk: /proc/vmcore (ELF, ~ the guest's RAM) fits in 1280 MiB.
# (--quota-fallback: a GPT dump disk with one partition named salvagedump.)
REF=$WORK/reference.img
if [ $QUOTA = 1 ]; then
    truncate -s 512M "$REF"
    lab_gpt "$REF" name=salvagedump
else
    truncate -s 1280M "$REF"
fi

# ---- 4. boot: arm, panic, capture over the network ----------------------------
# The guest's clock starts in 2001, long before the certificates enrolled
# above were issued: the capture kernel's TLS must not depend on the date.
CMDLINE="console=ttyS0 crashkernel=192M panic=-1 nowatchdog $LAB_WORKLOAD lab.salvage_load"
log "booting $KVER: salvage load, panic, salvage as /init streaming to $LISTEN_HOST:$PORT ($([ $RESUME = 1 ] && echo 'dhcp, collector killed and restarted' || echo static))"
T0=$(date +%s.%N)
lab_qemu "${NET_LAB_TIMEOUT:-300}" "$SERIAL" "$WORK/initramfs.cpio" "$CMDLINE" "$WORK/qemu.out" \
    -no-reboot -rtc base=2001-01-01 \
    -netdev "$NETDEV" -device "virtio-net-pci,netdev=n0,mac=$MAC" -drive "$(lab_disk "$REF")" &
QEMU=$!
KILLED=0
if [ $RESUME = 1 ]; then
    # Kill the collector in the middle of the vmcore, restart it 3 s later.
    KILL_AT=$(( ${RESUME_KILL_MIB:-8} * 1048576 ))
    while kill -0 "$QEMU" 2>/dev/null; do
        f=$(find "$WORK/store" -name 'vmcore*' -type f 2>/dev/null | head -n1)
        if [ -n "$f" ] && [ "$(stat -c %s "$f" 2>/dev/null || echo 0)" -ge "$KILL_AT" ]; then
            log "collector killed at $(stat -c %s "$f") bytes of $(basename "$f")"
            kill -KILL "$COLL_PID"; wait "$COLL_PID" 2>/dev/null || true
            KILLED=1
            sleep 3
            start_collector 2
            break
        fi
        sleep 0.2
    done
fi
rc=0
wait "$QEMU" || rc=$?
T_QEMU=$(lab_elapsed "$T0")
lab_check_boot $rc "$WORK/qemu.out" "qemu timed out after ${NET_LAB_TIMEOUT:-300}s"
grep -q 'salvage: .*capture agent starting as pid 1' "$SERIAL" || fail "salvage did not start as /init of the capture kernel"
if [ $QUOTA = 1 ]; then
    grep -q 'salvage: .*target net: INCOMPLETE dump kept on the collector; next target' "$SERIAL" || fail "the agent did not report the collector ending the transfer"
    grep -q 'salvage: .*dump complete on /dev/vda' "$SERIAL" || fail "the agent did not fall back to LABEL=salvagedump"
    kill "$COLL_PID" 2>/dev/null; wait "$COLL_PID" 2>/dev/null || true
    COLL_PID=
    KEPT=$(find "$WORK/store/$HOST" -name vmcore-incomplete -type f | head -n1)
    [ -n "$KEPT" ] || fail "the collector did not keep vmcore-incomplete"
    [ -z "$(find "$WORK/store/$HOST" -name vmcore -type f)" ] && [ -s "$(dirname "$KEPT")/dmesg.txt" ] ||
        fail "the collector should hold dmesg.txt and only vmcore-incomplete"
    lab_save_partition "$SALVAGE" "$REF" "on the fallback partition"
    OUT=$(ls -d "$WORK"/crash/*/* | head -n1)
    printf 'bt\nlog\nquit\n' > "$WORK/cmds"
    timeout 300 crash -s "$LAB_VMLINUX" "$OUT/vmcore" -i "$WORK/cmds" > "$WORK/crash.txt" 2>&1 < /dev/null || true
    grep -q 'sysrq_handle_crash' "$WORK/crash.txt" || fail "crash bt on the fallback dump does not show sysrq_handle_crash"
    grep -q 'Kernel panic - not syncing: sysrq triggered crash' "$WORK/crash.txt" || fail "crash log on the fallback dump lacks the panic"
    echo "net-lab: PASS quota fallback: the collector (4 MiB quota) ended the transfer and kept $(basename "$KEPT") ($(stat -c %s "$KEPT") bytes) + dmesg.txt; the agent went on to LABEL=salvagedump; salvage save + crash bt/log ok; qemu ${T_QEMU}s"
    exit 0
fi
grep -q 'salvage: .*dump complete on the collector' "$SERIAL" || fail "the agent did not report a complete dump on the collector"
[ $RESUME = 1 ] && [ $KILLED = 0 ] && fail "the dump finished before the collector could be killed"
if [ $RESUME = 1 ]; then
    grep -q "salvage: .*target net: .*dhcp 10.0.2.15/24 via 10.0.2.2" "$SERIAL" || fail "the agent did not configure 10.0.2.15/24 via 10.0.2.2 by DHCP"
elif [ $IPV6 = 1 ]; then
    grep -q "salvage: .*target net: .*up: static fec0::15/64 via fec0::2" "$SERIAL" || fail "the agent did not bring the link up with fec0::15/64"
else
    grep -q "salvage: .*target net: .*up: static 10.0.2.15/24 via 10.0.2.2" "$SERIAL" || fail "the agent did not bring the link up statically"
fi
grep -q 'salvage: .*lab reference: /proc/vmcore copied to /dev/vda' "$SERIAL" || fail "no reference copy of /proc/vmcore"
PROGRESS=$(grep -c 'salvage: .*vmcore: [0-9]*% ' "$SERIAL" || true)
[ "$PROGRESS" -ge 1 ] || fail "no progress line on the console"
T_UP=$(lab_salvage_at 'target net: .* up: ') T_DONE=$(lab_salvage_at 'dump complete on the collector')
cp "$SERIAL" "$CACHE_DIR/net-lab$([ $RESUME = 1 ] && echo -resume)$([ $IPV6 = 1 ] && echo -ipv6).serial.log" 2>/dev/null || true

# ---- 5. what the collector stored ----------------------------------------------
kill "$COLL_PID" 2>/dev/null; wait "$COLL_PID" 2>/dev/null || true
COLL_PID=
OUT=$(find "$WORK/store/$HOST" -mindepth 1 -maxdepth 1 -type d ! -name '.*' | head -n1)  # not the collector's .dumps
[ -n "$OUT" ] || fail "the collector stored nothing under $WORK/store"
for f in vmcore dmesg.txt summary.txt; do [ -s "$OUT/$f" ] || fail "the collector did not store $f ($(ls "$OUT"))"; done
[ -e "$OUT/vmcore-incomplete" ] && fail "vmcore-incomplete left next to vmcore"
[ "$(basename "$(dirname "$OUT")")" = "$HOST" ] || fail "stored under host '$(basename "$(dirname "$OUT")")', not $HOST"
for f in vmcore dmesg.txt summary.txt; do
    [ "$(stat -c %a "$OUT/$f")" = 600 ] || fail "$f has mode $(stat -c %a "$OUT/$f"), not 600"
done
grep -q 'completeness: complete' "$OUT/summary.txt" || fail "summary.txt does not say complete"
grep -q 'Kernel panic - not syncing: sysrq triggered crash' "$OUT/dmesg.txt" || fail "dmesg.txt lacks the panic message"

lab_check_crash "$OUT/vmcore"
lab_check_mdf_dmesg "$OUT/vmcore"

# Every page the stored dump has equals the same page of the reference.
/usr/bin/python3 - "$OUT/vmcore" "$REF" > "$WORK/pages.out" 2>&1 <<'EOF' || { cat "$WORK/pages.out" >&2; fail "stored pages differ from the reference copy of /proc/vmcore"; }
import sys
import kdumpfile
PAGE = 4096
def open_dump(p):
    k = kdumpfile.kdumpfile(p)
    k.attr["addrxlat.ostype"] = "linux"
    return k
stored, ref = open_dump(sys.argv[1]), open_dump(sys.argv[2])
max_pfn = int(stored.attr["max_pfn"])
kept = same = 0
for pfn in range(max_pfn):
    try:
        a = stored.read(kdumpfile.KDUMP_MACHPHYSADDR, pfn * PAGE, PAGE)
    except kdumpfile.exceptions.NoDataException:
        continue
    kept += 1
    try:
        b = ref.read(kdumpfile.KDUMP_MACHPHYSADDR, pfn * PAGE, PAGE)
    except kdumpfile.exceptions.NoDataException:
        print("pfn %#x is in the stored dump but not in the reference" % pfn)
        sys.exit(1)
    if a != b:
        print("pfn %#x differs" % pfn)
        sys.exit(1)
    same += 1
if kept < 1000:
    print("only %d pages in the stored dump" % kept)
    sys.exit(1)
print("%d kept pages, all equal to the reference (max_pfn %d)" % (kept, max_pfn))
EOF
PAGES=$(cat "$WORK/pages.out")

MODE=$([ $RESUME = 1 ] && echo "DHCP, collector SIGKILLed mid-vmcore and restarted: resumed" || { [ $IPV6 = 1 ] && echo "static IPv6 (fec0::15/64 to [::1])"; } || echo "static IPv4")
echo "net-lab: PASS $MODE; salvage as /init streamed over TLS to the collector on the host's loopback; stored $HOST/$(basename "$OUT")/{vmcore,dmesg.txt,summary.txt} 0600; crash sys/bt/log + makedumpfile --dump-dmesg ok; $PAGES"
echo "net-lab: timings: capture kernel uptime at link up ${T_UP}s, at 'dump complete' ${T_DONE}s; qemu total ${T_QEMU}s; vmcore $(stat -c %s "$OUT/vmcore") bytes; $PROGRESS progress line(s)"
