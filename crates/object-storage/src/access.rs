//! Who may do what, as swift's keystoneauth decides it. An account is `AUTH_<project id>`;
//! a caller with an operator role (`admin`, `member`) on that project owns it, a reader role
//! only reads it, a reseller-admin role (`admin`) acts on every account. Anyone else gets in
//! only through a container's ACLs (project:user grants, referrers for anonymous reads), or
//! a TempURL (checked before this).

use std::sync::Arc;

use stratus_core::auth::AuthContext;
use stratus_core::config::ObjectStorageConfig;

use crate::acl::Acl;
use crate::error::{forbidden, unauthorized, SwiftError};

pub const RESELLER_PREFIX: &str = "AUTH_";

/// The caller of a request.
#[derive(Debug, Clone)]
pub enum Caller {
    Anonymous {
        referer: Option<String>,
    },
    User {
        ctx: Arc<AuthContext>,
        referer: Option<String>,
    },
    /// An anonymous request with a valid TempURL for `object` (a name prefix when `prefix`)
    /// in `/account/container`, signed with an account key (`account_key`) or a container key.
    TempUrl {
        account: String,
        container: String,
        object: String,
        prefix: bool,
        account_key: bool,
    },
}

impl Caller {
    pub fn ctx(&self) -> Option<&AuthContext> {
        match self {
            Caller::User { ctx, .. } => Some(ctx),
            Caller::Anonymous { .. } | Caller::TempUrl { .. } => None,
        }
    }

    fn referer(&self) -> Option<&str> {
        match self {
            Caller::Anonymous { referer } | Caller::User { referer, .. } => referer.as_deref(),
            Caller::TempUrl { .. } => None,
        }
    }
}

/// What a request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// HEAD/GET of an account.
    ReadAccount,
    /// POST to an account, bulk operations.
    WriteAccount,
    /// HEAD/GET (listing) of a container.
    ReadContainer,
    /// PUT/POST/DELETE of a container.
    WriteContainer,
    /// HEAD/GET of an object.
    ReadObject,
    /// PUT/POST/DELETE/COPY of an object.
    WriteObject,
}

impl Action {
    fn is_read(self) -> bool {
        matches!(self, Action::ReadAccount | Action::ReadContainer | Action::ReadObject)
    }
}

/// The caller's standing on one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    ResellerAdmin,
    Owner,
    Reader,
    Other,
}

pub struct Access {
    operator_roles: Vec<String>,
    reader_roles: Vec<String>,
    reseller_roles: Vec<String>,
}

fn roles(list: &str) -> Vec<String> {
    list.split(',').map(|r| r.trim().to_ascii_lowercase()).filter(|r| !r.is_empty()).collect()
}

/// The account of a project.
pub fn account_of(project_id: &str) -> String {
    format!("{RESELLER_PREFIX}{project_id}")
}

impl Access {
    pub fn new(config: &ObjectStorageConfig) -> Access {
        Access {
            operator_roles: roles(&config.operator_roles),
            reader_roles: roles(&config.reader_roles),
            reseller_roles: roles(&config.reseller_admin_roles),
        }
    }

    fn has_any(ctx: &AuthContext, roles: &[String]) -> bool {
        roles.iter().any(|r| ctx.has_role(r))
    }

    /// Does a TempURL caller cover this object? `object` is `None` for the segments a signed
    /// large object reads: anywhere in the account with an account key, in the signed
    /// container with a container key (as swift).
    pub fn temp_url_covers(
        caller: &Caller,
        account: &str,
        container: &str,
        object: Option<&str>,
        action: Action,
    ) -> Option<bool> {
        let Caller::TempUrl { account: a, container: c, object: o, prefix, account_key } = caller else {
            return None;
        };
        Some(
            a == account
                && match object {
                    Some(object) => {
                        c == container && if *prefix { object.starts_with(o.as_str()) } else { o == object }
                    }
                    None => action == Action::ReadObject && (*account_key || c == container),
                },
        )
    }

    pub fn standing(&self, caller: &Caller, account: &str) -> Standing {
        let Some(ctx) = caller.ctx() else { return Standing::Other };
        if Self::has_any(ctx, &self.reseller_roles) && (ctx.is_admin_project || ctx.system.is_some()) {
            return Standing::ResellerAdmin;
        }
        let own = ctx.project_id().is_some_and(|p| account == account_of(p));
        if own && Self::has_any(ctx, &self.operator_roles) {
            Standing::Owner
        } else if own && Self::has_any(ctx, &self.reader_roles) {
            Standing::Reader
        } else {
            Standing::Other
        }
    }

