#!/bin/bash
# salvage collector over loopback (issue 4): the lab vmcore converted and
# streamed over TLS 1.3 is stored, opens in crash and equals a local
# conversion byte for byte (so every page too, checked again page by page
# with python3-libkdumpfile); SIGKILL of the collector mid-transfer and a
# restart: the dump completes by resuming and is identical; a full quota
# ends one transfer cleanly (kept incomplete, sender told) while another
# host's transfer completes; a collector disk that really fills up (ENOSPC
# on a 12 MiB tmpfs) does the same; bad clients (unenrolled, another host's name,
# plaintext against TLS, "../" host, garbage, oversized frame, a stall) get
# nothing written, with a good transfer running at the same time; `salvage
# test` probes the collector (accepted, unenrolled, wrong name, nothing
# listening, plaintext) and nothing is stored for a probe; 16
# concurrent senders all stored correctly with the collector's peak RSS
# bounded. Everything on 127.0.0.1 with ports the kernel picks.
. "$(dirname "$0")/lib.sh" "$1"
set +e  # each check reports pass/fail itself
PY=/usr/bin/python3
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$WORK"; }
trap cleanup EXIT

# start_collector NAME [args...]: runs it in the background, sets PORT and CPID.
start_collector() {
  local name=$1; shift
  rm -f "$WORK/$name.port"
  "$SALVAGE" collector --listen "${LISTEN:-127.0.0.1:0}" --port-file "$WORK/$name.port" -v "$@" >> "$WORK/$name.log" 2>&1 &
  CPID=$!
  PIDS+=("$CPID")
  for _ in $(seq 100); do [ -s "$WORK/$name.port" ] && break; sleep 0.05; done
  PORT=$(cat "$WORK/$name.port" 2>/dev/null || echo 0)
  [ "$PORT" != 0 ] || { fail "collector $name did not start: $(tail -3 "$WORK/$name.log")"; finish; exit 1; }
}
send() {  # host bundle port dump-id [extra convert args] -- streams the lab vmcore
  local host=$1 bundle=$2 port=$3 id=$4; shift 4
  timeout 120 "$SALVAGE" convert -d 31 -z -j1 "$@" "$VMCORE" --to-collector "127.0.0.1:$port" \
    --bundle "$bundle" --host "$host" --dump-id "$id"
}
stored() { ls -d "$1"/"$2"/2*/ 2>/dev/null | head -1; }  # root host -> dump dir
no_files() { [ -z "$(find "$1" -type f ! -path '*/.dumps/*' ! -path '*/.state/*' 2>/dev/null)" ]; }

CRED=$WORK/cred
for h in web-01 web-02 web-03; do "$SALVAGE" collector enroll $h --cred-dir "$CRED" --out "$WORK/$h.bundle" 2>/dev/null; done
[ "$(stat -c %a "$WORK/web-01.bundle")" = 600 ] && pass "enroll: bundle is 0600" || fail "enroll: bundle mode $(stat -c %a "$WORK/web-01.bundle")"

# Reference: the same conversion to a local file.
"$SALVAGE" convert -d 31 -z -j1 "$VMCORE" "$WORK/ref.vmcore" 2>/dev/null || fail "local reference convert"

