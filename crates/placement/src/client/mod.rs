//! A typed REST client of the placement API for other services (the compute agent reports
//! its host as a resource provider; the scheduler asks for candidates and claims).
//!
//! It speaks microversion 1.39, authenticates with the service's own token (asking for a new
//! one once when a token is refused), and retries writes that lost a provider-generation race.

mod local;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use stratus_core::service_auth::SharedTokenSource;

use crate::service::PlacementService;

pub const MICROVERSION: &str = "placement 1.39";
/// Consumer type written with claims (nova's `INSTANCE`).
pub const CONSUMER_TYPE: &str = "INSTANCE";
/// Consumer type of a migration's allocations (nova's `MIGRATION`: the source host's resources
/// a resize or cold migration holds until it is confirmed or reverted).
pub const MIGRATION_CONSUMER_TYPE: &str = "MIGRATION";
const GENERATION_RETRIES: usize = 5;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClientError {
    /// 409: a generation changed, the capacity is gone, a name is taken … (placement's message).
    #[error("placement conflict: {0}")]
    Conflict(String),
    #[error("placement: not found: {0}")]
    NotFound(String),
    /// Any other error answer.
    #[error("placement answered {status}: {message}")]
    Api { status: u16, code: String, message: String },
    /// Placement could not be reached, or answered something unreadable.
    #[error("placement unreachable: {0}")]
    Transport(String),
    /// No token could be had.
    #[error("placement: cannot authenticate: {0}")]
    Auth(String),
}

impl ClientError {
    pub fn is_conflict(&self) -> bool {
        matches!(self, ClientError::Conflict(_))
    }
}

/// One inventory record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    pub total: u64,
    #[serde(default)]
    pub reserved: u64,
    #[serde(default = "one")]
    pub min_unit: u64,
    #[serde(default = "max_int")]
    pub max_unit: u64,
    #[serde(default = "one")]
    pub step_size: u64,
    #[serde(default = "ratio_one")]
    pub allocation_ratio: f64,
}

fn one() -> u64 {
    1
}
fn max_int() -> u64 {
    crate::model::MAX_INT as u64
}
fn ratio_one() -> f64 {
    1.0
}

/// What `GET /allocation_candidates` is asked (the unnumbered group).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CandidateQuery {
    pub resources: BTreeMap<String, u64>,
    pub required: Vec<String>,
    pub forbidden: Vec<String>,
    /// Each inner list is an any-of set; the sets are ANDed.
    pub member_of: Vec<Vec<String>>,
    pub in_tree: Option<String>,
    pub limit: Option<u32>,
}

