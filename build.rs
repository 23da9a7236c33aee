//! Release builds of `jailor` on Linux (glibc) get `packaging/idle-sections.ld`, a fragment
//! the linker inserts into its default script: the functions the idle daemon runs every
//! second, packed in one output section in front of `.text`. The kernel maps the binary's
//! code back in whole page-cache folios (64-256 KB) after the start's code is dropped, so
//! that loop's code spread over the binary kept ~1.2 MB resident at idle
//! (`bench/daemon/RESULTS.md`; the fragment is rebuilt with `bench/daemon/idle_sections.py`).
//! A pattern that no longer matches only loses the packing.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=packaging/idle-sections.ld");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let (target, host) = (var("TARGET"), var("HOST"));
    if var("PROFILE") != "release" || target != host || !target.ends_with("linux-gnu") {
        return;
    }
    let script =
        std::path::Path::new(&var("CARGO_MANIFEST_DIR")).join("packaging/idle-sections.ld");
    println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());
}