# ---- 1. A real conversion streamed over TLS.
ROOT=$WORK/root
start_collector main --root "$ROOT" --cred-dir "$CRED" --idle-timeout 3
MAIN_PORT=$PORT MAIN_PID=$CPID
if send web-01 "$WORK/web-01.bundle" "$MAIN_PORT" boot-1 2> "$WORK/send1.log"; then
  d=$(stored "$ROOT" web-01)
  if cmp -s "$WORK/ref.vmcore" "$d/vmcore"; then pass "TLS stream: stored vmcore identical to a local convert"; else fail "TLS stream: stored vmcore differs"; fi
  [ "$(stat -c %a "$d/vmcore")" = 600 ] && [ "$(stat -c %a "$d")" = 700 ] && [ "$(stat -c %a "$ROOT/web-01")" = 700 ] &&
    pass "modes: vmcore 0600, directories 0700" || fail "modes: $(stat -c '%a %n' "$d/vmcore" "$d" "$ROOT/web-01")"
  printf 'sys\nbt\nlog\nquit\n' > "$WORK/cmds"
  timeout 300 crash -s "$VMLINUX" "$d/vmcore" -i "$WORK/cmds" > "$WORK/crash.txt" 2>&1 < /dev/null || true
  if grep -q "RELEASE: $KVER" "$WORK/crash.txt" && grep -q sysrq_handle_crash "$WORK/crash.txt" &&
     grep -q 'Kernel panic - not syncing: sysrq triggered crash' "$WORK/crash.txt"; then
    pass "crash opens the collected vmcore (sys, bt, log)"
  else
    fail "crash on the collected vmcore"; sed -n 1,30p "$WORK/crash.txt"
  fi
  if $PY - "$WORK/ref.vmcore" "$d/vmcore" <<'EOF'
import sys, kdumpfile
a, b = (kdumpfile.kdumpfile(p) for p in sys.argv[1:3])
for k in (a, b):
    k.attr['addrxlat.ostype'] = 'linux'
n = 0
maxpfn = a.attr['max_pfn']
for pfn in range(maxpfn):
    try:
        pa = a.read(kdumpfile.KDUMP_MACHPHYSADDR, pfn << 12, 4096)
    except Exception:
        pa = None
    try:
        pb = b.read(kdumpfile.KDUMP_MACHPHYSADDR, pfn << 12, 4096)
    except Exception:
        pb = None
    if pa != pb:
        print("page %#x differs" % pfn); sys.exit(1)
    n += pa is not None
print("%d pages equal" % n)
EOF
  then pass "libkdumpfile: every page of the collected vmcore equals the local one"; else fail "libkdumpfile page comparison"; fi
else
  fail "TLS stream: convert --to-collector failed: $(tail -2 "$WORK/send1.log")"
fi

# ---- 2. SIGKILL mid-transfer, restart on the same port: the sender resumes.
KROOT=$WORK/kroot
start_collector kill --root "$KROOT" --cred-dir "$CRED"
KPORT=$PORT
# zlib and one thread: slow enough to be killed in the middle.
timeout 120 "$SALVAGE" convert -d 31 -c -j1 -v "$VMCORE" --to-collector "127.0.0.1:$KPORT" \
  --bundle "$WORK/web-02.bundle" --dump-id crash-7 2> "$WORK/send-kill.log" &
SPID=$!
for _ in $(seq 200); do
  f=$(ls "$KROOT"/web-02/2*/vmcore-incomplete 2>/dev/null | head -1)
  [ -n "$f" ] && [ "$(stat -c %s "$f")" -gt 8000000 ] && break
  sleep 0.05
done
kill -9 "$CPID"; wait "$CPID" 2>/dev/null
sleep 0.5
LISTEN=127.0.0.1:$KPORT start_collector kill --root "$KROOT" --cred-dir "$CRED"
if wait "$SPID"; then
  "$SALVAGE" convert -d 31 -c -j1 "$VMCORE" "$WORK/ref-c.vmcore" 2>/dev/null
  d=$(stored "$KROOT" web-02)
  if grep -q 'resuming dump crash-7' "$WORK/kill.log" && cmp -s "$WORK/ref-c.vmcore" "$d/vmcore"; then
    pass "collector SIGKILLed mid-transfer: the sender resumed, the vmcore is identical"
  else
    fail "after SIGKILL: $(grep -c resuming "$WORK/kill.log") resumes; cmp: $(cmp "$WORK/ref-c.vmcore" "$d/vmcore" 2>&1)"
  fi
  [ "$(ls -d "$KROOT"/web-02/2*/ | wc -l)" = 1 ] && pass "resume continued in the same directory" || fail "resume made a new directory"
else
  fail "sender did not survive the collector's SIGKILL: $(tail -3 "$WORK/send-kill.log")"
