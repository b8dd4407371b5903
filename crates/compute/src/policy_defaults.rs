//! Nova's default policy rules (secure RBAC) for the whole compute API, as data.
//!
//! Rule names, check strings, scope types and operations are those of nova 2025.2
//! "Flamingo" (`nova/policies/*.py`, in the order of `nova/policies/__init__.py`); they are the
//! API contract, so an operator's nova `policy.yaml` works unchanged against them. Rules for
//! APIs this service does not implement (the proxy APIs, consoles, shares …) are kept, so
//! overrides naming them load and `stratus policy` listings match nova's.
//!
//! Differences from nova:
//!
//! * nova's deprecated base rules `admin_api` (`is_admin:True`) and `admin_or_owner`
//!   (`is_admin:True or project_id:%(project_id)s`) read `is_admin`, which oslo.context
//!   sets exactly when `context_is_admin` passes. This engine has no `is_admin` credential,
//!   so they say `rule:context_is_admin` instead: the same answer, and it follows an
//!   override of `context_is_admin`. No default rule refers to them.
//! * Descriptions are our own, and only the base rules have one; the operations say what
//!   each rule guards.
//!
//! # Roles
//!
//! `admin` (on any project) may do everything. A project's `member` manages the project's
//! servers, server groups and their sub-resources, a `reader` sees them, a `manager` may
//! also migrate them; key pairs belong to a user, not a project. Flavors, aggregates,
//! services, hypervisors, quotas (writing them), availability zone details and the
//! `all_projects`/`other project` variants are admin-only. Roles in
//! [`Credentials::roles`](stratus_core::policy::Credentials::roles) must include implied
//! roles (admin ⇒ member ⇒ reader; manager ⇒ member).
//!
//! Every operation rule is for project-scoped tokens only (nova 2025.2 enforces scope): a
//! system- or domain-scoped token is refused before the check string is read.
//!
//! # Targets the handlers must build
//!
//! Targets are flat: `{"project_id": …, "user_id": …}` as nova passes them.
//!
//! | rules | target |
//! |---|---|
//! | server rules and their sub-resources (`servers:*`, `os-*` actions, metadata, tags, instance actions …) | the server's `project_id` (and `user_id`) |
//! | `servers:index`, `servers:detail`, `servers:create`, `os-server-groups:index`, `os-server-groups:create`, `os-flavor-extra-specs:index`/`:show`, `os-migrations:index` | the caller's own project ([`ComputeService::own_target`](crate::ComputeService::own_target)) |
//! | `os-server-groups:show`/`:delete` | the group's `project_id` |
//! | `os-keypairs:*` | `{"user_id": <the key pair's user>}`: the caller's, or the `user_id` an admin asked for |
//! | `os-quota-sets:*` | `{"project_id": <the project in the URL>}` |
//! | `limits` | `{}`; `limits:other_project` (a `tenant_id` query) the caller's own project |
//! | the admin-only rules (flavor management and access, aggregates, services, hypervisors, availability zone detail …) | `{}` |
//!
//! `os-availability-zone:list`, `os-quota-sets:defaults`, `limits` and `extensions` pass
//! for any project-scoped caller (`@`).

use stratus_core::policy::{Operation, RuleDefault, Scope};

/// Nova's operations are all meant for project-scoped tokens.
const PROJECT: &[Scope] = &[Scope::Project];

