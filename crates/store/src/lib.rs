//! jailor's state in SQLite: bans, ban counts, log positions, schema migrations.
#![deny(missing_docs)]
