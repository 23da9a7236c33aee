//! 100,000 bans through the native nftables action, inside a network namespace the bench
//! creates and removes: in batches of 10,000 and as one startup-restore batch, in nftables'
//! text and JSON formats. Prints the time, this process's peak RSS and nft's, then checks
//! with `nft list set` that every element is in the kernel.
//!
//! Needs root, `ip` and `nft`; run with `cargo bench -p jailor-action --bench nft_bulk`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::Command;
use std::time::Instant;

use jailor_action::native::nft::{BatchFormat, NftAction, NftCommand, NftConfig, Ports, Protocol};

const BANS: usize = 100_000;
const BATCH: usize = 10_000;

/// A namespace deleted on drop, also when an assertion fails.
struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Netns {
        let name = format!("jailor-b-{}-{tag}", std::process::id());
        let ok = Command::new("ip").args(["netns", "add", &name]).status();
        assert!(ok.is_ok_and(|s| s.success()), "ip netns add {name}");
        Netns(name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// 80% IPv4, 20% IPv6, each with its own remaining ban time.
fn bans() -> Vec<(IpAddr, Option<u64>)> {
    (0..BANS as u32)
        .map(|i| {
            let ip = if i % 5 == 4 {
                IpAddr::V6(Ipv6Addr::new(
                    0x2001,
                    0xdb8,
                    0,
                    0,
                    0,
                    0,
                    (i >> 16) as u16,
                    i as u16,
                ))
            } else {
                IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i))
            };
            (ip, Some(600 + u64::from(i % 3600)))
        })
        .collect()
}

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn children_peak_kb() -> i64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    usage.ru_maxrss
}

fn run(format: BatchFormat, batch: usize, bans: &[(IpAddr, Option<u64>)]) {
    let tag = format!("{format:?}-{batch}").to_lowercase();
    let ns = Netns::new(&tag);
    let mut config = NftConfig::new("sshd").expect("config");
    config.protocol = Protocol::Tcp;
    config.ports = Ports::Ranges(vec![(22, 22)]);
    let mut nft = NftAction::with_command(config, NftCommand::in_netns(&ns.0)).expect("action");
    nft.set_format(format);
    nft.start().expect("start");

    let begin = Instant::now();
    let mut written = 0;
    let mut slowest = 0f64;
    for chunk in bans.chunks(batch) {
        let one = Instant::now();
        written += nft.ban_batch(chunk.iter().copied()).expect("ban batch");
        slowest = slowest.max(one.elapsed().as_secs_f64());
    }
    let took = begin.elapsed();
    let (rss, peak) = (status_kb("VmRSS:"), status_kb("VmHWM:"));

    let listed = Instant::now();
    let elements = nft.list().expect("list");
    let list_took = listed.elapsed();
    println!(
        "nft_bulk {:<5} {:>6} bans in batches of {:>6}: {:>7.1} ms ({:.0} bans/s, slowest \
         batch {:.1} ms); RSS after the bans {} KB (peak {} KB); children's peak RSS (nft) {} KB; \
         list() {:.1} ms, RSS after it {} KB",
        format!("{format:?}"),
        written,
        batch,
        took.as_secs_f64() * 1000.0,
        written as f64 / took.as_secs_f64(),
        slowest * 1000.0,
        rss,
        peak,
        children_peak_kb(),
        list_took.as_secs_f64() * 1000.0,
        status_kb("VmRSS:"),
    );
    assert_eq!(written, bans.len());
    assert_eq!(elements.len(), bans.len(), "nft list set shows every ban");
    assert!(elements.iter().all(|e| e.timeout.is_some()));
    // And the raw listing from nft itself agrees.
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.0,
            "nft",
            "list",
            "set",
            "inet",
            "jailor",
            "addr4-sshd",
        ])
        .output()
        .expect("nft list set");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.matches("timeout").count() - 1,
        bans.len() * 4 / 5,
        "IPv4 elements"
    );
    nft.stop().expect("stop");
}

fn main() {
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    if !root || Command::new("nft").arg("--version").output().is_err() {
        println!("nft_bulk: SKIP (needs root and nft)");
        return;
    }
    let bans = bans();
    // Peaks only grow: run the leanest first (text), so each line's peak is its own or less.
    let which = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .unwrap_or_default();
    for format in [BatchFormat::Text, BatchFormat::Json] {
        if which.is_empty() || which.eq_ignore_ascii_case(&format!("{format:?}")) {
            run(format, BANS, &bans);
            run(format, BATCH, &bans);
        }
    }
}
