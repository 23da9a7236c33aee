//! `<ipmatches>`, `<ipjailmatches>`, `<ipfailures>` and `<ipjailfailures>` from the store: an
//! address's bans as recorded (the keeper commits a ban before its worker runs the actions,
//! so the ban being run is among them).

use std::sync::{Arc, Mutex};

use jailor_action::{Address, BanHistory};
use jailor_store::{BanId, MergedBans, Store};

use crate::logf;

/// The store, asked only when a command uses one of these tags.
pub(crate) struct StoreHistory {
    store: Arc<Mutex<Store>>,
}

impl StoreHistory {
    pub(crate) fn new(store: Arc<Mutex<Store>>) -> StoreHistory {
        StoreHistory { store }
    }

    fn merged(&self, address: &Address, jail: Option<&str>) -> MergedBans {
        let id = BanId::parse(&address.to_string());
        let store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        match store.merged_bans(&id, jail) {
            Ok(m) => m,
            Err(e) => {
                logf!(
                    ERROR,
                    "fail2ban.database",
                    "cannot read the bans of {address}: {e}"
                );
                MergedBans::default()
            }
        }
    }
}

impl BanHistory for StoreHistory {
    fn matches(&self, address: &Address, jail: Option<&str>) -> Vec<String> {
        self.merged(address, jail).matches
    }

    fn failures(&self, address: &Address, jail: Option<&str>) -> u64 {
        self.merged(address, jail).failures
    }
}
