#!/bin/bash
# The relayres= kernel patch series (kernel-config/patches/) against Debian's
# linux-source-6.1:
#  - the committed patches are what make-series.sh generates from the files
#    they carry (formats/relayres-layout.h, kernel-config/relayres/relayres-core.*,
#    kernel-config/patches/src/), apart from commit hashes and dates;
#  - every patch has a subject and a message saying why;
#  - the series applies to a pristine tree (git apply --check, in order), and
#    the objects it touches compile (tests/vm/patched-tree.sh --objects, cached
#    in .cache/kernel-src/<version>/, so only a changed series rebuilds).
. "$(dirname "$0")/lib.sh" "$1"
KCACHE=${KERNEL_SRC_CACHE:-$ROOT/.cache/kernel-src}
P=$ROOT/kernel-config/patches
dpkg-query -W linux-source-6.1 >/dev/null 2>&1 || { echo "linux-source-6.1 is not installed (make deps)"; exit 1; }
VER=$(dpkg-query -W -f='${Version}' linux-source-6.1)

# 1. Up to date with its sources.
SRCARG=()
[ -f "$KCACHE/$VER/.extracted" ] && SRCARG=(--src "$KCACHE/$VER/linux-source-6.1")
if "$P/make-series.sh" "${SRCARG[@]}" "$WORK/series" >"$WORK/gen.log" 2>&1; then
  pass "make-series.sh regenerates $(ls "$WORK"/series/*.patch | wc -l) patches"
else
  fail "make-series.sh failed:"; sed 's/^/      /' "$WORK/gen.log"
fi
strip() { grep -vE '^(From [0-9a-f]{40} |Date: )' "$1"; }
committed=$(cd "$P" && ls [0-9][0-9][0-9][0-9]-*.patch)
generated=$(cd "$WORK/series" && ls [0-9][0-9][0-9][0-9]-*.patch 2>/dev/null || true)
if [ "$committed" = "$generated" ]; then pass "same patch names"; else
  fail "patch names differ: committed [$committed] generated [$generated]"; fi
stale=0
for p in $generated; do
  [ -f "$P/$p" ] || continue
  if ! diff -u <(strip "$P/$p") <(strip "$WORK/series/$p") >"$WORK/diff" 2>&1; then
    stale=1
    fail "$p is out of date: run kernel-config/patches/make-series.sh"
    head -20 "$WORK/diff" | sed 's/^/      /'
  fi
done
[ $stale = 0 ] && pass "committed patches match their sources (hash/date lines aside)"

# 2. Each patch says why: a subject and at least 3 lines of message.
for p in "$P"/[0-9][0-9][0-9][0-9]-*.patch; do
  body=$(awk '/^Subject:/ {s=1; next} s && /^---$/ {exit} s && NF {n++} END {print n+0}' "$p")
  if grep -q '^Subject: \[PATCH [0-9]*/[0-9]*\] ' "$p" && [ "$body" -ge 3 ]; then
    pass "$(basename "$p"): subject and $body lines of message"
  else
    fail "$(basename "$p"): no subject or too short a message ($body lines)"
  fi
done

# 3. Applies to the pristine tree and the touched objects compile.
start=$(date +%s)
if "$ROOT/tests/vm/patched-tree.sh" --objects "$KCACHE" >"$WORK/tree.env" 2>"$WORK/tree.log"; then
  pass "series applies to linux-source-6.1 $VER; touched objects compile ($(( $(date +%s) - start )) s)"
  eval "$(cat "$WORK/tree.env")"
  for o in kernel/relay_reserved.o kernel/relayres-core.o kernel/relay_reserved_test.o \
           arch/x86/kernel/setup.o arch/x86/boot/compressed/kaslr.o; do
    if [ -s "$PT_BUILD/$o" ]; then pass "built $o"; else fail "$o missing"; fi
  done
  # The objects really contain the series: the parameter and the API.
  if nm "$PT_BUILD/arch/x86/kernel/setup.o" | grep -q ' relayres_region$'; then
    pass "setup.o defines relayres_region"; else fail "setup.o lacks relayres_region"; fi
  if strings "$PT_BUILD/arch/x86/boot/compressed/kaslr.o" | grep -qx relayres; then
    pass "the decompressor's kaslr.o parses relayres="; else fail "kaslr.o does not mention relayres"; fi
  if nm "$PT_BUILD/kernel/relay_reserved.o" | grep -q ' T relayres_open$'; then
    pass "relay_reserved.o defines relayres_open"; else fail "relay_reserved.o lacks relayres_open"; fi
else
  fail "patched tree (see below)"; grep -vE '^(Value of|Previous value|New value|$)' "$WORK/tree.log" | tail -30 | sed 's/^/      /'
fi
finish
