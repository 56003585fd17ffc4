#!/bin/sh
# `systemd-analyze verify` on the units in systemd/, inside a temporary root
# (--root) so nothing is installed on the host: the root gets the host's
# stock units (for targets like multi-user.target), stub executables at the
# paths the units name, and our units in /etc/systemd/system. A deliberately
# broken copy must fail, so a verify that checks nothing cannot pass.
# Also: sh -n on the kernel postinst hook.
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
units="salvage-load.service salvage-save.service salvage-rearm.service salvage-collector.service"
command -v systemd-analyze >/dev/null || { echo "systemd-units: systemd-analyze missing" >&2; exit 1; }
root=$(mktemp -d /tmp/salvage-units.XXXXXX)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/lib/systemd" "$root/etc/systemd/system" "$root/usr/sbin" "$root/bin"
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
for exe in /usr/sbin/salvage /bin/sleep /bin/systemctl; do
	printf '#!/bin/sh\nexit 0\n' > "$root$exe"
	chmod 755 "$root$exe"
done
for u in $units; do cp "$here/systemd/$u" "$root/etc/systemd/system/"; done
fail=0
for u in $units; do
	if out=$(systemd-analyze verify --root="$root" --man=no "$u" 2>&1) && [ -z "$out" ]; then
		echo "ok    $u"
	else
		echo "FAIL  $u: $out"; fail=1
	fi
done
# Negative control: a unit whose ExecStart does not exist must be rejected.
sed 's|^ExecStart=/usr/sbin/salvage|ExecStart=/usr/sbin/salvage-missing|' "$here/systemd/salvage-load.service" \
	> "$root/etc/systemd/system/broken.service"
if systemd-analyze verify --root="$root" --man=no broken.service >/dev/null 2>&1; then
	echo "FAIL  verify accepted a unit with a missing ExecStart; the check is not checking"; fail=1
else
	echo "ok    a broken unit is rejected"
fi
if sh -n "$here/systemd/kernel-postinst-salvage"; then echo "ok    kernel-postinst-salvage parses"; else fail=1; fi
# udev rules: every line is a comment or KEY==/KEY+= pairs (udevadm verify needs systemd 253+).
if grep -v '^#' "$here/systemd/99-salvage-rearm.rules" | grep -v '^$' | grep -qv 'RUN+="/bin/systemctl --no-block start salvage-rearm.service"$'; then
	echo "FAIL  99-salvage-rearm.rules: unexpected line"; fail=1
else
	echo "ok    99-salvage-rearm.rules"
fi
exit $fail