fi
rm -f "$WORK/ref-c.vmcore"

# ---- 3. Bad clients, while a good transfer (web-03) runs on the same collector.
send web-03 "$WORK/web-03.bundle" "$MAIN_PORT" good-1 2> "$WORK/good.log" &
GOOD=$!
# 3a. Unenrolled: a key from another collector's enrollment, pinning ours.
"$SALVAGE" collector enroll web-01 --cred-dir "$WORK/other-cred" --out "$WORK/rogue.bundle" 2>/dev/null
fp=$(sed -n 's/^collector-fingerprint //p' "$WORK/web-01.bundle")
sed -i "s/^collector-fingerprint .*/collector-fingerprint $fp/" "$WORK/rogue.bundle"
send web-01 "$WORK/rogue.bundle" "$MAIN_PORT" rogue-1 2> "$WORK/rogue.log" && fail "unenrolled client was accepted" ||
  pass "unenrolled client refused ($(grep -o 'TLS handshake refused[^;]*' "$WORK/main.log" | head -1))"
# 3b. Enrolled as web-01, claims web-02.
send web-02 "$WORK/web-01.bundle" "$MAIN_PORT" liar-1 2> "$WORK/liar.log" && fail "host claiming another name accepted" ||
  { grep -q 'wrong host name' "$WORK/liar.log" && pass "client claiming another host's name refused" || fail "liar: $(tail -1 "$WORK/liar.log")"; }
# 3c. Plaintext against TLS.
timeout 30 "$SALVAGE" convert -d 31 -z "$VMCORE" --to-collector "127.0.0.1:$MAIN_PORT" --insecure --host web-01 \
  --dump-id plain-1 --timeout 5 2> "$WORK/plain.log" && fail "plaintext client accepted by the TLS collector" || pass "plaintext client refused by the TLS collector"
[ -z "$(ls "$ROOT"/web-02 2>/dev/null)" ] && ! ls -d "$ROOT"/web-01/.dumps/rogue-1 "$ROOT"/web-01/.dumps/plain-1 2>/dev/null &&
  pass "nothing written for the refused TLS clients" || fail "files were created for a refused client: $(find "$ROOT" -name '*rogue*' -o -name '*plain*' -o -path '*web-02*')"

# 3d. Raw frames against a plaintext (--insecure) collector: "../" host,
# garbage, oversized frame, a stall; and a good plaintext transfer alongside.
IROOT=$WORK/iroot
start_collector insecure --root "$IROOT" --insecure --idle-timeout 2
IPORT=$PORT IPID=$CPID
timeout 120 "$SALVAGE" convert -d 31 -z -j1 "$VMCORE" --to-collector "127.0.0.1:$IPORT" --insecure --host lab-ok \
  --dump-id ok-1 2> "$WORK/iok.log" &
IGOOD=$!
$PY - "$IPORT" > "$WORK/raw.txt" 2>&1 <<'EOF'
import socket, struct, sys, time
port = int(sys.argv[1])
def frame(t, payload, version=1, length=None):
    return struct.pack('<IBBHII', 0x57564c53, version, t, 0, len(payload) if length is None else length, 0) + payload
def s16(b): return struct.pack('<H', len(b)) + b
def conn():
    s = socket.create_connection(('127.0.0.1', port), timeout=10); return s
def closed_by_peer(s, wait=8):
    s.settimeout(wait)
    try:
        data = b''
        while True:
            d = s.recv(65536)
            if not d: return True, data
            data += d
    except socket.timeout:
        return False, b''
    except ConnectionResetError:
        return True, b''