/// The compute service's default rules.
pub const DEFAULTS: &[RuleDefault] = &[
    // ---- Base rules, which the others refer to. (nova/policies/base.py)
    RuleDefault::new("context_is_admin", "role:admin")
        .description("The caller is a cloud administrator; what nova calls an admin context (`is_admin`)."),
    RuleDefault::new("admin_or_owner", "rule:context_is_admin or project_id:%(project_id)s")
        .description("Deprecated base rule (nova: `is_admin:True or project_id:%(project_id)s`); kept for operator overrides that refer to it."),
    RuleDefault::new("admin_api", "rule:context_is_admin")
        .description("Deprecated base rule (nova: `is_admin:True`); kept for operator overrides that refer to it."),
    RuleDefault::new("project_manager_api", "role:manager and project_id:%(project_id)s")
        .description("A manager of the project that owns the resource."),
    RuleDefault::new("project_member_api", "role:member and project_id:%(project_id)s")
        .description("A member of the project that owns the resource."),
    RuleDefault::new("project_reader_api", "role:reader and project_id:%(project_id)s")
        .description("A reader of the project that owns the resource."),
    RuleDefault::new("service_api", "role:service")
        .description("A service user (the role other services call with)."),
    RuleDefault::new("project_manager_or_admin", "rule:project_manager_api or rule:context_is_admin")
        .description("A manager of the owning project, or an admin."),
    RuleDefault::new("project_member_or_admin", "rule:project_member_api or rule:context_is_admin")
        .description("A member of the owning project, or an admin."),
    RuleDefault::new("project_reader_or_admin", "rule:project_reader_api or rule:context_is_admin")
        .description("A reader of the owning project, or an admin."),
    RuleDefault::new("service_or_admin", "rule:service_api or rule:context_is_admin")
        .description("A service user, or an admin."),
    // ---- Admin actions on servers (reset state, inject network info). (nova/policies/admin_actions.py)
    RuleDefault::new("os_compute_api:os-admin-actions:reset_state", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (os-resetState)")]),
    RuleDefault::new("os_compute_api:os-admin-actions:inject_network_info", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (injectNetworkInfo)")]),
    // ---- Changing the admin password of a server. (nova/policies/admin_password.py)
    RuleDefault::new("os_compute_api:os-admin-password", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (changePassword)")]),
    // ---- Host aggregates. (nova/policies/aggregates.py)
    RuleDefault::new("os_compute_api:os-aggregates:set_metadata", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/os-aggregates/{aggregate_id}/action (set_metadata)")]),
    RuleDefault::new("os_compute_api:os-aggregates:add_host", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/os-aggregates/{aggregate_id}/action (add_host)")]),
    RuleDefault::new("os_compute_api:os-aggregates:create", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/os-aggregates")]),
    RuleDefault::new("os_compute_api:os-aggregates:remove_host", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/os-aggregates/{aggregate_id}/action (remove_host)")]),
    RuleDefault::new("os_compute_api:os-aggregates:update", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("PUT", "/os-aggregates/{aggregate_id}")]),
    RuleDefault::new("os_compute_api:os-aggregates:index", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-aggregates")]),
    RuleDefault::new("os_compute_api:os-aggregates:delete", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("DELETE", "/os-aggregates/{aggregate_id}")]),
    RuleDefault::new("os_compute_api:os-aggregates:show", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-aggregates/{aggregate_id}")]),
    RuleDefault::new("compute:aggregates:images", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/os-aggregates/{aggregate_id}/images")]),
    // ---- Volume snapshots assisted by the hypervisor (called by the block storage service). (nova/policies/assisted_volume_snapshots.py)
    RuleDefault::new("os_compute_api:os-assisted-volume-snapshots:create", "rule:service_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/os-assisted-volume-snapshots")]),
    RuleDefault::new("os_compute_api:os-assisted-volume-snapshots:delete", "rule:service_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("DELETE", "/os-assisted-volume-snapshots/{snapshot_id}")]),
    // ---- Port interfaces of servers. (nova/policies/attach_interfaces.py)
    RuleDefault::new("os_compute_api:os-attach-interfaces:list", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers/{server_id}/os-interface")]),
    RuleDefault::new("os_compute_api:os-attach-interfaces:show", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers/{server_id}/os-interface/{port_id}")]),
    RuleDefault::new("os_compute_api:os-attach-interfaces:create", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/os-interface")]),
    RuleDefault::new("os_compute_api:os-attach-interfaces:delete", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("DELETE", "/servers/{server_id}/os-interface/{port_id}")]),
    // ---- Availability zones. (nova/policies/availability_zone.py)
    RuleDefault::new("os_compute_api:os-availability-zone:list", "@")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-availability-zone")]),
    RuleDefault::new("os_compute_api:os-availability-zone:detail", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-availability-zone/detail")]),
    // ---- Bare metal nodes (proxy API). (nova/policies/baremetal_nodes.py)
    RuleDefault::new("os_compute_api:os-baremetal-nodes:list", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-baremetal-nodes")]),
    RuleDefault::new("os_compute_api:os-baremetal-nodes:show", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-baremetal-nodes/{node_id}")]),
    // ---- Console authentication tokens. (nova/policies/console_auth_tokens.py)
    RuleDefault::new("os_compute_api:os-console-auth-tokens", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-console-auth-tokens/{console_token}")]),
    // ---- Console output of servers. (nova/policies/console_output.py)
    RuleDefault::new("os_compute_api:os-console-output", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (os-getConsoleOutput)")]),
    // ---- Server backups. (nova/policies/create_backup.py)
    RuleDefault::new("os_compute_api:os-create-backup", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (createBackup)")]),
    // ---- Restoring and force-deleting soft-deleted servers. (nova/policies/deferred_delete.py)
    RuleDefault::new("os_compute_api:os-deferred-delete:restore", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (restore)")]),
    RuleDefault::new("os_compute_api:os-deferred-delete:force", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (forceDelete)")]),
    // ---- Evacuating servers off a failed host. (nova/policies/evacuate.py)
    RuleDefault::new("os_compute_api:os-evacuate", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (evacuate)")]),
    // ---- The OS-EXT-SRV-ATTR fields of servers. (nova/policies/extended_server_attributes.py)
    RuleDefault::new("os_compute_api:os-extended-server-attributes", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers/{id}"), Operation::new("GET", "/servers/detail"), Operation::new("PUT", "/servers/{server_id}"), Operation::new("POST", "/servers/{server_id}/action (rebuild)")]),
    // ---- The extensions list. (nova/policies/extensions.py)
    RuleDefault::new("os_compute_api:extensions", "@")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/extensions"), Operation::new("GET", "/extensions/{alias}")]),
    // ---- Access of projects to private flavors. (nova/policies/flavor_access.py)
    RuleDefault::new("os_compute_api:os-flavor-access:add_tenant_access", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/flavors/{flavor_id}/action (addTenantAccess)")]),
    RuleDefault::new("os_compute_api:os-flavor-access:remove_tenant_access", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/flavors/{flavor_id}/action (removeTenantAccess)")]),
    RuleDefault::new("os_compute_api:os-flavor-access", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/flavors/{flavor_id}/os-flavor-access")]),
    // ---- Flavor extra specs. (nova/policies/flavor_extra_specs.py)
    RuleDefault::new("os_compute_api:os-flavor-extra-specs:show", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/flavors/{flavor_id}/os-extra_specs/{flavor_extra_spec_key}")]),
    RuleDefault::new("os_compute_api:os-flavor-extra-specs:create", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/flavors/{flavor_id}/os-extra_specs/")]),
    RuleDefault::new("os_compute_api:os-flavor-extra-specs:update", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("PUT", "/flavors/{flavor_id}/os-extra_specs/{flavor_extra_spec_key}")]),
    RuleDefault::new("os_compute_api:os-flavor-extra-specs:delete", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("DELETE", "/flavors/{flavor_id}/os-extra_specs/{flavor_extra_spec_key}")]),
    RuleDefault::new("os_compute_api:os-flavor-extra-specs:index", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/flavors/{flavor_id}/os-extra_specs/"), Operation::new("POST", "/flavors"), Operation::new("GET", "/flavors/detail"), Operation::new("GET", "/flavors/{flavor_id}"), Operation::new("PUT", "/flavors/{flavor_id}")]),
    // ---- Creating, updating and deleting flavors (listing and showing them is not policed). (nova/policies/flavor_manage.py)
    RuleDefault::new("os_compute_api:os-flavor-manage:create", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/flavors")]),
    RuleDefault::new("os_compute_api:os-flavor-manage:update", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("PUT", "/flavors/{flavor_id}")]),
    RuleDefault::new("os_compute_api:os-flavor-manage:delete", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("DELETE", "/flavors/{flavor_id}")]),
    // ---- Floating IP pools (proxy API). (nova/policies/floating_ip_pools.py)
    RuleDefault::new("os_compute_api:os-floating-ip-pools", "@")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-floating-ip-pools")]),
    // ---- Floating IPs (proxy API). (nova/policies/floating_ips.py)
    RuleDefault::new("os_compute_api:os-floating-ips:add", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (addFloatingIp)")]),
    RuleDefault::new("os_compute_api:os-floating-ips:remove", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (removeFloatingIp)")]),
    RuleDefault::new("os_compute_api:os-floating-ips:list", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-floating-ips")]),
    RuleDefault::new("os_compute_api:os-floating-ips:create", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/os-floating-ips")]),
    RuleDefault::new("os_compute_api:os-floating-ips:show", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-floating-ips/{floating_ip_id}")]),
    RuleDefault::new("os_compute_api:os-floating-ips:delete", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("DELETE", "/os-floating-ips/{floating_ip_id}")]),
    // ---- Hosts (deprecated API). (nova/policies/hosts.py)
    RuleDefault::new("os_compute_api:os-hosts:list", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-hosts")]),
    RuleDefault::new("os_compute_api:os-hosts:show", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-hosts/{host_name}")]),
    RuleDefault::new("os_compute_api:os-hosts:update", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("PUT", "/os-hosts/{host_name}")]),
    RuleDefault::new("os_compute_api:os-hosts:reboot", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-hosts/{host_name}/reboot")]),
    RuleDefault::new("os_compute_api:os-hosts:shutdown", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-hosts/{host_name}/shutdown")]),
    RuleDefault::new("os_compute_api:os-hosts:start", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-hosts/{host_name}/startup")]),
    // ---- Hypervisors. (nova/policies/hypervisors.py)
    RuleDefault::new("os_compute_api:os-hypervisors:list", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-hypervisors")]),
    RuleDefault::new("os_compute_api:os-hypervisors:list-detail", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-hypervisors/details")]),
    RuleDefault::new("os_compute_api:os-hypervisors:statistics", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-hypervisors/statistics")]),
    RuleDefault::new("os_compute_api:os-hypervisors:show", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-hypervisors/{hypervisor_id}")]),
    RuleDefault::new("os_compute_api:os-hypervisors:uptime", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-hypervisors/{hypervisor_id}/uptime")]),
    RuleDefault::new("os_compute_api:os-hypervisors:search", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-hypervisors/{hypervisor_hostname_pattern}/search")]),
    RuleDefault::new("os_compute_api:os-hypervisors:servers", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-hypervisors/{hypervisor_hostname_pattern}/servers")]),
    // ---- Instance actions and their events. (nova/policies/instance_actions.py)
    RuleDefault::new("os_compute_api:os-instance-actions:events:details", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers/{server_id}/os-instance-actions/{request_id}")]),
    RuleDefault::new("os_compute_api:os-instance-actions:events", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers/{server_id}/os-instance-actions/{request_id}")]),
    RuleDefault::new("os_compute_api:os-instance-actions:list", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers/{server_id}/os-instance-actions")]),
    RuleDefault::new("os_compute_api:os-instance-actions:show", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers/{server_id}/os-instance-actions/{request_id}")]),
    // ---- The instance usage audit log. (nova/policies/instance_usage_audit_log.py)
    RuleDefault::new("os_compute_api:os-instance-usage-audit-log:list", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-instance_usage_audit_log")]),
    RuleDefault::new("os_compute_api:os-instance-usage-audit-log:show", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-instance_usage_audit_log/{before_timestamp}")]),
    // ---- Addresses of servers. (nova/policies/ips.py)
    RuleDefault::new("os_compute_api:ips:show", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers/{server_id}/ips/{network_label}")]),
    RuleDefault::new("os_compute_api:ips:index", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers/{server_id}/ips")]),
    // ---- Key pairs; the target is the owning user. (nova/policies/keypairs.py)
    RuleDefault::new("os_compute_api:os-keypairs:index", "(rule:context_is_admin) or user_id:%(user_id)s")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-keypairs")]),
    RuleDefault::new("os_compute_api:os-keypairs:create", "(rule:context_is_admin) or user_id:%(user_id)s")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/os-keypairs")]),
    RuleDefault::new("os_compute_api:os-keypairs:delete", "(rule:context_is_admin) or user_id:%(user_id)s")
        .scope_types(PROJECT)
        .operations(&[Operation::new("DELETE", "/os-keypairs/{keypair_name}")]),
    RuleDefault::new("os_compute_api:os-keypairs:show", "(rule:context_is_admin) or user_id:%(user_id)s")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-keypairs/{keypair_name}")]),
    // ---- Limits. (nova/policies/limits.py)
    RuleDefault::new("os_compute_api:limits", "@")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/limits")]),
    RuleDefault::new("os_compute_api:limits:other_project", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/limits")]),
    // ---- Locking servers. (nova/policies/lock_server.py)
    RuleDefault::new("os_compute_api:os-lock-server:lock", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (lock)")]),
    RuleDefault::new("os_compute_api:os-lock-server:unlock", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (unlock)")]),
    RuleDefault::new("os_compute_api:os-lock-server:unlock:unlock_override", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (unlock)")]),
    // ---- Cold and live migration. (nova/policies/migrate_server.py)
    RuleDefault::new("os_compute_api:os-migrate-server:migrate", "rule:project_manager_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (migrate)")]),
    RuleDefault::new("os_compute_api:os-migrate-server:migrate:host", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (migrate)")]),
    RuleDefault::new("os_compute_api:os-migrate-server:migrate_live", "rule:project_manager_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (os-migrateLive)")]),
    RuleDefault::new("os_compute_api:os-migrate-server:migrate_live:host", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (os-migrateLive)")]),
    // ---- The migrations list. (nova/policies/migrations.py)
    RuleDefault::new("os_compute_api:os-migrations:index", "rule:project_manager_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-migrations")]),
    RuleDefault::new("os_compute_api:os-migrations:index:all_projects", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-migrations")]),
    RuleDefault::new("os_compute_api:os-migrations:index:host", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-migrations")]),
    // ---- Adding and removing fixed IPs (deprecated). (nova/policies/multinic.py)
    RuleDefault::new("os_compute_api:os-multinic:add", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (addFixedIp)")]),
    RuleDefault::new("os_compute_api:os-multinic:remove", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (removeFixedIp)")]),
    // ---- Networks (proxy API). (nova/policies/networks.py)
    RuleDefault::new("os_compute_api:os-networks:list", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-networks")]),
    RuleDefault::new("os_compute_api:os-networks:show", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-networks/{network_id}")]),
    // ---- Pausing servers. (nova/policies/pause_server.py)
    RuleDefault::new("os_compute_api:os-pause-server:pause", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (pause)")]),
    RuleDefault::new("os_compute_api:os-pause-server:unpause", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (unpause)")]),
    // ---- Quota classes. (nova/policies/quota_class_sets.py)
    RuleDefault::new("os_compute_api:os-quota-class-sets:show", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-quota-class-sets/{quota_class}")]),
    RuleDefault::new("os_compute_api:os-quota-class-sets:update", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("PUT", "/os-quota-class-sets/{quota_class}")]),
    // ---- Quota sets; the target is the project whose quotas are read or written. (nova/policies/quota_sets.py)
    RuleDefault::new("os_compute_api:os-quota-sets:update", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("PUT", "/os-quota-sets/{tenant_id}")]),
    RuleDefault::new("os_compute_api:os-quota-sets:defaults", "@")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-quota-sets/{tenant_id}/defaults")]),
    RuleDefault::new("os_compute_api:os-quota-sets:show", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-quota-sets/{tenant_id}")]),
    RuleDefault::new("os_compute_api:os-quota-sets:delete", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("DELETE", "/os-quota-sets/{tenant_id}")]),
    RuleDefault::new("os_compute_api:os-quota-sets:detail", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-quota-sets/{tenant_id}/detail")]),
    // ---- Remote consoles. (nova/policies/remote_consoles.py)
    RuleDefault::new("os_compute_api:os-remote-consoles", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (os-getSerialConsole)"), Operation::new("POST", "/servers/{server_id}/action (os-getSPICEConsole)"), Operation::new("POST", "/servers/{server_id}/action (os-getVNCConsole)"), Operation::new("POST", "/servers/{server_id}/remote-consoles")]),
    // ---- Rescuing servers. (nova/policies/rescue.py)
    RuleDefault::new("os_compute_api:os-rescue", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (rescue)")]),
    RuleDefault::new("os_compute_api:os-unrescue", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (unrescue)")]),
    // ---- Security groups (proxy API). (nova/policies/security_groups.py)
    RuleDefault::new("os_compute_api:os-security-groups:get", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-security-groups")]),
    RuleDefault::new("os_compute_api:os-security-groups:show", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-security-groups/{security_group_id}")]),
    RuleDefault::new("os_compute_api:os-security-groups:create", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/os-security-groups")]),
    RuleDefault::new("os_compute_api:os-security-groups:update", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("PUT", "/os-security-groups/{security_group_id}")]),
    RuleDefault::new("os_compute_api:os-security-groups:delete", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("DELETE", "/os-security-groups/{security_group_id}")]),
    RuleDefault::new("os_compute_api:os-security-groups:rule:create", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/os-security-group-rules")]),
    RuleDefault::new("os_compute_api:os-security-groups:rule:delete", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("DELETE", "/os-security-group-rules/{security_group_id}")]),
    RuleDefault::new("os_compute_api:os-security-groups:list", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers/{server_id}/os-security-groups")]),
    RuleDefault::new("os_compute_api:os-security-groups:add", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (addSecurityGroup)")]),
    RuleDefault::new("os_compute_api:os-security-groups:remove", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (removeSecurityGroup)")]),
    // ---- Server diagnostics. (nova/policies/server_diagnostics.py)
    RuleDefault::new("os_compute_api:os-server-diagnostics", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers/{server_id}/diagnostics")]),
    // ---- External events (sent by the network and block storage services). (nova/policies/server_external_events.py)
    RuleDefault::new("os_compute_api:os-server-external-events:create", "rule:service_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/os-server-external-events")]),
    // ---- Server groups. (nova/policies/server_groups.py)
    RuleDefault::new("os_compute_api:os-server-groups:create", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/os-server-groups")]),
    RuleDefault::new("os_compute_api:os-server-groups:delete", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("DELETE", "/os-server-groups/{server_group_id}")]),
    RuleDefault::new("os_compute_api:os-server-groups:index", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-server-groups")]),
    RuleDefault::new("os_compute_api:os-server-groups:index:all_projects", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-server-groups")]),
    RuleDefault::new("os_compute_api:os-server-groups:show", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-server-groups/{server_group_id}")]),
    // ---- Server metadata. (nova/policies/server_metadata.py)
    RuleDefault::new("os_compute_api:server-metadata:index", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers/{server_id}/metadata")]),
    RuleDefault::new("os_compute_api:server-metadata:show", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers/{server_id}/metadata/{key}")]),
    RuleDefault::new("os_compute_api:server-metadata:create", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/metadata")]),
    RuleDefault::new("os_compute_api:server-metadata:update_all", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("PUT", "/servers/{server_id}/metadata")]),
    RuleDefault::new("os_compute_api:server-metadata:update", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("PUT", "/servers/{server_id}/metadata/{key}")]),
    RuleDefault::new("os_compute_api:server-metadata:delete", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("DELETE", "/servers/{server_id}/metadata/{key}")]),
    // ---- Server passwords. (nova/policies/server_password.py)
    RuleDefault::new("os_compute_api:os-server-password:show", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers/{server_id}/os-server-password")]),
    RuleDefault::new("os_compute_api:os-server-password:clear", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("DELETE", "/servers/{server_id}/os-server-password")]),
    // ---- Shares attached to servers. (nova/policies/server_shares.py)
    RuleDefault::new("os_compute_api:os-server-shares:index", "rule:project_reader_api")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers/{server_id}/shares")]),
    RuleDefault::new("os_compute_api:os-server-shares:create", "rule:project_member_api")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/shares")]),
    RuleDefault::new("os_compute_api:os-server-shares:show", "rule:project_reader_api")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers/{server_id}/shares/{share_id}")]),
    RuleDefault::new("os_compute_api:os-server-shares:delete", "rule:project_member_api")
        .scope_types(PROJECT)
        .operations(&[Operation::new("DELETE", "/servers/{server_id}/shares/{share_id}")]),
    // ---- Server tags. (nova/policies/server_tags.py)
    RuleDefault::new("os_compute_api:os-server-tags:delete_all", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("DELETE", "/servers/{server_id}/tags")]),
    RuleDefault::new("os_compute_api:os-server-tags:index", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers/{server_id}/tags")]),
    RuleDefault::new("os_compute_api:os-server-tags:update_all", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("PUT", "/servers/{server_id}/tags")]),
    RuleDefault::new("os_compute_api:os-server-tags:delete", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("DELETE", "/servers/{server_id}/tags/{tag}")]),
    RuleDefault::new("os_compute_api:os-server-tags:update", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("PUT", "/servers/{server_id}/tags/{tag}")]),
    RuleDefault::new("os_compute_api:os-server-tags:show", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers/{server_id}/tags/{tag}")]),
    // ---- NUMA topology of servers. (nova/policies/server_topology.py)
    RuleDefault::new("compute:server:topology:index", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers/{server_id}/topology")]),
    RuleDefault::new("compute:server:topology:host:index", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers/{server_id}/topology")]),
    // ---- Servers and server actions. (nova/policies/servers.py)
    RuleDefault::new("os_compute_api:servers:index", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers")]),
    RuleDefault::new("os_compute_api:servers:detail", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers/detail")]),
    RuleDefault::new("os_compute_api:servers:index:get_all_tenants", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers")]),
    RuleDefault::new("os_compute_api:servers:detail:get_all_tenants", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers/detail")]),
    RuleDefault::new("os_compute_api:servers:allow_all_filters", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers"), Operation::new("GET", "/servers/detail")]),
    RuleDefault::new("os_compute_api:servers:show", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers/{server_id}")]),
    RuleDefault::new("os_compute_api:servers:show:flavor-extra-specs", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers/detail"), Operation::new("GET", "/servers/{server_id}"), Operation::new("PUT", "/servers/{server_id}"), Operation::new("POST", "/servers/{server_id}/action (rebuild)")]),
    RuleDefault::new("os_compute_api:servers:show:host_status", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers/{server_id}"), Operation::new("GET", "/servers/detail"), Operation::new("PUT", "/servers/{server_id}"), Operation::new("POST", "/servers/{server_id}/action (rebuild)")]),
    RuleDefault::new("os_compute_api:servers:show:host_status:unknown-only", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers/{server_id}"), Operation::new("GET", "/servers/detail"), Operation::new("PUT", "/servers/{server_id}"), Operation::new("POST", "/servers/{server_id}/action (rebuild)")]),
    RuleDefault::new("os_compute_api:servers:create", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers")]),
    RuleDefault::new("os_compute_api:servers:create:forced_host", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers")]),
    RuleDefault::new("compute:servers:create:requested_destination", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers")]),
    RuleDefault::new("os_compute_api:servers:create:attach_volume", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers")]),
    RuleDefault::new("os_compute_api:servers:create:attach_network", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers")]),
    RuleDefault::new("os_compute_api:servers:create:trusted_certs", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers")]),
    RuleDefault::new("os_compute_api:servers:create:zero_disk_flavor", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers")]),
    RuleDefault::new("network:attach_external_network", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers"), Operation::new("POST", "/servers/{server_id}/os-interface")]),
    RuleDefault::new("os_compute_api:servers:delete", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("DELETE", "/servers/{server_id}")]),
    RuleDefault::new("os_compute_api:servers:update", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("PUT", "/servers/{server_id}")]),
    RuleDefault::new("os_compute_api:servers:confirm_resize", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (confirmResize)")]),
    RuleDefault::new("os_compute_api:servers:revert_resize", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (revertResize)")]),
    RuleDefault::new("os_compute_api:servers:reboot", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (reboot)")]),
    RuleDefault::new("os_compute_api:servers:resize", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (resize)")]),
    RuleDefault::new("compute:servers:resize:cross_cell", "!")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (resize)")]),
    RuleDefault::new("os_compute_api:servers:rebuild", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (rebuild)")]),
    RuleDefault::new("os_compute_api:servers:rebuild:trusted_certs", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (rebuild)")]),
    RuleDefault::new("os_compute_api:servers:create_image", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (createImage)")]),
    RuleDefault::new("os_compute_api:servers:create_image:allow_volume_backed", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (createImage)")]),
    RuleDefault::new("os_compute_api:servers:start", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (os-start)")]),
    RuleDefault::new("os_compute_api:servers:stop", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (os-stop)")]),
    RuleDefault::new("os_compute_api:servers:trigger_crash_dump", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (trigger_crash_dump)")]),
    // ---- Migrations of one server. (nova/policies/servers_migrations.py)
    RuleDefault::new("os_compute_api:servers:migrations:show", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers/{server_id}/migrations/{migration_id}")]),
    RuleDefault::new("os_compute_api:servers:migrations:force_complete", "rule:project_manager_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/migrations/{migration_id}/action (force_complete)")]),
    RuleDefault::new("os_compute_api:servers:migrations:delete", "rule:project_manager_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("DELETE", "/servers/{server_id}/migrations/{migration_id}")]),
    RuleDefault::new("os_compute_api:servers:migrations:index", "rule:project_manager_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers/{server_id}/migrations")]),
    RuleDefault::new("os_compute_api:servers:migrations:index:host", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers/{server_id}/migrations")]),
    // ---- Compute services. (nova/policies/services.py)
    RuleDefault::new("os_compute_api:os-services:list", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-services")]),
    RuleDefault::new("os_compute_api:os-services:update", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("PUT", "/os-services/{service_id}")]),
    RuleDefault::new("os_compute_api:os-services:delete", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("DELETE", "/os-services/{service_id}")]),
    // ---- Shelving servers. (nova/policies/shelve.py)
    RuleDefault::new("os_compute_api:os-shelve:shelve", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (shelve)")]),
    RuleDefault::new("os_compute_api:os-shelve:unshelve", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (unshelve)")]),
    RuleDefault::new("os_compute_api:os-shelve:unshelve_to_host", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (unshelve)")]),
    RuleDefault::new("os_compute_api:os-shelve:shelve_offload", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (shelveOffload)")]),
    // ---- Usage reports. (nova/policies/simple_tenant_usage.py)
    RuleDefault::new("os_compute_api:os-simple-tenant-usage:show", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-simple-tenant-usage/{tenant_id}")]),
    RuleDefault::new("os_compute_api:os-simple-tenant-usage:list", "rule:context_is_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-simple-tenant-usage")]),
    // ---- Suspending servers. (nova/policies/suspend_server.py)
    RuleDefault::new("os_compute_api:os-suspend-server:resume", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (resume)")]),
    RuleDefault::new("os_compute_api:os-suspend-server:suspend", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/action (suspend)")]),
    // ---- Project networks (proxy API). (nova/policies/tenant_networks.py)
    RuleDefault::new("os_compute_api:os-tenant-networks:list", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-tenant-networks")]),
    RuleDefault::new("os_compute_api:os-tenant-networks:show", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-tenant-networks/{network_id}")]),
    // ---- Volumes and snapshots (proxy API). (nova/policies/volumes.py)
    RuleDefault::new("os_compute_api:os-volumes:list", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-volumes")]),
    RuleDefault::new("os_compute_api:os-volumes:create", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/os-volumes")]),
    RuleDefault::new("os_compute_api:os-volumes:detail", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-volumes/detail")]),
    RuleDefault::new("os_compute_api:os-volumes:show", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-volumes/{volume_id}")]),
    RuleDefault::new("os_compute_api:os-volumes:delete", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("DELETE", "/os-volumes/{volume_id}")]),
    RuleDefault::new("os_compute_api:os-volumes:snapshots:list", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-snapshots")]),
    RuleDefault::new("os_compute_api:os-volumes:snapshots:create", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/os-snapshots")]),
    RuleDefault::new("os_compute_api:os-volumes:snapshots:detail", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-snapshots/detail")]),
    RuleDefault::new("os_compute_api:os-volumes:snapshots:show", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/os-snapshots/{snapshot_id}")]),
    RuleDefault::new("os_compute_api:os-volumes:snapshots:delete", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("DELETE", "/os-snapshots/{snapshot_id}")]),
    // ---- Volume attachments of servers. (nova/policies/volumes_attachments.py)
    RuleDefault::new("os_compute_api:os-volumes-attachments:index", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers/{server_id}/os-volume_attachments")]),
    RuleDefault::new("os_compute_api:os-volumes-attachments:create", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/servers/{server_id}/os-volume_attachments")]),
    RuleDefault::new("os_compute_api:os-volumes-attachments:show", "rule:project_reader_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/servers/{server_id}/os-volume_attachments/{volume_id}")]),
    RuleDefault::new("os_compute_api:os-volumes-attachments:update", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("PUT", "/servers/{server_id}/os-volume_attachments/{volume_id}")]),
    RuleDefault::new("os_compute_api:os-volumes-attachments:swap", "rule:service_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("PUT", "/servers/{server_id}/os-volume_attachments/{volume_id}")]),
    RuleDefault::new("os_compute_api:os-volumes-attachments:delete", "rule:project_member_or_admin")
        .scope_types(PROJECT)
        .operations(&[Operation::new("DELETE", "/servers/{server_id}/os-volume_attachments/{volume_id}")]),
];

#[cfg(test)]
mod tests {
    use serde_json::json;
    use stratus_core::policy::{Credentials, Policy};

    use super::DEFAULTS;

    fn creds(project: &str, roles: &[&str]) -> Credentials {
        Credentials {
            user_id: Some(format!("user-{project}")),
            project_id: Some(project.into()),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_load_and_resolve() {
        let policy = Policy::new(DEFAULTS).expect("nova defaults parse");
        assert!(policy.unresolved_references().is_empty(), "{:?}", policy.unresolved_references());
        assert!(DEFAULTS.len() > 200);
    }

    #[test]
    fn project_roles() {
        let policy = Policy::new(DEFAULTS).unwrap();
        let own = json!({"project_id": "P", "user_id": "user-P"});
        let other = json!({"project_id": "Q", "user_id": "user-Q"});
        let member = creds("P", &["member", "reader"]);
        let reader = creds("P", &["reader"]);
        let admin = creds("A", &["admin", "member", "reader"]);

        assert!(policy.enforce("os_compute_api:servers:create", &member, &own));
        assert!(!policy.enforce("os_compute_api:servers:create", &member, &other));
        assert!(!policy.enforce("os_compute_api:servers:create", &reader, &own));
        assert!(policy.enforce("os_compute_api:servers:show", &reader, &own));
        assert!(!policy.enforce("os_compute_api:servers:show", &reader, &other));
        assert!(policy.enforce("os_compute_api:servers:create", &admin, &other));

        assert!(policy.enforce("os_compute_api:os-services:list", &admin, &json!({})));
        assert!(!policy.enforce("os_compute_api:os-services:list", &member, &json!({})));
        assert!(!policy.enforce("os_compute_api:os-flavor-manage:create", &member, &json!({})));
        assert!(policy.enforce("os_compute_api:os-availability-zone:list", &reader, &json!({})));
        assert!(!policy.enforce("os_compute_api:os-availability-zone:detail", &member, &json!({})));

        // Key pairs belong to users.
        let mine = json!({"user_id": "user-P"});
        assert!(policy.enforce("os_compute_api:os-keypairs:create", &reader, &mine));
        assert!(!policy.enforce(
            "os_compute_api:os-keypairs:create",
            &member,
            &json!({"user_id": "someone"})
        ));
        assert!(policy.enforce("os_compute_api:os-keypairs:index", &admin, &json!({"user_id": "someone"})));

        // A manager may migrate; a member may not.
        let manager = creds("P", &["manager", "member", "reader"]);
        assert!(policy.enforce("os_compute_api:os-migrate-server:migrate", &manager, &own));
        assert!(!policy.enforce("os_compute_api:os-migrate-server:migrate", &member, &own));
    }

    #[test]
    fn only_project_scope() {
        let policy = Policy::new(DEFAULTS).unwrap();
        let system_admin = Credentials {
            user_id: Some("u".into()),
            system_scope: Some("all".into()),
            roles: vec!["admin".into()],
            ..Default::default()
        };
        assert!(!policy.enforce("os_compute_api:os-services:list", &system_admin, &json!({})));
        // Base rules have no scope.
        assert!(policy.enforce("context_is_admin", &system_admin, &json!({})));
    }
}
