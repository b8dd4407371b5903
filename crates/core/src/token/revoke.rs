//! Keystone-style token revocation events (keystone `models/revoke_model.py` and the query in
//! `revoke/backends/sql.py`).
//!
//! An event revokes every token that was issued no later than its `issued_before` and that
//! matches every attribute the event sets:
//!
//! | event field       | matches when                                                       |
//! |-------------------|--------------------------------------------------------------------|
//! | `user_id`         | the token's user                                                   |
//! | `project_id`      | the token is scoped to that project                                |
//! | `audit_id`        | the token's own audit id (the first): revokes one token            |
//! | `audit_chain_id`  | the chain's original audit id (the last): a token and its rescopes |
//! | `domain_id`       | the user's domain, the project's domain, or the domain scope       |
//! | `domain_scope_id` | the token is scoped to that domain                                 |
//! | `role_id`         | the token carries that role                                        |
//! | `expires_at`      | the token's expiry, compared to the second                         |
//! | `trust_id`, `consumer_id`, `access_token_id` | never: Stratus tokens carry no trust or OAuth1 |
//!
//! This is a pure in-memory structure: the identity service persists events and feeds them in
//! with [`RevocationList::add`] / [`RevocationList::replace_all`].

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ValidatedToken;

/// One revocation, keystone's `revocation_event` row (plus `domain_scope_id`, which keystone
/// derives on load).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// All tokens of users or projects in this domain, and tokens scoped to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<String>,
    /// Only tokens scoped to this domain. Keystone stores it as `domain_id` together with
    /// `expires_at`; [`RevokeEvent::normalized`] turns that form into this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_scope_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_chain_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Tokens issued at or before this instant are revoked.
    pub issued_before: DateTime<Utc>,
    pub revoked_at: DateTime<Utc>,
}

/// What a token's payload does not say but events may match on. Leave out what is unknown:
/// an event that needs a missing value does not match.
#[derive(Clone, Copy, Debug, Default)]
pub struct RevocationContext<'a> {
    /// The domain of the token's user.
    pub user_domain_id: Option<&'a str>,
    /// The domain of the project a project-scoped token is scoped to.
    pub project_domain_id: Option<&'a str>,
    /// The ids of the roles the token carries.
    pub role_ids: &'a [String],
}

impl RevokeEvent {
    /// An event that matches every token issued up to `revoked_at` until fields are set.
    /// Like keystone, the time is kept to the second.
    pub fn new(revoked_at: DateTime<Utc>) -> Self {
        let revoked_at = whole_second(revoked_at);
        Self {
            user_id: None,
            project_id: None,
            domain_id: None,
            domain_scope_id: None,
            role_id: None,
            trust_id: None,
            consumer_id: None,
            access_token_id: None,
            audit_id: None,
            audit_chain_id: None,
            expires_at: None,
            issued_before: revoked_at,
            revoked_at,
        }
    }

    /// Revoke one token (`DELETE /v3/auth/tokens`).
    pub fn for_audit_id(audit_id: impl Into<String>, revoked_at: DateTime<Utc>) -> Self {
        Self { audit_id: Some(audit_id.into()), ..Self::new(revoked_at) }
    }

    /// Revoke a token and every token rescoped from it.
    pub fn for_audit_chain(audit_chain_id: impl Into<String>, revoked_at: DateTime<Utc>) -> Self {
        Self { audit_chain_id: Some(audit_chain_id.into()), ..Self::new(revoked_at) }
    }

    /// Revoke all of a user's tokens (password change, user disabled or deleted).
    pub fn for_user(user_id: impl Into<String>, revoked_at: DateTime<Utc>) -> Self {
        Self { user_id: Some(user_id.into()), ..Self::new(revoked_at) }
    }

    /// Revoke all tokens scoped to a project (project disabled or deleted).
    pub fn for_project(project_id: impl Into<String>, revoked_at: DateTime<Utc>) -> Self {
        Self { project_id: Some(project_id.into()), ..Self::new(revoked_at) }
    }