    /// May `caller` do `action` on `account` (and the container whose ACLs are given)?
    pub fn authorize(
        &self,
        caller: &Caller,
        account: &str,
        action: Action,
        read_acl: Option<&str>,
        write_acl: Option<&str>,
    ) -> Result<Standing, SwiftError> {
        let standing = self.standing(caller, account);
        match standing {
            Standing::ResellerAdmin | Standing::Owner => return Ok(standing),
            Standing::Reader if action.is_read() => return Ok(standing),
            _ => {}
        }
        let acl = match action {
            Action::ReadContainer | Action::ReadObject => read_acl.map(Acl::parse),
            Action::WriteObject => write_acl.map(Acl::parse),
            _ => None,
        };
        if let Some(acl) = acl {
            if caller.ctx().is_some_and(|ctx| acl.grants(ctx)) {
                return Ok(standing);
            }
            let listing_ok = action != Action::ReadContainer || acl.listings;
            if action.is_read() && listing_ok && acl.referrer_allows(caller.referer()) {
                return Ok(standing);
            }
        }
        Err(match caller {
            Caller::Anonymous { .. } | Caller::TempUrl { .. } => unauthorized(),
            Caller::User { .. } => forbidden(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use stratus_core::auth::NamedRef;

    fn user(project: &str, user: &str, roles: &[&str], admin_project: bool) -> Caller {
        let r = |id: &str| NamedRef { id: id.into(), name: id.into() };
        Caller::User {
            ctx: Arc::new(AuthContext {
                user: r(user),
                user_domain: r("default"),
                project: Some(r(project)),
                project_domain: Some(r("default")),
                domain: None,
                system: None,
                roles: roles.iter().map(|n| r(n)).collect(),
                methods: vec![],
                audit_ids: vec![],
                issued_at: Utc::now(),
                expires_at: Utc::now(),
                application_credential: None,
                is_admin_project: admin_project,
            }),
            referer: None,
        }
    }

    #[test]
    fn owners_readers_others_and_acls() {
        let a = Access::new(&ObjectStorageConfig::default());
        let member = user("pa", "alice", &["member", "reader"], false);
        let reader = user("pa", "rita", &["reader"], false);
        let other = user("pb", "bob", &["member", "reader"], false);
        let admin = user("admin", "root", &["admin", "member", "reader"], true);
        let anon = Caller::Anonymous { referer: None };
        let acct = "AUTH_pa";
        assert_eq!(a.authorize(&member, acct, Action::WriteObject, None, None).unwrap(), Standing::Owner);
        assert!(a.authorize(&reader, acct, Action::ReadObject, None, None).is_ok());
        assert_eq!(a.authorize(&reader, acct, Action::WriteObject, None, None).unwrap_err().status, 403);
        assert_eq!(a.authorize(&other, acct, Action::ReadAccount, None, None).unwrap_err().status, 403);
        assert_eq!(a.authorize(&anon, acct, Action::ReadObject, None, None).unwrap_err().status, 401);
        assert_eq!(
            a.authorize(&admin, acct, Action::WriteContainer, None, None).unwrap(),
            Standing::ResellerAdmin
        );
        // A member's admin role on its own, non-admin project is not reseller admin.
        let proj_admin = user("pb", "carol", &["admin", "member"], false);
        assert_eq!(a.authorize(&proj_admin, acct, Action::ReadAccount, None, None).unwrap_err().status, 403);

        assert!(a.authorize(&other, acct, Action::ReadObject, Some("pb:bob"), None).is_ok());
        assert!(a.authorize(&other, acct, Action::ReadObject, Some("pb:*"), None).is_ok());
        assert!(a.authorize(&other, acct, Action::WriteObject, Some("pb:*"), None).is_err());
        assert!(a.authorize(&other, acct, Action::WriteObject, None, Some("*:bob")).is_ok());
        assert!(a.authorize(&other, acct, Action::WriteContainer, None, Some("*:bob")).is_err());
        assert!(a.authorize(&anon, acct, Action::ReadObject, Some(".r:*"), None).is_ok());
        assert!(a.authorize(&anon, acct, Action::ReadContainer, Some(".r:*"), None).is_err());
        assert!(a.authorize(&anon, acct, Action::ReadContainer, Some(".r:*,.rlistings"), None).is_ok());
        assert!(a.authorize(&anon, acct, Action::WriteObject, Some(".r:*"), None).is_err());
    }
}
