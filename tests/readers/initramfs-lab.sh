#!/bin/bash
# `salvage mkinitramfs` against the lab's real kernel modules, checked by
# independent tools: Debian's cpio lists and extracts the archive (zcat and
# zstd decompress it), file/readelf identify /init, modules.dep and the
# lab's modprobe-derived modules.load judge the module order, and the lab
# kernel itself boots the archive under QEMU with a probe as /init that
# finit_module()s every listed module in order and waits for the virtio disk.
# Prints the sizes, and a makedumpfile(+busybox: $BUSYBOX or the installed
# one) initramfs estimate beside them.
. "$(dirname "$0")/lib.sh" "$1"

MODDIR=$LAB_DIR/lib/modules/$KVER
COMMON=(--kernel-version "$KVER" --modules-dir "$MODDIR" --target LABEL=dump
        --add-module virtio_blk --add-module virtio-pci)

# ---- build: default compression (the lab kernel has CONFIG_RD_ZSTD) and gzip
if "$SALVAGE" mkinitramfs "${COMMON[@]}" --output "$WORK/auto.img" >"$WORK/auto.out" 2>"$WORK/auto.err"; then
  pass "mkinitramfs (auto compression) succeeded"
else
  fail "mkinitramfs failed: $(cat "$WORK/auto.err")"; finish; exit 1
fi
grep -q '^size: .* zstd ' "$WORK/auto.out" && pass "auto picked zstd from CONFIG_RD_ZSTD=y" || fail "auto did not pick zstd: $(grep '^size' "$WORK/auto.out")"
"$SALVAGE" mkinitramfs "${COMMON[@]}" --compress gzip --output "$WORK/gz.img" >"$WORK/gz.out" 2>"$WORK/gz.err" \
  || { fail "mkinitramfs --compress gzip: $(cat "$WORK/gz.err")"; finish; exit 1; }

"$SALVAGE" mkinitramfs "${COMMON[@]}" --output "$WORK/again.img" >/dev/null 2>&1
cmp -s "$WORK/auto.img" "$WORK/again.img" && pass "reproducible: a second build is byte-identical" || fail "two builds differ"

for img in auto gz; do
  perm=$(stat -c '%a %u:%g' "$WORK/$img.img")
  [ "$perm" = "600 0:0" ] && pass "$img.img is mode 0600 owned by root" || fail "$img.img is $perm, expected 600 0:0"
  reported=$(sed -n 's/^size: \([0-9]*\) bytes.*/\1/p' "$WORK/$img.out")
  [ "$reported" = "$(stat -c %s "$WORK/$img.img")" ] && pass "$img.img: reported size $reported matches the file" \
    || fail "$img.img: reported size '$reported' != $(stat -c %s "$WORK/$img.img")"
done
ls -a "$WORK" | grep -q '^\.auto\.img\.' && fail "temporary file left behind" || pass "no temporary file left behind"

# ---- the archive through GNU cpio
zstd -dc "$WORK/auto.img" >"$WORK/auto.cpio" && pass "zstd -dc reads the default image" || fail "zstd -dc failed"
zcat "$WORK/gz.img" >"$WORK/gz.cpio" && pass "zcat reads the gzip image" || fail "zcat failed"
cmp -s "$WORK/auto.cpio" "$WORK/gz.cpio" && pass "both compressions hold the same archive" || fail "archives differ"
cpio -it <"$WORK/gz.cpio" >"$WORK/list" 2>"$WORK/cpio.err" && pass "cpio -it lists $(wc -l <"$WORK/list") entries" \
  || fail "cpio -it: $(cat "$WORK/cpio.err")"
mkdir "$WORK/root"
(cd "$WORK/root" && zcat "$WORK/gz.img" | cpio -idv 2>"$WORK/cpio-x.err") && pass "zcat | cpio -idv extracts it" \
  || fail "cpio -idv: $(cat "$WORK/cpio-x.err")"
R=$WORK/root
[ "$(stat -c '%F %t:%T' "$R/dev/console" 2>/dev/null)" = "character special file 5:1" ] \
  && pass "dev/console is char 5:1" || fail "dev/console: $(stat -c '%F %t:%T' "$R/dev/console" 2>&1)"

# ---- /init is our static binary: with a disk target, the disk-only agent
# embedded in salvage (agent/disk-agent.h; stripped: same build ID as the
# build's salvage-disk-agent, runs, has no TLS); with --salvage, that file.
file "$R/init" | grep -q 'statically linked' && pass "/init is statically linked" || fail "/init: $(file "$R/init")"
bid() { readelf -n "$1" 2>/dev/null | sed -n 's/.*Build ID: //p'; }
AGENT=${DISK_AGENT:-$ROOT/${BUILD:-build}/salvage-disk-agent}
[ -n "$(bid "$AGENT")" ] && [ "$(bid "$AGENT")" = "$(bid "$R/init")" ] \
  && pass "/init is the embedded disk-only agent (build ID $(bid "$AGENT"))" || fail "/init build ID '$(bid "$R/init")' != the disk agent's '$(bid "$AGENT")'"