    /// Revoke a user's tokens on one project (role assignment removed).
    pub fn for_user_on_project(
        user_id: impl Into<String>,
        project_id: impl Into<String>,
        revoked_at: DateTime<Utc>,
    ) -> Self {
        Self { user_id: Some(user_id.into()), project_id: Some(project_id.into()), ..Self::new(revoked_at) }
    }

    /// Keystone's normal form: `domain_id` with `expires_at` means a domain-scoped token
    /// (`domain_scope_id`), and `expires_at` is kept to the second.
    pub fn normalized(mut self) -> Self {
        if self.expires_at.is_some() && self.domain_scope_id.is_none() {
            if let Some(domain_id) = self.domain_id.take() {
                self.domain_scope_id = Some(domain_id);
            }
        }
        self.expires_at = self.expires_at.map(whole_second);
        self
    }

    /// Whether this event revokes `token`.
    pub fn matches(&self, token: &ValidatedToken, context: &RevocationContext<'_>) -> bool {
        let payload = &token.payload;
        if token.issued_at > self.issued_before {
            return false;
        }
        let assignment_domain_id =
            payload.domain_id().or(payload.project_id().and(context.project_domain_id));
        field_matches(&self.user_id, Some(&payload.user_id))
            && field_matches(&self.project_id, payload.project_id())
            && field_matches(&self.audit_id, payload.audit_id())
            && field_matches(&self.audit_chain_id, payload.audit_chain_id())
            && field_matches(&self.domain_scope_id, payload.domain_id())
            && self.domain_id.as_deref().is_none_or(|domain| {
                context.user_domain_id == Some(domain) || assignment_domain_id == Some(domain)
            })
            && self.role_id.as_deref().is_none_or(|role| context.role_ids.iter().any(|r| r == role))
            && self.expires_at.is_none_or(|at| whole_second(at) == whole_second(payload.expires_at))
            && self.trust_id.is_none()
            && self.consumer_id.is_none()
            && self.access_token_id.is_none()
    }
}

fn field_matches(event: &Option<String>, token: Option<&str>) -> bool {
    match event {
        None => true,
        Some(value) => token == Some(value.as_str()),
    }
}

fn whole_second(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(at.timestamp(), 0).unwrap_or(at)
}

/// The revocation events in force, shared by request handlers.
#[derive(Debug, Default)]
pub struct RevocationList {
    events: RwLock<Vec<RevokeEvent>>,
}

impl RevocationList {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add an event (normalized; an identical event already present is not added twice).
    pub fn add(&self, event: RevokeEvent) {
        let event = event.normalized();
        let mut events = self.write();
        if !events.contains(&event) {
            events.push(event);
        }
    }

    /// Replace every event, e.g. after reloading them from the database.
    pub fn replace_all(&self, events: impl IntoIterator<Item = RevokeEvent>) {
        let events: Vec<RevokeEvent> = events.into_iter().map(RevokeEvent::normalized).collect();
        *self.write() = events;
    }

    /// Whether any event revokes `token`.
    pub fn is_revoked(&self, token: &ValidatedToken, context: &RevocationContext<'_>) -> bool {
        self.read().iter().any(|e| e.matches(token, context))
    }

    /// Drop the events revoked before `older_than`, returning how many were dropped. Keystone
    /// keeps an event for the token lifetime plus its `expiration_buffer`: pass
    /// `now - (token lifetime + how long expired tokens may still be used)`.
    pub fn prune(&self, older_than: DateTime<Utc>) -> usize {
        let mut events = self.write();
        let before = events.len();
        events.retain(|e| e.revoked_at >= older_than);
        before - events.len()
    }

    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// A copy of the events, in insertion order.
    pub fn events(&self) -> Vec<RevokeEvent> {
        self.read().clone()
    }

