//! Placement's default policy rules (secure RBAC), as data.
//!
//! The rule names, check strings and scope types are those of placement's
//! `placement/policies/*.py` (2024.x–2025.x): everything is for project-scoped tokens, and
//! everything is `admin` or `service` — except `GET /usages`, which a `reader` of the project
//! asked about may call too, and the reshaper, which is for services only. An operator's
//! placement `policy.yaml` works unchanged against these names. Descriptions are our own.
//!
//! Targets: placement checks with `{"project_id": <caller's project>, "user_id": <caller>}`,
//! except `placement:usages`, whose target's `project_id` is the project asked about.

use stratus_core::policy::{Operation, RuleDefault, Scope};

const PROJECT: &[Scope] = &[Scope::Project];
const ADMIN_OR_SERVICE: &str = "rule:admin_or_service_api";

pub const DEFAULTS: &[RuleDefault] = &[
    RuleDefault::new("admin_api", "role:admin")
        .description("Default rule for most placement APIs.")
        .scope_types(PROJECT),
    RuleDefault::new("service_api", "role:service")
        .description("Default rule for service-to-service placement APIs.")
        .scope_types(PROJECT),
    RuleDefault::new("admin_or_service_api", "role:admin or role:service")
        .description("Default rule for most placement APIs.")
        .scope_types(PROJECT),
    RuleDefault::new("project_reader_api", "role:reader and project_id:%(project_id)s")
        .description("Default rule for project level reader APIs."),
    RuleDefault::new(
        "admin_or_project_reader_or_service_api",
        "role:admin or rule:project_reader_api or role:service",
    )
    .description("Default rule for project level reader APIs.")
    .scope_types(PROJECT),
    RuleDefault::new("placement:resource_providers:list", ADMIN_OR_SERVICE)
        .description("List resource providers.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/resource_providers")]),
    RuleDefault::new("placement:resource_providers:create", ADMIN_OR_SERVICE)
        .description("Create resource provider.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/resource_providers")]),
    RuleDefault::new("placement:resource_providers:show", ADMIN_OR_SERVICE)
        .description("Show resource provider.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/resource_providers/{uuid}")]),
    RuleDefault::new("placement:resource_providers:update", ADMIN_OR_SERVICE)
        .description("Update resource provider.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("PUT", "/resource_providers/{uuid}")]),
    RuleDefault::new("placement:resource_providers:delete", ADMIN_OR_SERVICE)
        .description("Delete resource provider.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("DELETE", "/resource_providers/{uuid}")]),
    RuleDefault::new("placement:resource_providers:inventories:list", ADMIN_OR_SERVICE)
        .description("List resource provider inventories.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/resource_providers/{uuid}/inventories")]),
    RuleDefault::new("placement:resource_providers:inventories:create", ADMIN_OR_SERVICE)
        .description("Create one resource provider inventory.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/resource_providers/{uuid}/inventories")]),
    RuleDefault::new("placement:resource_providers:inventories:show", ADMIN_OR_SERVICE)
        .description("Show resource provider inventory.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/resource_providers/{uuid}/inventories/{resource_class}")]),
    RuleDefault::new("placement:resource_providers:inventories:update", ADMIN_OR_SERVICE)
        .description("Update resource provider inventory.")
        .scope_types(PROJECT)
        .operations(&[
            Operation::new("PUT", "/resource_providers/{uuid}/inventories"),
            Operation::new("PUT", "/resource_providers/{uuid}/inventories/{resource_class}"),
        ]),
    RuleDefault::new("placement:resource_providers:inventories:delete", ADMIN_OR_SERVICE)
        .description("Delete resource provider inventory.")
        .scope_types(PROJECT)
        .operations(&[
            Operation::new("DELETE", "/resource_providers/{uuid}/inventories"),
            Operation::new("DELETE", "/resource_providers/{uuid}/inventories/{resource_class}"),
        ]),
    RuleDefault::new("placement:resource_providers:aggregates:list", ADMIN_OR_SERVICE)
        .description("List resource provider aggregates.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/resource_providers/{uuid}/aggregates")]),
    RuleDefault::new("placement:resource_providers:aggregates:update", ADMIN_OR_SERVICE)
        .description("Update resource provider aggregates.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("PUT", "/resource_providers/{uuid}/aggregates")]),
    RuleDefault::new("placement:resource_providers:usages", ADMIN_OR_SERVICE)
        .description("List resource provider usages.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/resource_providers/{uuid}/usages")]),
    RuleDefault::new("placement:usages", "rule:admin_or_project_reader_or_service_api")
        .description("List total resource usages for a given project.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/usages")]),
    RuleDefault::new("placement:traits:list", ADMIN_OR_SERVICE)
        .description("List traits.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/traits")]),
    RuleDefault::new("placement:traits:show", ADMIN_OR_SERVICE)
        .description("Show trait.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/traits/{name}")]),
    RuleDefault::new("placement:traits:update", ADMIN_OR_SERVICE)
        .description("Update trait.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("PUT", "/traits/{name}")]),
    RuleDefault::new("placement:traits:delete", ADMIN_OR_SERVICE)
        .description("Delete trait.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("DELETE", "/traits/{name}")]),
    RuleDefault::new("placement:resource_providers:traits:list", ADMIN_OR_SERVICE)
        .description("List resource provider traits.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/resource_providers/{uuid}/traits")]),
    RuleDefault::new("placement:resource_providers:traits:update", ADMIN_OR_SERVICE)
        .description("Update resource provider traits.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("PUT", "/resource_providers/{uuid}/traits")]),
    RuleDefault::new("placement:resource_providers:traits:delete", ADMIN_OR_SERVICE)
        .description("Delete resource provider traits.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("DELETE", "/resource_providers/{uuid}/traits")]),
    RuleDefault::new("placement:allocations:manage", ADMIN_OR_SERVICE)
        .description("Manage allocations.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/allocations")]),
    RuleDefault::new("placement:allocations:list", ADMIN_OR_SERVICE)
        .description("List allocations.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/allocations/{consumer_uuid}")]),
    RuleDefault::new("placement:allocations:update", ADMIN_OR_SERVICE)
        .description("Update allocations.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("PUT", "/allocations/{consumer_uuid}")]),
    RuleDefault::new("placement:allocations:delete", ADMIN_OR_SERVICE)
        .description("Delete allocations.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("DELETE", "/allocations/{consumer_uuid}")]),
    RuleDefault::new("placement:resource_providers:allocations:list", ADMIN_OR_SERVICE)
        .description("List resource provider allocations.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/resource_providers/{uuid}/allocations")]),
    RuleDefault::new("placement:allocation_candidates:list", ADMIN_OR_SERVICE)
        .description("List allocation candidates.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/allocation_candidates")]),
    RuleDefault::new("placement:resource_classes:list", ADMIN_OR_SERVICE)
        .description("List resource classes.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/resource_classes")]),
    RuleDefault::new("placement:resource_classes:create", ADMIN_OR_SERVICE)
        .description("Create resource class.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/resource_classes")]),
    RuleDefault::new("placement:resource_classes:show", ADMIN_OR_SERVICE)
        .description("Show resource class.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/resource_classes/{name}")]),
    RuleDefault::new("placement:resource_classes:update", ADMIN_OR_SERVICE)
        .description("Update resource class.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("PUT", "/resource_classes/{name}")]),
    RuleDefault::new("placement:resource_classes:delete", ADMIN_OR_SERVICE)
        .description("Delete resource class.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("DELETE", "/resource_classes/{name}")]),
    RuleDefault::new("placement:reshaper:reshape", "rule:service_api")
        .description("Reshape inventory and allocations.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/reshaper")]),
];

