//! fail2ban's configuration, read as it is: the INI dialect, includes, interpolation, jails, filters and actions.
#![deny(missing_docs)]
