//! The pieces together, as the daemon will drive them: failures, ignore rules, a ban with an
//! increased bantime, its deadline, the unban.

use jailor_policy::{
    weigh_failure, Added, BanBook, BanOutcome, BanTicket, Deadlines, FailureWindow, Id, IgnoreList,
    Increment, IncrementOptions, NoResolver, PriorBans, WindowConfig,
};

#[test]
fn repeat_offender_is_banned_sooner_and_longer() {
    let jail = "sshd";
    let ignore = IgnoreList::parse("192.0.2.0/24", &NoResolver);
    let mut failures = FailureWindow::new(WindowConfig {
        maxretry: 5,
        ..WindowConfig::default()
    });
    let mut bans = BanBook::new(600);
    let increment = Increment::from_options(&IncrementOptions::default()).unwrap();
    let mut deadlines: Deadlines<(&str, Id)> = Deadlines::new();
    let mut no_random = || 0.0;

    // The store says 198.51.100.4 was banned twice, last at t=500.
    let prior = |id: &Id| {
        (id.to_string() == "198.51.100.4").then_some(PriorBans {
            ban_count: 2,
            last_ban: 500,
        })
    };

    let mut banned = Vec::new();
    for (t, addr) in [
        (400, "198.51.100.4"), // before the last ban: ignored
        (1000, "192.0.2.8"),   // ignored by ignoreip
        (1001, "198.51.100.4"),
        (1002, "203.0.113.1"),
        (1003, "198.51.100.4"),
    ] {
        let id = Id::parse(addr);
        if ignore.check(&id).is_some() {
            continue;
        }
        let Some(weight) = weigh_failure(t, prior(&id), failures.config().maxretry) else {
            continue;
        };
        if let Added::Ban(ticket) = failures.add(&id, t, &[addr], weight) {
            let count = prior(&id).map_or(0, |p| p.ban_count);
            let bantime = increment.ban_time(bans.bantime(), count, &mut no_random);
            let ticket = BanTicket {
                bantime: Some(bantime),
                ban_count: count as u32 + 1,
                ..BanTicket::from_failures(ticket)
            };
            let BanOutcome::Banned { end } = bans.add(ticket, t) else {
                panic!("a new ban")
            };
            let due = bans.get(&id).unwrap().unban_due().unwrap();
            deadlines.set((jail, id.clone()), due);
            banned.push((id.to_string(), end));
        }
    }
    // Weight 3 per failure (2 earlier bans): 3, then 6 >= 5 at t=1003. Bantime 600 * 2^2.
    assert_eq!(banned, [("198.51.100.4".to_string(), 1003 + 2400)]);
    assert_eq!(failures.get(&Id::parse("203.0.113.1")).unwrap().retry, 1);
    assert_eq!(failures.get(&Id::parse("198.51.100.4")), None);

    assert_eq!(deadlines.next_deadline(), Some(3404));
    assert!(deadlines.pop_due(3403).is_empty());
    for ((_, id), _) in deadlines.pop_due(3404) {
        assert!(bans.unban_if_timed_out(&id, 3404).is_some());
    }
    assert!(bans.is_empty());
    assert_eq!(bans.total(), 1);
}