res = {}
s = conn(); s.sendall(frame(1, struct.pack('<I', 1) + s16(b'../etc') + s16(b'd1')))
c, d = closed_by_peer(s)  # REFUSE (type 3), reason 4 "invalid name"
res['dotdot'] = c and len(d) > 18 and d[5] == 3 and d[16:18] == b'\x04\x00'
s = conn(); s.sendall(b'GET / HTTP/1.0\r\n\r\n' + b'\x00' * 100)
res['garbage'] = closed_by_peer(s)[0]
s = conn(); s.sendall(frame(1, b'', length=(1 << 20) + 65))
res['oversized'] = closed_by_peer(s)[0]
s = conn(); s.sendall(frame(1, b'', version=2))
c, d = closed_by_peer(s); res['version'] = c and b'version' in d
# A valid HELLO then a WRITE to an artifact never opened.
s = conn(); s.sendall(frame(1, struct.pack('<I', 1) + s16(b'lab-bad') + s16(b'd1')))
time.sleep(0.2); s.sendall(frame(5, struct.pack('<IIQQ', 9, 0, 0, 0) + b'x' * 10))
res['write-unopened'] = closed_by_peer(s)[0]
# Stall: connect and say nothing; the collector's idle timeout (2 s) cuts it.
t0 = time.time(); s = conn(); c, _ = closed_by_peer(s, wait=10)
res['stall'] = c and time.time() - t0 < 6
for k, v in res.items(): print(k, 'ok' if v else 'FAIL')
EOF
for k in dotdot garbage oversized version write-unopened stall; do
  grep -q "^$k ok" "$WORK/raw.txt" && pass "raw client '$k': connection closed by the collector" || fail "raw client '$k': $(grep "^$k" "$WORK/raw.txt")"
done
if [ -z "$(find "$IROOT" -path '*etc*')" ] && [ ! -e "$WORK/etc" ] && no_files "$IROOT/lab-bad"; then
  pass "nothing written for the raw offenders"
else
  fail "raw offenders left files: $(find "$IROOT" "$WORK/etc" -path '*etc*' -o -path '*lab-bad*' -type f 2>/dev/null)"
fi
wait "$IGOOD" && cmp -s "$WORK/ref.vmcore" "$(stored "$IROOT" lab-ok)/vmcore" &&
  pass "plaintext transfer alongside the raw offenders: stored identical" || fail "plaintext good transfer: $(tail -1 "$WORK/iok.log")"
wait "$GOOD" && cmp -s "$WORK/ref.vmcore" "$(stored "$ROOT" web-03)/vmcore" &&
  pass "TLS transfer alongside the refused clients: stored identical" || fail "good transfer during attacks: $(tail -1 "$WORK/good.log")"

# ---- 3e. `salvage test` probes a net target (wire protocol version 2,
# PROBE): the capture initramfs's bundle, TLS 1.3, PROBE; accepted,
# unenrolled, another host's name, nothing listening, plaintext lab; the
# collector stores nothing for any of them.
PROOT=$WORK/proot
start_collector probe --root "$PROOT" --cred-dir "$CRED"
PPORT=$PORT PPID_=$CPID
probe_rd() {  # name bundle-file port [insecure] -> $WORK/name.img, a net-only capture initramfs
  local d=$WORK/rd-$1; rm -rf "$d"; mkdir -p "$d/etc/salvage"
  printf '#!/bin/sh\n' > "$d/init"; chmod 755 "$d/init"
  { echo version=1; echo target=net; echo net=52:54:00:12:34:56; echo ip=static; echo net_address=10.0.2.15/24
    echo "collector=127.0.0.1:$3"
    if [ -n "${4:-}" ]; then echo collector_insecure=1; else echo collector_bundle=/etc/salvage/collector.bundle; fi
  } > "$d/etc/salvage.conf"
  [ -n "$2" ] && install -m 600 "$2" "$d/etc/salvage/collector.bundle"
  (cd "$d" && find . | cpio -o -H newc --quiet) > "$WORK/$1.img"
}
probe() { "$SALVAGE" test --initrd "$WORK/$1.img" --probe-timeout 5 2>/dev/null | grep '^[a-zA-Z]* *target net' ; }
probe_rd p-ok "$WORK/web-03.bundle" "$PPORT"
out=$(probe p-ok)
echo "$out" | grep -q "^ok    target net: collector 127.0.0.1:$PPORT accepts this host as web-03 (TLS 1.3, mutual)" &&
  pass "salvage test: enrolled host accepted by the collector ($out)" || fail "salvage test, enrolled: $out"