    /// The newest `revoked_at`, to fetch only later events from storage.
    pub fn latest_revoked_at(&self) -> Option<DateTime<Utc>> {
        self.read().iter().map(|e| e.revoked_at).max()
    }

    fn read(&self) -> RwLockReadGuard<'_, Vec<RevokeEvent>> {
        self.events.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Vec<RevokeEvent>> {
        self.events.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::{Scope, TokenPayload};
    use chrono::{Duration, TimeZone};

    const USER: &str = "u1";
    const PROJECT: &str = "p1";

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap()
    }

    fn token(scope: Scope, audit_ids: &[&str], issued_at: DateTime<Utc>) -> ValidatedToken {
        ValidatedToken {
            payload: TokenPayload {
                user_id: USER.into(),
                methods: vec!["password".into()],
                scope,
                expires_at: issued_at + Duration::hours(1) + Duration::microseconds(250),
                audit_ids: audit_ids.iter().map(|s| s.to_string()).collect(),
                app_cred_id: None,
            },
            issued_at,
        }
    }

    fn none() -> RevocationContext<'static> {
        RevocationContext::default()
    }

    #[test]
    fn by_audit_id_revokes_only_that_token() {
        let list = RevocationList::new();
        let parent = token(Scope::Unscoped, &["A"], t0());
        let child = token(Scope::Project(PROJECT.into()), &["B", "A"], t0());
        let other = token(Scope::Unscoped, &["C"], t0());
        list.add(RevokeEvent::for_audit_id("A", t0()));
        assert!(list.is_revoked(&parent, &none()));
        assert!(!list.is_revoked(&child, &none()), "a rescoped token has its own audit id");
        assert!(!list.is_revoked(&other, &none()));
        list.add(RevokeEvent::for_audit_id("B", t0()));
        assert!(list.is_revoked(&child, &none()));
    }

    #[test]
    fn by_audit_chain_revokes_the_original_and_its_rescopes() {
        let list = RevocationList::new();
        list.add(RevokeEvent::for_audit_chain("A", t0()));
        assert!(list.is_revoked(&token(Scope::Unscoped, &["A"], t0()), &none()));
        assert!(list.is_revoked(&token(Scope::Project(PROJECT.into()), &["B", "A"], t0()), &none()));
        assert!(!list.is_revoked(&token(Scope::Project(PROJECT.into()), &["A", "Z"], t0()), &none()));
    }

    #[test]
    fn by_user_and_by_user_on_project() {
        let list = RevocationList::new();
        let on_p1 = token(Scope::Project(PROJECT.into()), &["A"], t0());
        let on_p2 = token(Scope::Project("p2".into()), &["B"], t0());
        let unscoped = token(Scope::Unscoped, &["C"], t0());
        let mut someone_else = on_p1.clone();
        someone_else.payload.user_id = "u2".into();

        list.add(RevokeEvent::for_user_on_project(USER, PROJECT, t0()));
        assert!(list.is_revoked(&on_p1, &none()));
        assert!(!list.is_revoked(&on_p2, &none()));
        assert!(!list.is_revoked(&unscoped, &none()));
        assert!(!list.is_revoked(&someone_else, &none()));

        list.add(RevokeEvent::for_user(USER, t0()));
        assert!(list.is_revoked(&on_p2, &none()));
        assert!(list.is_revoked(&unscoped, &none()));
        assert!(!list.is_revoked(&someone_else, &none()));

        list.replace_all([RevokeEvent::for_project(PROJECT, t0())]);
        assert!(list.is_revoked(&someone_else, &none()));
        assert!(!list.is_revoked(&on_p2, &none()));
    }

    #[test]
    fn issued_before_boundary() {
        let list = RevocationList::new();
        // Revoked at 12:00:00.7: kept to the second, like keystone.
        list.add(RevokeEvent::for_user(USER, t0() + Duration::milliseconds(700)));
        let at = |secs: i64| token(Scope::Unscoped, &["A"], t0() + Duration::seconds(secs));
        assert!(list.is_revoked(&at(-3600), &none()));
        assert!(list.is_revoked(&at(-1), &none()));
        assert!(list.is_revoked(&at(0), &none()), "issued_at == issued_before");
        assert!(!list.is_revoked(&at(1), &none()));

        let mut event = RevokeEvent::for_user(USER, t0());
        event.issued_before = t0() - Duration::seconds(10);
        list.replace_all([event]);
        assert!(list.is_revoked(&at(-10), &none()));
        assert!(!list.is_revoked(&at(-9), &none()));
    }

    #[test]
    fn domain_role_and_expiry_need_their_context() {
        let project_token = token(Scope::Project(PROJECT.into()), &["A"], t0());
        let domain_token = token(Scope::Domain("d1".into()), &["B"], t0());
        let roles = vec!["r1".to_string(), "r2".to_string()];

        let by_domain = RevokeEvent { domain_id: Some("d1".into()), ..RevokeEvent::new(t0()) };
        assert!(!by_domain.matches(&project_token, &none()));
        let user_in_d1 = RevocationContext { user_domain_id: Some("d1"), ..none() };
        assert!(by_domain.matches(&project_token, &user_in_d1));
        let project_in_d1 = RevocationContext { project_domain_id: Some("d1"), ..none() };
        assert!(by_domain.matches(&project_token, &project_in_d1));
        assert!(by_domain.matches(&domain_token, &none()));

        // keystone's domain_id + expires_at form means "tokens scoped to the domain".
        let scoped = RevokeEvent {
            domain_id: Some("d1".into()),
            expires_at: Some(domain_token.payload.expires_at),
            ..RevokeEvent::new(t0())
        }
        .normalized();
        assert_eq!(scoped.domain_id, None);
        assert_eq!(scoped.domain_scope_id.as_deref(), Some("d1"));
        assert!(scoped.matches(&domain_token, &none()));
        assert!(!scoped.matches(&project_token, &project_in_d1));
        let mut other_expiry = domain_token.clone();
        other_expiry.payload.expires_at += Duration::seconds(1);
        assert!(!scoped.matches(&other_expiry, &none()));

        let by_role = RevokeEvent { role_id: Some("r2".into()), ..RevokeEvent::new(t0()) };
        assert!(!by_role.matches(&project_token, &none()));
        let with_roles = RevocationContext { role_ids: &roles, ..none() };
        assert!(by_role.matches(&project_token, &with_roles));

        for event in [
            RevokeEvent { trust_id: Some("t".into()), ..RevokeEvent::new(t0()) },
            RevokeEvent { consumer_id: Some("c".into()), ..RevokeEvent::new(t0()) },
        ] {
            assert!(!event.matches(&project_token, &with_roles));
        }
    }

    #[test]
    fn prune_dedup_and_serde() {
        let list = RevocationList::new();
        list.add(RevokeEvent::for_user(USER, t0() - Duration::hours(3)));
        list.add(RevokeEvent::for_user(USER, t0() - Duration::hours(3)));
        list.add(RevokeEvent::for_audit_id("A", t0()));
        assert_eq!(list.len(), 2);
        assert_eq!(list.latest_revoked_at(), Some(t0()));
        assert_eq!(list.prune(t0() - Duration::hours(2)), 1);
        assert_eq!(list.events(), vec![RevokeEvent::for_audit_id("A", t0())]);
        assert_eq!(list.prune(t0() + Duration::seconds(1)), 1);
        assert!(list.is_empty());

        let event = RevokeEvent::for_user_on_project(USER, PROJECT, t0());
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "user_id": USER,
                "project_id": PROJECT,
                "issued_before": "2030-01-01T12:00:00Z",
                "revoked_at": "2030-01-01T12:00:00Z",
            })
        );
        let back: RevokeEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }
}
