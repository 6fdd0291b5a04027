#!/usr/bin/env bash
# ops/batchd.service: systemd-analyze verify accepts it (no warning either), with ExecStart
# pointed at the batchd just built; `batchd serve` accepts its ExecStart arguments; and the
# lines README promises are there. Exits 77 (skipped) where systemd-analyze is missing.
# Usage: systemd_unit_test.sh UNIT_FILE BATCHD_BINARY
set -euo pipefail
unit=$1
batchd=$2
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not installed: skipped"; exit 77; }

fail() { echo "FAIL: $*" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed "s|/usr/local/bin/batchd|$batchd|" "$unit" > "$work/batchd.service"
# verify prints warnings (unknown keys, bad values) without failing: any output is a failure.
if ! out=$(systemd-analyze verify "$work/batchd.service" 2>&1) || [ -n "$out" ]; then
  fail "systemd-analyze verify: $out"
fi

# The daemon accepts the ExecStart arguments (--help parses them all, then prints help).
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
[ -n "$exec_start" ] || fail "no ExecStart"
read -r -a argv <<<"$exec_start"
[ "${argv[0]}" = /usr/local/bin/batchd ] || fail "ExecStart runs ${argv[0]}, not /usr/local/bin/batchd"
"$batchd" "${argv[@]:1}" --help >/dev/null || fail "batchd refuses the ExecStart arguments: ${argv[*]:1}"

for line in 'User=batchd' 'Restart=on-failure' 'ExecReload=/bin/kill -HUP $MAINPID' \
            'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ReadWritePaths=/var/lib/batchd' \
            'StateDirectory=batchd'; do
  grep -qxF -- "$line" "$unit" || fail "missing line: $line"
done
grep -q -- '--data-dir /var/lib/batchd' <<<"$exec_start" || fail "ExecStart has no --data-dir /var/lib/batchd"
echo "ok: $unit"