probe_rd p-rogue "$WORK/rogue.bundle" "$PPORT"
out=$(probe p-rogue)
echo "$out" | grep -q "^FAIL  target net: collector refused: .*not enrolled there" &&
  pass "salvage test: unenrolled host fails with the reason ($out)" || fail "salvage test, unenrolled: $out"
sed 's/^host web-01$/host web-02/' "$WORK/web-01.bundle" > "$WORK/liar.bundle"
probe_rd p-liar "$WORK/liar.bundle" "$PPORT"
out=$(probe p-liar)
echo "$out" | grep -q "^FAIL  target net: collector refused: .*wrong host name: certificate enrolled for web-01, PROBE says web-02" &&
  pass "salvage test: another host's name refused with the collector's reason" || fail "salvage test, liar: $out"
[ -z "$(ls -A "$PROOT")" ] && pass "salvage test: the probed collector stored nothing (no host directory)" ||
  fail "salvage test: the probes left $(find "$PROOT")"
kill "$PPID_"; wait "$PPID_" 2>/dev/null
out=$(probe p-ok)
echo "$out" | grep -q "^FAIL  target net: collector unreachable: cannot connect to 127.0.0.1:$PPORT: Connection refused (errno 111, ECONNREFUSED)" &&
  pass "salvage test: nothing listening names the address and errno" || fail "salvage test, nothing listening: $out"
start_collector iprobe --root "$PROOT" --insecure
probe_rd p-ins "" "$PORT" insecure
out=$(probe p-ins)
echo "$out" | grep -q "accepts this host as .* (INSECURE plaintext)" && [ -z "$(ls -A "$PROOT")" ] &&
  pass "salvage test: --insecure lab collector probed in plaintext, nothing stored" || fail "salvage test, insecure: $out"

# ---- 4. Quota: 10 MiB per host; web-01's 35 MB dump is ended cleanly,
# web-02's small dmesg-sized transfer from the same collector is unaffected.
QROOT=$WORK/qroot
start_collector quota --root "$QROOT" --cred-dir "$CRED" --quota-mib 10
send web-01 "$WORK/web-01.bundle" "$PORT" q-1 2> "$WORK/q.log"; rc=$?
d=$(stored "$QROOT" web-01)
if [ $rc != 0 ] && grep -q 'quota reached' "$WORK/q.log" && [ -s "$d/vmcore-incomplete" ] && [ ! -e "$d/vmcore" ]; then
  pass "quota: transfer ended, sender told ($(grep -o 'quota reached[^;]*' "$WORK/q.log" | head -1)), vmcore-incomplete kept ($(stat -c %s "$d/vmcore-incomplete") bytes)"
else
  fail "quota: rc=$rc $(tail -1 "$WORK/q.log"); $(ls -l "$d" 2>&1)"
fi
send web-01 "$WORK/web-01.bundle" "$PORT" q-2 2> "$WORK/q2.log" && fail "quota: a new dump of a full host accepted" ||
  { grep -q 'quota reached' "$WORK/q2.log" && pass "quota: a new dump of the full host is refused up front" || fail "quota refusal: $(tail -1 "$WORK/q2.log")"; }
# web-02 starts from an empty quota of its own: it gets its 10 MiB before its END.
send web-02 "$WORK/web-02.bundle" "$PORT" q-3 2> "$WORK/q3.log"
f=$(stored "$QROOT" web-02)vmcore-incomplete
[ -s "$f" ] && [ "$(stat -c %s "$f")" -gt 5000000 ] && grep -q 'quota reached' "$WORK/q3.log" &&
  pass "quota is per host: web-02 stored $(stat -c %s "$f") bytes of its own before its END" || fail "web-02 quota: $(tail -1 "$WORK/q3.log")"

