//! Which compute hosts are up, as `host_status` shows them to admins (microversion 2.16+):
//! the services table read at most once a second, each host judged against
//! `service_down_time` when it is read. Changes made through this service (a service
//! registered, back up, disabled, forced down or deleted) drop the cached answer at once; a
//! host that stops heartbeating shows DOWN at most a second later than it would otherwise.
//! A server show polled by an admin reads its instance row only.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::Utc;
use stratus_core::error::ApiResult;

use crate::store::Store;

/// How long a reading of the services table is used.
const TTL: Duration = Duration::from_secs(1);

/// host → whether its compute service is up.
pub type Liveness = Arc<HashMap<String, bool>>;

pub struct HostLiveness {
    service_down_time: u64,
    cache: RwLock<Option<(Instant, Liveness)>>,
    /// Bumped by `invalidate`: a reading that started before is not kept.
    epoch: AtomicU64,
}

impl HostLiveness {
    pub fn new(service_down_time: u64) -> HostLiveness {
        HostLiveness { service_down_time, cache: RwLock::new(None), epoch: AtomicU64::new(0) }
    }

    pub async fn get(&self, store: &Store) -> ApiResult<Liveness> {
        if let Some((at, hosts)) = self.cache.read().expect("liveness cache").as_ref() {
            if at.elapsed() < TTL {
                return Ok(hosts.clone());
            }
        }
        let epoch = self.epoch.load(Ordering::SeqCst);
        let now = Utc::now();
        let hosts: Liveness = Arc::new(
            store
                .services()
                .await?
                .into_iter()
                .filter(|s| s.binary == "nova-compute")
                .map(|s| {
                    let up = s.is_up(now, self.service_down_time);
                    (s.host, up)
                })
                .collect(),
        );
        let mut cache = self.cache.write().expect("liveness cache");
        if self.epoch.load(Ordering::SeqCst) == epoch {
            *cache = Some((Instant::now(), hosts.clone()));
        }
        Ok(hosts)
    }

    pub fn invalidate(&self) {
        let mut cache = self.cache.write().expect("liveness cache");
        self.epoch.fetch_add(1, Ordering::SeqCst);
        *cache = None;
    }
}
