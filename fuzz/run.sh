#!/bin/sh
# Builds the fuzz targets with the stable toolchain (RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass
# its sanitizer flags) and runs each for SECONDS (default 20), seeded from jailor's own
# configuration and sample logs. Usage: fuzz/run.sh [SECONDS] [TARGET...]
# Crashes are left in fuzz/artifacts/<target>/; each one becomes a regression test.
set -eu
cd "$(dirname "$0")"
secs=${1:-20}
[ $# -gt 0 ] && shift
targets=${*:-"ini_interpolation regex_translate date_parse filter_match control_decode fleet_decode"}
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O
seed() {
    dir=corpus/$1
    mkdir -p "$dir"
    [ -n "$(ls -A "$dir")" ] && return 0
    case $1 in
        ini_interpolation) cp ../config/filter.d/*.conf ../config/jail.conf "$dir"/ ;;
        regex_translate) grep -h -o '\^.*' ../config/filter.d/*.conf | head -500 | split -l 1 - "$dir"/re- ;;
        date_parse|filter_match) cat ../tests/samples/* | grep -v '^#' | head -2000 | split -l 20 - "$dir"/log- ;;
        control_decode) printf '["status"]' > "$dir"/status; printf '["set","sshd","banip","192.0.2.1"]' > "$dir"/banip ;;
        fleet_decode)
            printf '{"v":1,"id":"a:1700000000000:1:0","origin":"a","jail":"sshd","addr":"192.0.2.1/32","act":"ban","ts_ms":1700000000000,"exp_ms":1700000600000}' > "$dir"/ban
            printf '{"v":1,"id":"b:1:2:3","origin":"b","jail":"sshd","addr":"2001:db8::/64","act":"unban","ts_ms":1,"exp_ms":1}' > "$dir"/unban
            printf '{"v":1,"id":"c:5:6:7","origin":"c","jail":"nginx-http-auth","addr":"198.51.100.0/24","act":"ban","ts_ms":5,"exp_ms":null}' > "$dir"/permanent ;;
    esac
}
for t in $targets; do
    seed "$t"
    mkdir -p "artifacts/$t"
    RUSTC_BOOTSTRAP=1 cargo fuzz run -O "$t" "corpus/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
done
