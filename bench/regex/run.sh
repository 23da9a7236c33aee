#!/usr/bin/env bash
# jailor regex against fail2ban-regex (Debian) and fail2ban-rs on the same 1M-line sshd log:
# wall time, peak RSS and ratios; then the per-address truth checks of both sshd modes.
#
#   bench/regex/run.sh [LINES]        (default 1000000; run from anywhere)
#
# Needs: python3, fail2ban (fail2ban-regex), GNU time (apt-get install time), a release
# build of jailor (built here), fail2ban-rs (installed once into /work/tools if missing).
set -euo pipefail

LINES=${1:-1000000}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=$(cd "$ROOT/../shared" && pwd)
CONF=${JAILOR_F2B_CORPUS:-$SHARED/compat}/config
TOOLS=${TOOLS:-/work/tools}
WORK=${WORK:-/tmp/jailor-bench-regex}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/target-regex}
JAILOR=$CARGO_TARGET_DIR/release/jailor
LOG=$WORK/auth-$LINES.log
mkdir -p "$WORK"

[ -x /usr/bin/time ] || { echo "GNU time missing: apt-get install time" >&2; exit 1; }
command -v fail2ban-regex >/dev/null || { echo "fail2ban-regex missing: apt-get install fail2ban" >&2; exit 1; }
(cd "$ROOT" && cargo build --release --quiet --bin jailor)
if [ ! -x "$TOOLS/bin/fail2ban-rs" ]; then
  cargo install fail2ban-rs --root "$TOOLS" --quiet
fi
if [ ! -f "$LOG" ]; then
  python3 "$SHARED/bench/gen_authlog.py" --lines "$LINES" --seed 1 --attackers 5000 --out "$LOG" >/dev/null 2>&1
fi

# fail2ban-rs: its own generated sshd jail (4 simpler patterns), pointed at the log.
F2BRS_CONF=$WORK/fail2ban-rs.toml
{ echo "[global]"; echo; "$TOOLS/bin/fail2ban-rs" gen-config sshd | sed "s|^log_path = .*|log_path = \"$LOG\"|"; } > "$F2BRS_CONF"

# run NAME OUTFILE CMD...: prints "wall_s rss_kb" of CMD (stdout to OUTFILE).
# The log is read into the page cache first: this machine's memory manager evicts idle file
# pages, and a cold read cost the first command ~0.3 s of kernel time that the others did not pay.
run() {
  local name=$1 out=$2; shift 2
  cat "$LOG" > /dev/null
  /usr/bin/time -f "%e %M" -o "$WORK/$name.time" "$@" > "$out" 2> "$WORK/$name.err" || {
    echo "$name failed:" >&2; tail -5 "$WORK/$name.err" >&2; exit 1; }
  cat "$WORK/$name.time" | tail -1
}

echo "log: $LOG ($(wc -l < "$LOG") lines, $(du -m "$LOG" | cut -f1) MB); $(nproc) CPU(s); load $(cut -d' ' -f1-3 /proc/loadavg)"
read -r J_S J_KB < <(run jailor "$WORK/jailor.ips" "$JAILOR" regex -c "$CONF" -o ip "$LOG" sshd)
read -r F_S F_KB < <(run fail2ban-regex "$WORK/f2b.ips" fail2ban-regex -o ip "$LOG" "$CONF/filter.d/sshd.conf")
read -r R_S R_KB < <(run fail2ban-rs "$WORK/f2brs.out" "$TOOLS/bin/fail2ban-rs" -c "$F2BRS_CONF" dry-run "$LOG")

printf '%-34s %9s %10s %8s\n' "command" "wall s" "peak RSS" "failures"
printf '%-34s %9.2f %7d MB %8d\n' "jailor regex -o ip LOG sshd" "$J_S" $((J_KB / 1024)) "$(wc -l < "$WORK/jailor.ips")"
printf '%-34s %9.2f %7d MB %8d\n' "fail2ban-regex -o ip LOG sshd" "$F_S" $((F_KB / 1024)) "$(wc -l < "$WORK/f2b.ips")"
printf '%-34s %9.2f %7d MB %8s\n' "fail2ban-rs dry-run (4 patterns)" "$R_S" $((R_KB / 1024)) "$(grep -m1 'Matches:' "$WORK/f2brs.out" | awk '{print $2}')"
python3 - "$J_S" "$F_S" "$R_S" <<'PY'
import sys
j, f, r = map(float, sys.argv[1:])
print(f"speed-up vs fail2ban-regex: {f / j:.1f}x (goal >= 100x)")
print(f"speed-up vs fail2ban-rs:    {r / j:.2f}x (goal >= 2x)")
PY
if cmp -s "$WORK/jailor.ips" "$WORK/f2b.ips"; then
  echo "jailor and fail2ban-regex print the same addresses in the same order"
else
  echo "jailor and fail2ban-regex outputs DIFFER" >&2
fi
python3 "$SHARED/bench/check_truth.py" "$LOG.truth.json" normal "$WORK/jailor.ips"
"$JAILOR" regex -c "$CONF" -o ip "$LOG" 'sshd[mode=aggressive]' > "$WORK/jailor-aggr.ips"
python3 "$SHARED/bench/check_truth.py" "$LOG.truth.json" aggressive "$WORK/jailor-aggr.ips"
