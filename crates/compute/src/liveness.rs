//! Which compute hosts are up, as `host_status` shows them to admins (microversion 2.16+):
//! the services table read at most once a second, each host judged against
//! `service_down_time` when it is read. Changes made through this service (a service
//! registered, back up, disabled, forced down or deleted) drop the cached answer at once; a
//! host that stops heartbeating shows DOWN at most a second later than it would otherwise.
//! A server show polled by an admin reads its instance row only.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use stratus_core::error::ApiResult;

use crate::expiring::Expiring;
use crate::store::Store;

/// host → whether its compute service is up.
pub type Liveness = Arc<HashMap<String, bool>>;

pub struct HostLiveness {
    service_down_time: u64,
    cache: Expiring<HashMap<String, bool>>,
}

impl HostLiveness {
    pub fn new(service_down_time: u64) -> HostLiveness {
        HostLiveness { service_down_time, cache: Expiring::new(Duration::from_secs(1)) }
    }

    pub async fn get(&self, store: &Store) -> ApiResult<Liveness> {
        self.cache
            .get_or_load(|| async {
                let now = Utc::now();
                Ok(store
                    .services()
                    .await?
                    .into_iter()
                    .filter(|s| s.binary == "nova-compute")
                    .map(|s| {
                        let up = s.is_up(now, self.service_down_time);
                        (s.host, up)
                    })
                    .collect())
            })
            .await
    }

    pub fn invalidate(&self) {
        self.cache.invalidate();
    }
}