#[cfg(test)]
mod tests {
    use serde_json::json;
    use stratus_core::policy::{Credentials, Policy};

    fn creds(project: &str, roles: &[&str]) -> Credentials {
        Credentials {
            user_id: Some("u".into()),
            project_id: Some(project.into()),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn admin_and_service_everything_readers_their_usages() {
        let p = Policy::new(super::DEFAULTS).unwrap();
        let own = json!({"project_id": "p1", "user_id": "u"});
        for rule in
            ["placement:resource_providers:create", "placement:allocations:update", "placement:usages"]
        {
            assert!(p.enforce(rule, &creds("p1", &["admin", "member", "reader"]), &own), "{rule}");
            assert!(p.enforce(rule, &creds("svc", &["service"]), &own), "{rule}");
            assert!(!p.enforce(rule, &creds("p1", &["member"]), &own) || rule == "placement:usages");
        }
        assert!(p.enforce("placement:usages", &creds("p1", &["reader"]), &json!({"project_id": "p1"})));
        assert!(!p.enforce("placement:usages", &creds("p1", &["reader"]), &json!({"project_id": "p2"})));
        assert!(!p.enforce("placement:resource_providers:list", &creds("p1", &["reader", "member"]), &own));
        assert!(!p.enforce("placement:reshaper:reshape", &creds("p1", &["admin"]), &own));
    }
}