/// provider uuid → resource class → amount.
pub type Allocations = BTreeMap<String, BTreeMap<String, u64>>;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AllocationRequest {
    pub allocations: Allocations,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Capacity {
    pub capacity: u64,
    pub used: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ProviderSummary {
    #[serde(default)]
    pub resources: BTreeMap<String, Capacity>,
    #[serde(default)]
    pub traits: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Candidates {
    pub allocation_requests: Vec<AllocationRequest>,
    pub provider_summaries: HashMap<String, ProviderSummary>,
}

/// One answer of `GET /allocation_candidates` as a scheduler reads it, without copying it:
/// over placement's own snapshot when placement runs in the process, over the parsed answer
/// otherwise. A decision over a thousand candidates reads each in place and copies only the
/// allocations of the hosts it chooses.
pub trait CandidateView {
    /// How many allocation requests there are.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// How many providers request `i` takes resources from.
    fn providers(&self, i: usize) -> usize;
    /// The uuid of request `i`'s provider `k` (`k < providers(i)`).
    fn provider(&self, i: usize, k: usize) -> &str;
    /// Capacity minus usage of a resource class on request `i`'s provider `k`, from its
    /// provider summary; None when it has no inventory of the class.
    fn free(&self, i: usize, k: usize, rc: &str) -> Option<i64>;
    /// [`CandidateView::free`] of VCPU, MEMORY_MB and DISK_GB, which a scheduler reads for
    /// every candidate.
    fn free_common(&self, i: usize, k: usize) -> [Option<i64>; 3] {
        ["VCPU", "MEMORY_MB", "DISK_GB"].map(|rc| self.free(i, k, rc))
    }
    /// Request `i`'s allocations.
    fn allocations(&self, i: usize) -> Allocations;
    /// Request `i`'s provider `k` as a number, where the view has one (placement's own id
    /// when it runs in the process; None over REST). A number names the same provider in
    /// every view of the same [`CandidateView::key_epoch`], so a caller can index what it
    /// knows of providers by it instead of by uuid.
    fn provider_key(&self, _i: usize, _k: usize) -> Option<u32> {
        None
    }
    /// What [`CandidateView::provider_key`]'s numbers are valid for.
    fn key_epoch(&self) -> Option<u64> {
        None
    }
}

impl CandidateView for Candidates {
    fn len(&self) -> usize {
        self.allocation_requests.len()
    }
    fn providers(&self, i: usize) -> usize {
        self.allocation_requests[i].allocations.len()
    }
    fn provider(&self, i: usize, k: usize) -> &str {
        self.allocation_requests[i].allocations.keys().nth(k).expect("k < providers(i)")
    }
    fn free(&self, i: usize, k: usize, rc: &str) -> Option<i64> {
        let c = self.provider_summaries.get(self.provider(i, k))?.resources.get(rc)?;
        Some(c.capacity as i64 - c.used as i64)
    }
    fn allocations(&self, i: usize) -> Allocations {
        self.allocation_requests[i].allocations.clone()
    }
}

/// One consumer of a [`PlacementClient::move_allocations`].
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerAllocations {
    pub consumer: String,
    /// Empty to remove the consumer's allocations.
    pub allocations: Allocations,
    pub project_id: String,
    pub user_id: String,
    /// The generation last seen; None for a new consumer.
    pub generation: Option<i64>,
    /// [`CONSUMER_TYPE`] or [`MIGRATION_CONSUMER_TYPE`].
    pub consumer_type: &'static str,
}

#[derive(Clone)]
pub struct PlacementClient {
    endpoint: String,
    auth: SharedTokenSource,
    http: reqwest::Client,
    /// Placement in this process: candidates, claims and releases skip HTTP (see `local`).
    local: Option<Arc<PlacementService>>,
}

impl std::fmt::Debug for PlacementClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlacementClient").field("endpoint", &self.endpoint).finish()
    }
}

/// The `detail` and `code` of a placement error body.
fn error_of(text: &str) -> (String, String) {
    let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let e = &v["errors"][0];
    let detail = e["detail"].as_str().map(str::to_string).unwrap_or_else(|| text.trim().to_string());
    let code = e["code"].as_str().unwrap_or("placement.undefined_code").to_string();
    (detail, code)
}

struct Answer {
    status: StatusCode,
    body: Value,
}

impl PlacementClient {
    /// `endpoint` is placement's base URL (`http://controller:8778`).
    pub fn new(endpoint: String, auth: SharedTokenSource) -> PlacementClient {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("http client");
        PlacementClient { endpoint: endpoint.trim_end_matches('/').to_string(), auth, http, local: None }
    }

    /// The same client, calling `service` directly for allocation candidates, claims and
    /// releases (the scheduler's calls on every boot and delete) when placement runs in this
    /// process; everything else still goes over REST.
    pub fn in_process(mut self, service: Arc<PlacementService>) -> PlacementClient {
        self.local = Some(service);
        self
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// One request; a 401 gets one more try with a fresh token. Error answers become errors,
    /// except the statuses in `accept`.
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
        accept: &[StatusCode],
    ) -> Result<Answer, ClientError> {
        let (status, text) = self.send(method, path, query, body, accept).await?;
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::Null)
        };
        Ok(Answer { status, body })
    }

    /// One request (a second one with a fresh token after a 401): the status and body text of
    /// a success or an accepted status, else the error placement answered.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
        accept: &[StatusCode],
    ) -> Result<(StatusCode, String), ClientError> {
        let url = format!("{}{}", self.endpoint, path);
        for attempt in 0..2 {
            let token = self.auth.token().await.map_err(|e| ClientError::Auth(format!("{e:#}")))?;
            let mut req = self
                .http
                .request(method.clone(), &url)
                .header("OpenStack-API-Version", MICROVERSION)
                .header("X-Auth-Token", token)
                .header("Accept", "application/json");
            if !query.is_empty() {
                req = req.query(query);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp =
                req.send().await.map_err(|e| ClientError::Transport(format!("{method} {url}: {e}")))?;
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED && attempt == 0 {
                self.auth.invalidate();
                continue;
            }
            let text =
                resp.text().await.map_err(|e| ClientError::Transport(format!("{method} {url}: {e}")))?;
            if status.is_success() || accept.contains(&status) {
                return Ok((status, text));
            }
            let (message, code) = error_of(&text);
            return Err(match status {
                StatusCode::CONFLICT => ClientError::Conflict(message),
                StatusCode::NOT_FOUND => ClientError::NotFound(message),
                _ => ClientError::Api { status: status.as_u16(), code, message },
            });
        }
        Err(ClientError::Auth("placement refused the service token twice".into()))
    }

    async fn get(&self, path: &str) -> Result<Value, ClientError> {
        Ok(self.call(Method::GET, path, &[], None, &[]).await?.body)
    }

    /// The provider's generation, creating the provider when it does not exist.
    pub async fn ensure_provider(&self, uuid: &str, name: &str) -> Result<i64, ClientError> {
        let path = format!("/resource_providers/{uuid}");
        let a = self.call(Method::GET, &path, &[], None, &[StatusCode::NOT_FOUND]).await?;
        if a.status == StatusCode::OK {
            return Ok(a.body["generation"].as_i64().unwrap_or_default());
        }
        let body = json!({"uuid": uuid, "name": name});
        match self.call(Method::POST, "/resource_providers", &[], Some(&body), &[]).await {
            Ok(a) => Ok(a.body["generation"].as_i64().unwrap_or_default()),
            // Created meanwhile by someone else (or the name is taken: then the GET says so).
            Err(ClientError::Conflict(msg)) => match self.get(&path).await {
                Ok(p) => Ok(p["generation"].as_i64().unwrap_or_default()),
                Err(_) => Err(ClientError::Conflict(msg)),
            },
            Err(e) => Err(e),
        }
    }

    pub async fn delete_provider(&self, uuid: &str) -> Result<(), ClientError> {
        match self.call(Method::DELETE, &format!("/resource_providers/{uuid}"), &[], None, &[]).await {
            Ok(_) | Err(ClientError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Replaces the provider's inventory (only when it differs), retrying on generation races.
    pub async fn set_inventory(
        &self,
        uuid: &str,
        inventory: &BTreeMap<String, Inventory>,
    ) -> Result<(), ClientError> {
        let path = format!("/resource_providers/{uuid}/inventories");
        let mut last = None;
        for _ in 0..GENERATION_RETRIES {
            let current = self.get(&path).await?;
            let generation = current["resource_provider_generation"].as_i64().unwrap_or_default();
            let have: BTreeMap<String, Inventory> =
                serde_json::from_value(current["inventories"].clone()).unwrap_or_default();
            if &have == inventory {
                return Ok(());
            }
            let body = json!({"resource_provider_generation": generation, "inventories": inventory});
            match self.call(Method::PUT, &path, &[], Some(&body), &[]).await {
                Ok(_) => return Ok(()),
                Err(ClientError::Conflict(msg))
                    if msg.contains("generation") || msg.contains("concurrently") =>
                {
                    last = Some(ClientError::Conflict(msg));
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| ClientError::Conflict("inventory kept changing".into())))
    }

    /// Replaces the provider's traits; custom ones (`CUSTOM_*`) are created first.
    pub async fn set_traits(&self, uuid: &str, traits: &[String]) -> Result<(), ClientError> {
        for t in traits.iter().filter(|t| t.starts_with("CUSTOM_")) {
            self.call(Method::PUT, &format!("/traits/{t}"), &[], None, &[]).await?;
        }
        let mut want: Vec<String> = traits.to_vec();
        want.sort();
        want.dedup();
        self.set_list(uuid, "traits", want).await
    }

    /// Replaces the provider's aggregates.
    pub async fn set_aggregates(&self, uuid: &str, aggregates: &[String]) -> Result<(), ClientError> {
        let mut want: Vec<String> = aggregates.to_vec();
        want.sort();
        want.dedup();
        self.set_list(uuid, "aggregates", want).await
    }

    async fn set_list(&self, uuid: &str, what: &str, want: Vec<String>) -> Result<(), ClientError> {
        let path = format!("/resource_providers/{uuid}/{what}");
        let mut last = None;
        for _ in 0..GENERATION_RETRIES {
            let current = self.get(&path).await?;
            let generation = current["resource_provider_generation"].as_i64().unwrap_or_default();
            let mut have: Vec<String> = serde_json::from_value(current[what].clone()).unwrap_or_default();
            have.sort();
            if have == want {
                return Ok(());
            }
            let body = json!({"resource_provider_generation": generation, what: want});
            match self.call(Method::PUT, &path, &[], Some(&body), &[]).await {
                Ok(_) => return Ok(()),
                Err(ClientError::Conflict(msg)) => last = Some(ClientError::Conflict(msg)),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| ClientError::Conflict(format!("{what} kept changing"))))
    }

    /// Runs `f` over the allocation candidates for `q`, read in place (see [`CandidateView`]).
    pub async fn with_allocation_candidates<R>(
        &self,
        q: &CandidateQuery,
        f: impl FnOnce(&dyn CandidateView) -> R,
    ) -> Result<R, ClientError> {
        if let Some(svc) = &self.local {
            return local::with_candidates(svc, candidate_params(q), f).await;
        }
        let candidates = self.allocation_candidates(q).await?;
        Ok(f(&candidates))
    }

    pub async fn allocation_candidates(&self, q: &CandidateQuery) -> Result<Candidates, ClientError> {
        let query = candidate_params(q);
        if let Some(svc) = &self.local {
            return local::allocation_candidates(svc, query).await;
        }
        // Typed straight from the text: the answer is large (about 0.5 MB for 1,000 hosts).
        #[derive(Deserialize)]
        struct Body {
            #[serde(default)]
            allocation_requests: Vec<Request>,
            #[serde(default)]
            provider_summaries: HashMap<String, ProviderSummary>,
        }
        #[derive(Deserialize)]
        struct Request {
            allocations: BTreeMap<String, Resources>,
        }
        #[derive(Deserialize)]
        struct Resources {
            resources: BTreeMap<String, u64>,
        }
        let (_, text) = self.send(Method::GET, "/allocation_candidates", &query, None, &[]).await?;
        let body: Body = serde_json::from_str(&text)
            .map_err(|e| ClientError::Transport(format!("unreadable allocation candidates: {e}")))?;
        Ok(Candidates {
            allocation_requests: body
                .allocation_requests
                .into_iter()
                .map(|r| AllocationRequest {
                    allocations: r.allocations.into_iter().map(|(rp, a)| (rp, a.resources)).collect(),
                })
                .collect(),
            provider_summaries: body.provider_summaries,
        })
    }

    /// `PUT /allocations/{consumer}`: claims (or replaces) the consumer's allocations.
    /// `consumer_generation` is None for a new consumer.
    pub async fn claim(
        &self,
        consumer: &str,
        allocations: &Allocations,
        project_id: &str,
        user_id: &str,
        consumer_generation: Option<i64>,
    ) -> Result<(), ClientError> {
        let body = consumer_body(allocations, project_id, user_id, consumer_generation, CONSUMER_TYPE);
        if let Some(svc) = &self.local {
            return local::put_allocations(svc, consumer, body).await;
        }
        self.call(Method::PUT, &format!("/allocations/{consumer}"), &[], Some(&body), &[]).await?;
        Ok(())
    }

    /// A consumer's allocations and generation (None when it has none).
    pub async fn allocations(&self, consumer: &str) -> Result<(Allocations, Option<i64>), ClientError> {
        let body = self.get(&format!("/allocations/{consumer}")).await?;
        Ok((parse_allocations(&body["allocations"]), body["consumer_generation"].as_i64()))
    }

    /// Removes a consumer's allocations; none is fine.
    pub async fn delete_allocations(&self, consumer: &str) -> Result<(), ClientError> {
        let done = match &self.local {
            Some(svc) => local::delete_allocations(svc, consumer).await,
            None => self
                .call(Method::DELETE, &format!("/allocations/{consumer}"), &[], None, &[])
                .await
                .map(|_| ()),
        };
        match done {
            Ok(_) | Err(ClientError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `POST /allocations`: several consumers at once, all or nothing (how migrations move
    /// allocations between consumers).
    pub async fn move_allocations(&self, consumers: &[ConsumerAllocations]) -> Result<(), ClientError> {
        let mut body = serde_json::Map::new();
        for c in consumers {
            let b = consumer_body(&c.allocations, &c.project_id, &c.user_id, c.generation, c.consumer_type);
            body.insert(c.consumer.clone(), b);
        }
        self.call(Method::POST, "/allocations", &[], Some(&Value::Object(body)), &[]).await?;
        Ok(())
    }

    /// Resource class → amount allocated against the provider.
    pub async fn provider_usages(&self, uuid: &str) -> Result<BTreeMap<String, u64>, ClientError> {
        let body = self.get(&format!("/resource_providers/{uuid}/usages")).await?;
        Ok(serde_json::from_value(body["usages"].clone()).unwrap_or_default())
    }

    /// Resource class → amount allocated to the project's consumers (of every type).
    pub async fn project_usages(&self, project_id: &str) -> Result<BTreeMap<String, u64>, ClientError> {
        let query =
            [("project_id".to_string(), project_id.to_string()), ("consumer_type".into(), "all".into())];
        let body = self.call(Method::GET, "/usages", &query, None, &[]).await?.body;
        let mut out = BTreeMap::new();
        for (_, group) in body["usages"].as_object().into_iter().flatten() {
            for (rc, n) in group.as_object().into_iter().flatten() {
                if rc != "consumer_count" {
                    *out.entry(rc.clone()).or_default() += n.as_u64().unwrap_or_default();
                }
            }
        }
        Ok(out)
    }
}

/// The query string of `GET /allocation_candidates` for `q`.
fn candidate_params(q: &CandidateQuery) -> Vec<(String, String)> {
    let mut query: Vec<(String, String)> = Vec::new();
    let resources: Vec<String> = q.resources.iter().map(|(rc, n)| format!("{rc}:{n}")).collect();
    query.push(("resources".into(), resources.join(",")));
    let traits: Vec<String> =
        q.required.iter().cloned().chain(q.forbidden.iter().map(|t| format!("!{t}"))).collect();
    if !traits.is_empty() {
        query.push(("required".into(), traits.join(",")));
    }
    for any in &q.member_of {
        let value = if any.len() == 1 { any[0].clone() } else { format!("in:{}", any.join(",")) };
        query.push(("member_of".into(), value));
    }
    if let Some(t) = &q.in_tree {
        query.push(("in_tree".into(), t.clone()));
    }
    if let Some(l) = q.limit {
        query.push(("limit".into(), l.to_string()));
    }
    query
}

fn consumer_body(
    allocations: &Allocations,
    project_id: &str,
    user_id: &str,
    generation: Option<i64>,
    consumer_type: &str,
) -> Value {
    let allocs: serde_json::Map<String, Value> =
        allocations.iter().map(|(rp, res)| (rp.clone(), json!({"resources": res}))).collect();
    json!({
        "allocations": allocs,
        "project_id": project_id,
        "user_id": user_id,
        "consumer_generation": generation,
        "consumer_type": consumer_type,
    })
}

fn parse_allocations(v: &Value) -> Allocations {
    let mut out = Allocations::new();
    for (rp, a) in v.as_object().into_iter().flatten() {
        let resources: BTreeMap<String, u64> =
            serde_json::from_value(a["resources"].clone()).unwrap_or_default();
        out.insert(rp.clone(), resources);
    }
    out
}