# ---- 4b. A disk that really fills up: the collector's root on a 12 MiB
# tmpfs (in a mount namespace of this test's own, so nothing is mounted on
# the host), no free-space floor, web-03's 35 MB dump: pwrite hits ENOSPC
# mid-transfer; the collector ends that transfer, keeps vmcore-incomplete
# and tells the sender, who reports it (an agent then tries its next target:
# tests/vm/run-net-lab.sh --quota-fallback).
if command -v unshare > /dev/null && unshare -m true 2> /dev/null; then
  FROOT=$WORK/fullfs
  mkdir -p "$FROOT"
  unshare -m --propagation private bash -c '
    mount -t tmpfs -o size=12m salvage-test "$1" || exit 3
    "$2" collector --listen 127.0.0.1:0 --port-file "$1.port" --root "$1/root" --cred-dir "$3" --min-free-mib 0 -v \
      > "$1.log" 2>&1 &
    c=$!
    for _ in $(seq 100); do [ -s "$1.port" ] && break; sleep 0.05; done
    timeout 120 "$2" convert -d 31 -z -j1 "$4" --to-collector "127.0.0.1:$(cat "$1.port")" --bundle "$5" \
      --host web-03 --dump-id full-1 2> "$1.send.log"
    echo "rc=$?" > "$1.rc"
    d=$(ls -d "$1"/root/web-03/2*/ | head -1)
    ls -l "$d" > "$1.ls" 2>&1
    [ -s "$d/vmcore-incomplete" ] && [ ! -e "$d/vmcore" ] && echo kept > "$1.kept"
    kill $c; wait $c 2> /dev/null
    umount "$1"' _ "$FROOT" "$SALVAGE" "$CRED" "$VMCORE" "$WORK/web-03.bundle"
  if [ "$(cat "$FROOT.rc" 2> /dev/null)" != rc=0 ] && [ -e "$FROOT.kept" ] &&
     grep -qi 'space' "$FROOT.send.log"; then
    pass "disk full: ENOSPC ends the transfer, vmcore-incomplete kept, sender told ($(grep -io '[^:]*space[^;]*' "$FROOT.send.log" | head -1 | sed 's/^ *//'))"
  else
    fail "disk full: $(cat "$FROOT.rc" 2>&1); $(tail -2 "$FROOT.send.log" 2>&1); $(cat "$FROOT.ls" 2>&1); collector: $(tail -3 "$FROOT.log" 2>&1)"
  fi
else
  fail "disk full: cannot make a private mount namespace (unshare -m) for the 12 MiB tmpfs"
fi

# ---- 5. Load: 16 concurrent senders (16 hosts) to one collector.
LROOT=$WORK/lroot
for i in $(seq -w 1 16); do "$SALVAGE" collector enroll load-$i --cred-dir "$WORK/lcred" --out "$WORK/load-$i.bundle" 2>/dev/null; done
start_collector load --root "$LROOT" --cred-dir "$WORK/lcred"
LPID=$CPID
t0=$(date +%s.%N)
pids=()
for i in $(seq -w 1 16); do
  send load-$i "$WORK/load-$i.bundle" "$PORT" l-1 2> "$WORK/load-$i.log" &
  pids+=($!)
done
okc=0
for p in "${pids[@]}"; do wait "$p" && okc=$((okc + 1)); done
t1=$(date +%s.%N)
same=0
for i in $(seq -w 1 16); do cmp -s "$WORK/ref.vmcore" "$(stored "$LROOT" load-$i)/vmcore" && same=$((same + 1)); done
hwm=$(awk '/VmHWM/ {print $2}' /proc/$LPID/status)
[ "$okc" = 16 ] && [ "$same" = 16 ] && pass "16 concurrent senders: all 16 stored identical in $(awk "BEGIN {printf \"%.1f\", $t1 - $t0}") s" ||
  fail "16 concurrent senders: $okc succeeded, $same identical"
[ "${hwm:-999999}" -lt 65536 ] && pass "collector peak RSS with 16 senders: $((hwm / 1024)) MiB (bound 64 MiB)" ||
  fail "collector peak RSS $hwm kB"
finish
