//! Container ACLs (`X-Container-Read`, `X-Container-Write`) as swift's keystoneauth reads
//! them: comma-separated `<project>:<user>` grants (ids or names, `*` for any), and on reads
//! the referrer rules `.r:*`, `.r:example.com`, `.r:.example.com`, `.r:-bad.example.com`
//! and `.rlistings` (anonymous container listing).

use stratus_core::auth::AuthContext;

/// A parsed ACL header.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Acl {
    /// `(project, user)` grants.
    pub grants: Vec<(String, String)>,
    /// `(allowed, host pattern)` referrer rules, in order.
    pub referrers: Vec<(bool, String)>,
    pub listings: bool,
}

impl Acl {
    pub fn parse(header: &str) -> Acl {
        let mut acl = Acl::default();
        for item in header.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if let Some(r) = item.strip_prefix(".r:").or_else(|| item.strip_prefix(".referrer:")) {
                match r.strip_prefix('-') {
                    Some(neg) => acl.referrers.push((false, neg.to_string())),
                    None => acl.referrers.push((true, r.to_string())),
                }
            } else if item == ".rlistings" {
                acl.listings = true;
            } else if let Some((project, user)) = item.split_once(':') {
                acl.grants.push((project.to_string(), user.to_string()));
            } else {
                // keystoneauth: a bare project grants every user of it.
                acl.grants.push((item.to_string(), "*".to_string()));
            }
        }
        acl
    }

    /// Does a `<project>:<user>` grant name this caller?
    pub fn grants(&self, ctx: &AuthContext) -> bool {
        let Some(project) = &ctx.project else { return false };
        self.grants.iter().any(|(p, u)| {
            let project_ok = p == "*" || *p == project.id || *p == project.name;
            let user_ok = u == "*" || *u == ctx.user.id || *u == ctx.user.name;
            project_ok && user_ok
        })
    }

    /// Does a referrer rule let a request with this `Referer` in?
    pub fn referrer_allows(&self, referer: Option<&str>) -> bool {
        let host = referer.map(referrer_host).unwrap_or_default();
        let mut allowed = false;
        for (allow, pattern) in &self.referrers {
            let matches = pattern == "*"
                || (!host.is_empty()
                    && if let Some(suffix) = pattern.strip_prefix('.') {
                        host.ends_with(&format!(".{suffix}")) || host == suffix
                    } else {
                        host == *pattern
                    });
            if matches {
                allowed = *allow;
            }
        }
        allowed
    }
}

fn referrer_host(referer: &str) -> String {
    let rest = referer.split_once("://").map(|(_, r)| r).unwrap_or(referer);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map(|(_, h)| h).unwrap_or(authority);
    host.split(':').next().unwrap_or("").to_ascii_lowercase()
}

/// Checks an ACL header value as swift does on POST/PUT: every item must parse.
pub fn validate(header: &str, write: bool) -> Result<(), String> {
    for item in header.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if item.starts_with(".r:") || item.starts_with(".referrer:") || item == ".rlistings" {
            if write {
                return Err(format!("Referrers not allowed in write ACL: {item:?}"));
            }
            continue;
        }
        if item.starts_with('.') {
            return Err(format!("Unknown ACL element {item:?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referrers() {
        let acl = Acl::parse(".r:*,.rlistings");
        assert!(acl.listings);
        assert!(acl.referrer_allows(None));
        let acl = Acl::parse(".r:.example.com,.r:-bad.example.com");
        assert!(acl.referrer_allows(Some("http://www.example.com/page")));
        assert!(!acl.referrer_allows(Some("https://bad.example.com/")));
        assert!(!acl.referrer_allows(Some("http://other.org/")));
        assert!(!acl.referrer_allows(None));
        assert!(validate(".r:*", true).is_err());
        assert!(validate("p:u,.r:*", false).is_ok());
        assert!(validate(".bogus", false).is_err());
    }

    #[test]
    fn grants() {
        let acl = Acl::parse("proj1:*, *:alice , proj2:bob");
        assert_eq!(acl.grants.len(), 3);
        assert!(acl.referrers.is_empty());
    }
}
