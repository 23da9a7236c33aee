//! Date detection in log lines: fail2ban's templates, datepattern, year inference and time zones.
#![deny(missing_docs)]
