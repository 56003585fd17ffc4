#!/usr/bin/env bash
# fetch-headers.sh CACHE_DIR
#
# Make out-of-tree modules buildable against the lab kernel without
# installing anything on the host: resolve (with apt-cache, from the lab
# image package fetch-kernel.sh chose) the matching linux-headers-<kver>
# package, its -common package and linux-kbuild-<major.minor>, download
# them with `apt-get download` and `dpkg -x` them into
#
#   CACHE_DIR/<pkgname>_<pkgversion>/headers/
#
# The Debian headers refer to each other and to kbuild through absolute
# /usr/src and /usr/lib/linux-kbuild-* paths (the per-flavour Makefile
# includes the -common tree; scripts and tools are symlinks into kbuild).
# Those are rewritten to point inside the cache. Prints the directory to
# pass to `make -C` (the flavour's linux-headers-<kver>) as the last line.
#   make -C "$(tests/vm/fetch-headers.sh .cache/lab | tail -n1)" M=$PWD/kernel-config/relayres modules
# Idempotent (a .headers-complete stamp). Needs the kernel fetched first.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { echo "fetch-headers: $*" >&2; }
die() { echo "fetch-headers: ERROR: $*" >&2; exit 1; }
[ $# -ge 1 ] || die "usage: $0 CACHE_DIR"
CACHE_DIR=$1
KEY=$("$HERE/fetch-kernel.sh" "$CACHE_DIR" | tail -n1)
D=$(cd "$CACHE_DIR/$KEY" && pwd)
KVER=$(cat "$D/kver")
VER=$(cat "$D/pkgver")
H=$D/headers
OUTDIR=$H/usr/src/linux-headers-$KVER
if [ -f "$H/.headers-complete" ]; then echo "$OUTDIR"; exit 0; fi

# The flavour package's own dependencies name -common and kbuild, so no
# name is guessed from the version string.
HPKG=linux-headers-$KVER
apt-cache show "$HPKG=$VER" >/dev/null 2>&1 || die "apt-cache knows no $HPKG=$VER (apt-get update?)"
deps=$(apt-cache show "$HPKG=$VER" | awk -F': ' '/^Depends:/ { print $2; exit }' | tr ',' '\n' |
    sed 's/^ *//; s/ *(.*//' | grep -E '^linux-(headers-.*-common|kbuild-)')
COMMON=$(grep -E -- '-common$' <<<"$deps" | head -n1)
KBUILD=$(grep -E '^linux-kbuild-' <<<"$deps" | head -n1)
[ -n "$COMMON" ] && [ -n "$KBUILD" ] || die "cannot resolve -common/kbuild from $HPKG's Depends: $deps"
cand() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2; exit }'; }
KBVER=$(cand "$KBUILD")
{ [ -n "$KBVER" ] && [ "$KBVER" != "(none)" ]; } || die "no candidate for $KBUILD"

DL=$D/.dl-headers
rm -rf "$DL" "$H"; mkdir -p "$DL" "$H"; chmod 777 "$DL" 2>/dev/null || true
for pv in "$HPKG=$VER" "$COMMON=$VER" "$KBUILD=$KBVER"; do
    log "apt-get download $pv"
    (cd "$DL" && apt-get download -q "$pv" >&2) || die "apt-get download $pv failed"
done
for deb in "$DL"/*.deb; do dpkg -x "$deb" "$H"; done
rm -rf "$DL"
[ -f "$OUTDIR/Makefile" ] || die "no $OUTDIR/Makefile after extraction"

# Rewrite absolute paths: Makefiles (include /usr/src/...-common/Makefile)
# and symlinks (scripts -> /usr/lib/linux-kbuild-6.1/scripts).
grep -rlE '/usr/(src|lib/linux-kbuild)' "$H/usr/src" --include=Makefile 2>/dev/null | while read -r f; do
    sed -i -E "s#([^A-Za-z0-9_]|^)/usr/(src|lib/linux-kbuild)#\\1$H/usr/\\2#g" "$f"
done
find "$H" -type l | while read -r l; do
    t=$(readlink "$l")
    case "$t" in /usr/*) ln -sfn "$H$t" "$l" ;; esac
done
# The compiler Debian built with: the kbuild config names gcc-<N>; the
# host's must be the same major (Debian's linux-compiler-gcc-N-x86 is gcc-N).
CC_WANT=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\?\([^ ]*\) .*/\1/p' "$OUTDIR/include/config/auto.conf" 2>/dev/null | head -n1 || true)
log "kernel built with ${CC_WANT:-unknown compiler}; headers ready in $OUTDIR"
touch "$H/.headers-complete"
echo "$OUTDIR"
