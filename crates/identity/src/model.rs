//! Identity's domain types. They know nothing of HTTP or SQL.

use serde_json::{Map, Value};

pub const DEFAULT_DOMAIN_ID: &str = "default";
pub const SYSTEM_ALL: &str = "all";

/// Attributes a client sent that keystone keeps verbatim (email, description of a user, …).
pub type Extra = Map<String, Value>;

#[derive(Debug, Clone, PartialEq)]
pub struct Domain {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub enabled: bool,
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    /// The parent project, or None for a top-level project (whose parent is its domain).
    pub parent_id: Option<String>,
    pub description: Option<String>,
    pub enabled: bool,
    pub tags: Vec<String>,
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub enabled: bool,
    pub default_project_id: Option<String>,
    pub password_hash: Option<String>,
    pub failed_auth_count: i64,
    pub last_failed_auth: Option<String>,
    /// `options` and any extra attributes (email, description, …).
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub description: Option<String>,
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    pub id: String,
    pub name: String,
    /// Domain-specific roles have one; global roles have None.
    pub domain_id: Option<String>,
    pub description: Option<String>,
    pub extra: Extra,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActorType {
    User,
    Group,
}

impl ActorType {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorType::User => "user",
            ActorType::Group => "group",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(ActorType::User),
            "group" => Some(ActorType::Group),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetType {
    Project,
    Domain,
    System,
}

impl TargetType {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetType::Project => "project",
            TargetType::Domain => "domain",
            TargetType::System => "system",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "project" => Some(TargetType::Project),
            "domain" => Some(TargetType::Domain),
            "system" => Some(TargetType::System),
            _ => None,
        }
    }
}

/// A role granted to a user or group on a project, a domain or the system.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Assignment {
    pub actor_type: ActorType,
    pub actor_id: String,
    pub target_type: TargetType,
    pub target_id: String,
    pub role_id: String,
    /// Inherited to the projects below the target (OS-INHERIT).
    pub inherited: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    pub id: String,
    pub description: String,
    pub parent_region_id: Option<String>,
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub id: String,
    pub service_type: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: bool,
    pub extra: Extra,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interface {
    Public,
    Internal,
    Admin,
}

impl Interface {
    pub const ALL: [Interface; 3] = [Interface::Public, Interface::Internal, Interface::Admin];
    pub fn as_str(self) -> &'static str {
        match self {
            Interface::Public => "public",
            Interface::Internal => "internal",
            Interface::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "public" => Some(Interface::Public),
            "internal" => Some(Interface::Internal),
            "admin" => Some(Interface::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub id: String,
    pub service_id: String,
    pub region_id: Option<String>,
    pub interface: Interface,
    pub url: String,
    pub enabled: bool,
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApplicationCredential {
    pub id: String,
    pub name: String,
    pub user_id: String,
    pub project_id: String,
    pub secret_hash: String,
    pub description: Option<String>,
    pub expires_at: Option<String>,
    pub unrestricted: bool,
    /// The roles the credential carries (a subset of its creator's roles on the project).
    pub role_ids: Vec<String>,
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
