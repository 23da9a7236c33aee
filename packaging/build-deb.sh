#!/bin/sh
# Builds jailor's Debian package: the release binary, then the man pages and shell
# completions generated from it (`jailor generate`, a hidden subcommand), then `cargo deb`.
#
#   packaging/build-deb.sh [cargo-deb options...]      e.g. -o /tmp/debs
#
# Honours CARGO_TARGET_DIR; CARGO_DEB names cargo-deb when it is not on PATH; PROFILE picks
# the cargo profile (default release; PROFILE=dev packages a quick debug build for tests). The .deb is
# written to $CARGO_TARGET_DIR/debian (or target/debian) unless -o says otherwise.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
target_dir=${CARGO_TARGET_DIR:-$root/target}
cargo_deb=${CARGO_DEB:-$(command -v cargo-deb || echo /work/tools/bin/cargo-deb)}

profile=${PROFILE:-release}
case "$profile" in
    dev) profile_dir=debug ;;
    *) profile_dir=$profile ;;
esac
cargo build --profile "$profile" --bin jailor
jailor="$target_dir/$profile_dir/jailor"

generated="$root/packaging/generated"
rm -rf "$generated"
"$jailor" generate man "$generated/man" >/dev/null
"$jailor" generate completions "$generated/completions" >/dev/null

"$cargo_deb" --no-build --profile "$profile" -p jailor "$@"
