//! The commands an action can define.

use std::fmt;

/// One of an action's commands, named after its property.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CommandKind {
    /// `actionstart`: at jail start, or at the first ban of a family (on demand).
    Start,
    /// `actionstop`: at jail stop, after the flush.
    Stop,
    /// `actioncheck`: the invariant check run after a command failed.
    Check,
    /// `actionban`: per ban.
    Ban,
    /// `actionunban`: per unban.
    Unban,
    /// `actionflush`: removes every ban at once.
    Flush,
    /// `actionrepair`: restores the environment after a failed check.
    Repair,
    /// `actionreban`: bans again after a repair (default: `actionban`).
    Reban,
    /// `actionprolong`: the ban time grew (`bantime.increment`).
    Prolong,
    /// `actionreload`: the jail was reloaded.
    Reload,
}

impl CommandKind {
    /// Every kind, in a fixed order.
    pub const ALL: [CommandKind; 10] = [
        CommandKind::Start,
        CommandKind::Stop,
        CommandKind::Check,
        CommandKind::Ban,
        CommandKind::Unban,
        CommandKind::Flush,
        CommandKind::Repair,
        CommandKind::Reban,
        CommandKind::Prolong,
        CommandKind::Reload,
    ];

    /// The property that holds the command, for example `"actionban"`.
    pub fn property(self) -> &'static str {
        match self {
            CommandKind::Start => "actionstart",
            CommandKind::Stop => "actionstop",
            CommandKind::Check => "actioncheck",
            CommandKind::Ban => "actionban",
            CommandKind::Unban => "actionunban",
            CommandKind::Flush => "actionflush",
            CommandKind::Repair => "actionrepair",
            CommandKind::Reban => "actionreban",
            CommandKind::Prolong => "actionprolong",
            CommandKind::Reload => "actionreload",
        }
    }

    /// Whether the command is about one ticket (and so sees the ticket's dynamic tags).
    pub fn is_per_ticket(self) -> bool {
        matches!(
            self,
            CommandKind::Ban | CommandKind::Unban | CommandKind::Reban | CommandKind::Prolong
        )
    }
}

impl fmt::Display for CommandKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.property())
    }
}
