//! How one service calls another: with a token of its own service user, obtained from the
//! identity API over REST (as keystonemiddleware / keystoneauth do), cached until shortly
//! before it expires.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::Mutex;

use crate::auth::BoxFuture;

/// Something that hands out a token to put in `X-Auth-Token`.
pub trait TokenSource: Send + Sync + 'static {
    fn token(&self) -> BoxFuture<'_, anyhow::Result<String>>;
    /// The last token was refused (401): get a new one next time.
    fn invalidate(&self);
}

pub type SharedTokenSource = Arc<dyn TokenSource>;

/// The password credentials of a service user (`nova`, `placement` …), project-scoped.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServiceCredentials {
    /// Identity endpoint, e.g. `http://controller:5000/v3`.
    pub auth_url: String,
    pub username: String,
    pub password: String,
    pub project_name: String,
    #[serde(default = "default_domain")]
    pub user_domain_id: String,
    #[serde(default = "default_domain")]
    pub project_domain_id: String,
}

fn default_domain() -> String {
    "default".into()
}

/// A [`TokenSource`] that authenticates with a password over the identity REST API.
pub struct PasswordAuth {
    credentials: ServiceCredentials,
    http: reqwest::Client,
    cached: Mutex<Option<(String, DateTime<Utc>)>>,
}

impl PasswordAuth {
    pub fn new(credentials: ServiceCredentials) -> Arc<PasswordAuth> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("http client");
        Arc::new(PasswordAuth { credentials, http, cached: Mutex::new(None) })
    }

    async fn issue(&self) -> anyhow::Result<(String, DateTime<Utc>)> {
        let c = &self.credentials;
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": c.username, "domain": {"id": c.user_domain_id}, "password": c.password}}},
            "scope": {"project": {"name": c.project_name, "domain": {"id": c.project_domain_id}}},
        }});
        let url = format!("{}/auth/tokens?nocatalog", c.auth_url.trim_end_matches('/'));
        let resp = self
            .http
            .post(&url)
            .json(&body)
            .send()
            .await
            .with_context(|| format!("service user {}: cannot reach identity at {url}", c.username))?;
        let status = resp.status();
        if !status.is_success() {
            let text = resp.text().await.unwrap_or_default();
            bail!("service user {}: identity answered {status}: {text}", c.username);
        }
        let token = resp
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .context("identity answered without X-Subject-Token")?
            .to_string();
        #[derive(Deserialize)]
        struct Body {
            token: Inner,
        }
        #[derive(Deserialize)]
        struct Inner {
            expires_at: String,
        }
        let body: Body = resp.json().await.context("reading the token body")?;
        let expires = crate::input::parse_iso_time(&body.token.expires_at)
            .context("the token's expires_at is not a time")?;
        Ok((token, expires))
    }
}

impl TokenSource for PasswordAuth {
    fn token(&self) -> BoxFuture<'_, anyhow::Result<String>> {
        Box::pin(async move {
            let mut cached = self.cached.lock().await;
            if let Some((token, expires)) = cached.as_ref() {
                // Renew a while before expiry, so a token never dies in flight.
                if *expires - chrono::Duration::seconds(120) > Utc::now() {
                    return Ok(token.clone());
                }
            }
            let fresh = self.issue().await?;
            let token = fresh.0.clone();
            *cached = Some(fresh);
            Ok(token)
        })
    }

    fn invalidate(&self) {
        if let Ok(mut cached) = self.cached.try_lock() {
            *cached = None;
        }
    }
}

/// A fixed token (tests, and tools given a token by their operator).
pub struct StaticToken(pub String);

impl TokenSource for StaticToken {
    fn token(&self) -> BoxFuture<'_, anyhow::Result<String>> {
        let token = self.0.clone();
        Box::pin(async move { Ok(token) })
    }

    fn invalidate(&self) {}
}
