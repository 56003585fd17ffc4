#!/bin/bash
# kernel-config/check-config.sh against the lab kernel's real config (Debian's
# 6.1 cloud kernel, boot/config-<kver> from the image package) and against
# configs crafted from it: every kind of requirement (=y, y-or-m, any-of,
# "is not set", advisory) must pass when met and be reported, with a nonzero
# exit status, when not.
. "$(dirname "$0")/lib.sh" "$1"
CHECK=$ROOT/kernel-config/check-config.sh
CONFIG=$LAB_DIR/boot/config-$KVER
[ -s "$CONFIG" ] || { echo "no kernel config at $CONFIG (tests/vm/fetch-kernel.sh keeps it)"; exit 1; }

# run NAME EXPECTED_STATUS ARGS...: output in $WORK/NAME.out
run() {
  local name=$1 want=$2 rc=0
  shift 2
  "$CHECK" "$@" >"$WORK/$name.out" 2>&1 || rc=$?
  if [ "$rc" = "$want" ]; then pass "$name: exit $rc"; else fail "$name: exit $rc, want $want"; sed 's/^/      /' "$WORK/$name.out"; fi
}
has() { # NAME REGEX: the output of run NAME matches
  if grep -qE "$2" "$WORK/$1.out"; then pass "$1: reports /$2/"; else fail "$1: no /$2/ in:"; sed 's/^/      /' "$WORK/$1.out"; fi
}
hasnt() {
  if grep -qE "$2" "$WORK/$1.out"; then fail "$1: unexpected /$2/"; sed 's/^/      /' "$WORK/$1.out"; else pass "$1: no /$2/"; fi
}
# craft NAME SED_EXPR...: a copy of the lab config edited with sed
craft() {
  local name=$1
  shift
  cp "$CONFIG" "$WORK/$name.config"
  for e in "$@"; do sed -i "$e" "$WORK/$name.config"; done
}
unset_opt() { echo "s/^$1=.*/# $1 is not set/"; }

run lint 0 --lint
has lint 'crashed-kernel.config: [0-9]+ options, each with a reason'

# The real Debian kernel: everything salvage and flightrec need is there.
run lab-crashed 0 --crashed "$CONFIG"
has lab-crashed ': 0 of [0-9]+ required options missing'
run lab-capture 0 --capture "$CONFIG"
run lab-default 0 "$CONFIG"
# ... but not the patch series' option: exactly that one is reported.
run lab-patched 1 --patched "$CONFIG"
has lab-patched '^missing  CONFIG_RELAY_RESERVED=y \(not set\)'
has lab-patched ': 1 of [0-9]+ required'

# Plain =y requirements: absent, "is not set", and =m all fail.
craft no-kprobes '/^CONFIG_KPROBES=/d'
run no-kprobes 1 --crashed "$WORK/no-kprobes.config"
has no-kprobes '^missing  CONFIG_KPROBES=y'
has no-kprobes 'why: the final event at crash time'
craft devmem-off "$(unset_opt CONFIG_DEVMEM)"
run devmem-off 1 --capture "$WORK/devmem-off.config"
has devmem-off '^missing  CONFIG_DEVMEM=y \(not set\)'
craft vmcore-m 's/^CONFIG_PROC_VMCORE=y/CONFIG_PROC_VMCORE=m/'
run vmcore-m 1 --capture "$WORK/vmcore-m.config"
has vmcore-m '^wrong    CONFIG_PROC_VMCORE=m \(want y\)'

# y-or-m: a module is fine.
craft crc32-m 's/^CONFIG_CRC32=y/CONFIG_CRC32=m/'
run crc32-m 0 --crashed "$WORK/crc32-m.config"
craft ext4-m 's/^CONFIG_EXT4_FS=y/CONFIG_EXT4_FS=m/'
run ext4-m 0 --capture "$WORK/ext4-m.config"
craft crc32-off "$(unset_opt CONFIG_CRC32)"
run crc32-off 1 --crashed "$WORK/crc32-off.config"
has crc32-off '^missing  CONFIG_CRC32=y\|m'

# any-of: one alternative is enough, none is reported with both.
craft kexec-only "$(unset_opt CONFIG_KEXEC_FILE)"
run kexec-only 0 --crashed "$WORK/kexec-only.config"
craft no-kexec "$(unset_opt CONFIG_KEXEC_FILE)" '/^CONFIG_KEXEC=/d'
run no-kexec 1 --crashed "$WORK/no-kexec.config"
has no-kexec '^missing  one of CONFIG_KEXEC_FILE=y or CONFIG_KEXEC=y \(have: CONFIG_KEXEC_FILE not set, CONFIG_KEXEC not set\)'
craft gzip-only "$(unset_opt CONFIG_RD_ZSTD)"
run gzip-only 0 --capture "$WORK/gzip-only.config"
craft no-rd "$(unset_opt CONFIG_RD_ZSTD)" "$(unset_opt CONFIG_RD_GZIP)"
run no-rd 1 --capture "$WORK/no-rd.config"
has no-rd 'one of CONFIG_RD_ZSTD=y or CONFIG_RD_GZIP=y'

# "is not set": a kernel locked down from boot cannot give up /dev/mem.
craft lockdown 's/^CONFIG_LOCK_DOWN_KERNEL_FORCE_NONE=y/# CONFIG_LOCK_DOWN_KERNEL_FORCE_NONE is not set/' \
  's/^# CONFIG_LOCK_DOWN_KERNEL_FORCE_INTEGRITY is not set/CONFIG_LOCK_DOWN_KERNEL_FORCE_INTEGRITY=y/'
run lockdown 1 --capture "$WORK/lockdown.config"
has lockdown '^set      CONFIG_LOCK_DOWN_KERNEL_FORCE_INTEGRITY=y \(want: not set\)'

# advisory: reported, but the status stays 0.
craft no-relay "$(unset_opt CONFIG_RELAY)"
run no-relay 0 --crashed "$WORK/no-relay.config"
has no-relay '^advisory CONFIG_RELAY=y'
has no-relay ', 1 advisory'

# Several problems at once are all listed.
craft many '/^CONFIG_KPROBES=/d' '/^CONFIG_TRACEPOINTS=/d' "$(unset_opt CONFIG_MODULES)"
run many 1 --crashed "$WORK/many.config"
has many ': 3 of [0-9]+ required'

# /proc/config.gz form; a patched config passes --patched.
gzip -c "$CONFIG" >"$WORK/config.gz"
run gz 0 --crashed "$WORK/config.gz"
craft patched '$a CONFIG_RELAY_RESERVED=y'
run patched 0 --patched "$WORK/patched.config"
craft patched-test '$a CONFIG_RELAY_RESERVED=y' '$a CONFIG_RELAY_RESERVED_TEST=y'
run patched-test 1 --patched "$WORK/patched-test.config"
has patched-test '^set      CONFIG_RELAY_RESERVED_TEST=y'

# Not a config, unreadable, bad fragment, bad usage: status 2.
echo "hello" >"$WORK/garbage"
run garbage 2 --crashed "$WORK/garbage"
has garbage 'not a kernel config'
run absent 2 --crashed "$WORK/absent"
printf '# why: x\nCONFIG_A=y\nCONFIG_B=y\n\nCONFIG_C=y\n' >"$WORK/nowhy.config"
run lint-bad 1 --lint "$WORK/nowhy.config"
has lint-bad 'CONFIG_C has no .# why:'
hasnt lint-bad 'CONFIG_B has no'
run usage 2 --crashed
finish