"$R/init" --help 2>&1 | grep -q "capture agent" && pass "/init runs (--help: the capture agent)" || fail "/init does not run"
strings "$R/init" | grep -q 'OpenSSL' && fail "/init carries OpenSSL" || pass "/init carries no OpenSSL"
echo "  /init $(stat -c %s "$R/init") bytes, salvage binary $(stat -c %s "$SALVAGE") bytes"
"$SALVAGE" mkinitramfs "${COMMON[@]}" --target net:192.0.2.1:7341 --collector-address 192.0.2.1:7341 --insecure \
  --net-interface 52:54:00:12:34:56 --ip dhcp --output "$WORK/net.img" >"$WORK/net.out" 2>&1 || true
if [ -s "$WORK/net.img" ]; then
  mkdir -p "$WORK/net" && (cd "$WORK/net" && zstd -dc "$WORK/net.img" 2>/dev/null | cpio -id --quiet 2>/dev/null || zcat "$WORK/net.img" | cpio -id --quiet)
  [ "$(bid "$WORK/net/init")" = "$(bid "$SALVAGE")" ] && pass "with a net target /init is the full salvage (TLS)" \
    || fail "net target: /init build ID '$(bid "$WORK/net/init")' != salvage's '$(bid "$SALVAGE")'"
else
  fail "mkinitramfs with a net target failed: $(tail -n 3 "$WORK/net.out")"
fi

# ---- config and modules
grep -qx 'target=LABEL=dump' "$R/etc/salvage.conf" && grep -qx "kernel_release=$KVER" "$R/etc/salvage.conf" \
  && pass "etc/salvage.conf names the target and kernel" || fail "etc/salvage.conf: $(cat "$R/etc/salvage.conf")"
grep '^/' "$R/etc/salvage.modules" | sed "s|^/lib/modules/$KVER/||" >"$WORK/order"
n=$(wc -l <"$WORK/order")
[ "$n" -eq 6 ] && pass "6 modules listed: $(xargs -n1 basename <"$WORK/order" | tr '\n' ' ')" || fail "$n modules listed"
bad=0
while read -r m; do cmp -s "$R/lib/modules/$KVER/$m" "$MODDIR/$m" || { bad=1; fail "module $m missing or different"; }; done <"$WORK/order"
[ $bad = 0 ] && pass "every listed module is in the archive, byte-identical to the kernel's"
# Each module after everything modules.dep says it needs.
order_ok() {
  awk -v dep="$MODDIR/modules.dep" 'BEGIN { while ((getline l < dep) > 0) { split(l, p, ":"); deps[p[1]] = p[2] } }
    { n = split(deps[$0], d, " "); for (i = 1; i <= n; i++) if (!(d[i] in seen)) { print "  " $0 " before " d[i]; bad = 1 }
      seen[$0] = 1 } END { exit bad }' "$1"
}
order_ok "$WORK/order" && pass "load order respects modules.dep" || fail "load order violates modules.dep"
sed "s|^.*lib/modules/$KVER/||" "$LAB_DIR/modules.load" | sort >"$WORK/lab-set"
sort "$WORK/order" | cmp -s - "$WORK/lab-set" && pass "same module set as the lab's modprobe --show-depends" \
  || fail "module set differs from $LAB_DIR/modules.load"

# ---- without modules.dep: dependencies from each module's .modinfo
mkdir -p "$WORK/mods"
cp -r "$MODDIR/kernel" "$MODDIR/modules.builtin" "$WORK/mods/"
if "$SALVAGE" mkinitramfs "${COMMON[@]}" --modules-dir "$WORK/mods" --output "$WORK/nodep.img" >"$WORK/nodep.out" 2>&1; then
  sed -n "s|^module: [^ ]* /lib/modules/$KVER/||p" "$WORK/nodep.out" >"$WORK/nodep-order"
  order_ok "$WORK/nodep-order" && sort "$WORK/nodep-order" | cmp -s - "$WORK/lab-set" \
    && pass "without modules.dep: same modules, valid order (from .modinfo depends=)" || fail "modinfo resolution differs"
else
  fail "mkinitramfs without modules.dep: $(cat "$WORK/nodep.out")"
fi

