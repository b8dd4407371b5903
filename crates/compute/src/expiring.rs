//! A value read from the database and then used for a while: fresh for its `ttl`, dropped at
//! once by `invalidate` (a write through this service changed what it was read from). A
//! reading that started before an invalidation serves its own reader but is not kept.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use stratus_core::error::ApiResult;

pub struct Expiring<T> {
    ttl: Duration,
    slot: RwLock<Option<(Instant, Arc<T>)>>,
    /// Bumped by `invalidate`.
    epoch: AtomicU64,
}

impl<T> Expiring<T> {
    pub fn new(ttl: Duration) -> Expiring<T> {
        Expiring { ttl, slot: RwLock::new(None), epoch: AtomicU64::new(0) }
    }

    /// The value, while it is fresh.
    pub fn fresh(&self) -> Option<Arc<T>> {
        let slot = self.slot.read().expect("expiring value");
        slot.as_ref().filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, v)| v.clone())
    }

    /// The fresh value, or a new one from `load` (kept unless invalidated meanwhile).
    pub async fn get_or_load<F: Future<Output = ApiResult<T>>>(
        &self,
        load: impl FnOnce() -> F,
    ) -> ApiResult<Arc<T>> {
        if let Some(v) = self.fresh() {
            return Ok(v);
        }
        self.reload(load).await
    }

    /// A new value from `load`, kept unless invalidated meanwhile.
    pub async fn reload<F: Future<Output = ApiResult<T>>>(
        &self,
        load: impl FnOnce() -> F,
    ) -> ApiResult<Arc<T>> {
        let epoch = self.epoch.load(Ordering::SeqCst);
        let value = Arc::new(load().await?);
        let mut slot = self.slot.write().expect("expiring value");
        if self.epoch.load(Ordering::SeqCst) == epoch {
            *slot = Some((Instant::now(), value.clone()));
        }
        Ok(value)
    }

    pub fn invalidate(&self) {
        let mut slot = self.slot.write().expect("expiring value");
        self.epoch.fetch_add(1, Ordering::SeqCst);
        *slot = None;
    }
}
