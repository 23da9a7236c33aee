//! Following log files: fingerprints, offsets, rotation, truncation, globs; inotify as a wake-up hint.
#![deny(missing_docs)]