# ---- errors are clear and leave nothing behind
out=$("$SALVAGE" mkinitramfs "${COMMON[@]}" --add-module no_such_mod --output "$WORK/err.img" 2>&1) \
  && fail "unknown module accepted" || { echo "$out" | grep -q 'no_such_mod' && pass "unknown module: $(echo "$out" | tail -1)" || fail "unclear error: $out"; }
out=$("$SALVAGE" mkinitramfs "${COMMON[@]}" --salvage /bin/true --output "$WORK/err.img" 2>&1) \
  && fail "dynamic /init accepted" || { echo "$out" | grep -q 'dynamically linked' && pass "dynamic binary refused" || fail "unclear error: $out"; }
out=$("$SALVAGE" mkinitramfs "${COMMON[@]}" --kernel-version 6.1.0-0-other --output "$WORK/err.img" 2>&1) \
  && fail "module/kernel mismatch accepted" || { echo "$out" | grep -q 'built for kernel' && pass "vermagic mismatch refused" || fail "unclear error: $out"; }
[ ! -e "$WORK/err.img" ] && pass "failed runs wrote no file" || fail "a failed run left $WORK/err.img"

# ---- the real kernel boots it: a probe as /init loads the modules in order
if command -v qemu-system-x86_64 >/dev/null && command -v cc >/dev/null; then
  cc -static -O2 -o "$WORK/probe" "$ROOT/tests/readers/tools/initramfs-probe.c"
  truncate -s 64M "$WORK/disk.img"
  for c in zstd gzip; do
    "$SALVAGE" mkinitramfs "${COMMON[@]}" --compress $c --salvage "$WORK/probe" --output "$WORK/probe-$c.img" >/dev/null 2>&1
    timeout -k 5 120 qemu-system-x86_64 -accel tcg,thread=multi -cpu max,la57=off -smp 1 -m 256M \
      -display none -vga none -monitor none -nic none -no-reboot -serial "file:$WORK/serial-$c.log" \
      -kernel "$LAB_VMLINUZ" -initrd "$WORK/probe-$c.img" -append "console=ttyS0 panic=-1 quiet" \
      -drive "file=$WORK/disk.img,format=raw,if=virtio" </dev/null >/dev/null 2>&1
    if grep -q 'PROBE: modules loaded=6 failed=0' "$WORK/serial-$c.log" && grep -q 'PROBE: disk vda present' "$WORK/serial-$c.log" \
       && grep -q 'PROBE: config target=LABEL=dump' "$WORK/serial-$c.log"; then
      pass "lab kernel boots the $c image: 6 modules loaded in order, config read, virtio disk present"
    else
      fail "boot of the $c image: $(grep -E 'PROBE|panic|Kernel' "$WORK/serial-$c.log" | head -12)"
    fi
  done
else
  fail "qemu-system-x86_64 or cc missing: boot check not run"
fi

# ---- sizes, beside a makedumpfile-based initramfs for the same modules
SZ_Z=$(stat -c %s "$WORK/auto.img"); SZ_G=$(stat -c %s "$WORK/gz.img")
[ "$SZ_G" -lt $((3 * 1024 * 1024)) ] && pass "gzip image $SZ_G bytes < 3 MiB" || fail "gzip image $SZ_G bytes >= 3 MiB"
echo "  salvage initramfs: $SZ_Z bytes zstd, $SZ_G bytes gzip, $(stat -c %s "$WORK/gz.cpio") bytes unpacked"
if command -v makedumpfile >/dev/null; then
  B=$WORK/baseline; mkdir -p "$B/sbin" "$B/lib/modules"
  mdf=$(command -v makedumpfile); cp "$mdf" "$B/sbin/"
  ldd "$mdf" | grep -o '/[^ ]*' | while read -r lib; do mkdir -p "$B$(dirname "$lib")"; cp -L "$lib" "$B$lib"; done
  bb=${BUSYBOX:-$(command -v busybox || true)}
  [ -n "$bb" ] && cp "$bb" "$B/sbin/" || echo "  (busybox not installed: baseline counts makedumpfile and its libraries only)"
  while read -r m; do mkdir -p "$B/lib/modules/$(dirname "$m")"; cp "$MODDIR/$m" "$B/lib/modules/$m"; done <"$WORK/order"
  SZ_B=$( (cd "$B" && find . | cpio -o -H newc 2>/dev/null | gzip -9) | wc -c)
  echo "  baseline (makedumpfile + shared libs${bb:+ + busybox} + same modules): $SZ_B bytes gzip -9"
  [ "$SZ_G" -lt "$SZ_B" ] && pass "smaller than the makedumpfile baseline ($SZ_G < $SZ_B)" \
    || echo "  note: not smaller than the makedumpfile baseline ($SZ_G >= $SZ_B)"
fi
finish
