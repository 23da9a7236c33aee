//! Address families, as fail2ban's `?family=` conditions name them.

use std::fmt;

/// The address family a command runs for: the value of the `<family>` tag and of the
/// `?family=` condition of conditional properties.
///
/// An action without conditional properties runs every command for [`Family::Any`], whose
/// `<family>` is empty at start/stop (fail2ban's family `''`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// No family: the action has no `?family=` properties.
    Any,
    /// IPv4 (`inet4`).
    Inet4,
    /// IPv6 (`inet6`).
    Inet6,
}

impl Family {
    /// The name fail2ban uses: `""`, `"inet4"` or `"inet6"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Any => "",
            Family::Inet4 => "inet4",
            Family::Inet6 => "inet6",
        }
    }

    /// The condition suffix of a conditional property for this family (`"?family=inet6"`),
    /// or `None` for [`Family::Any`].
    pub(crate) fn condition(self) -> Option<&'static str> {
        match self {
            Family::Any => None,
            Family::Inet4 => Some("?family=inet4"),
            Family::Inet6 => Some("?family=inet6"),
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
