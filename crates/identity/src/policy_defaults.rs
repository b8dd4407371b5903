//! Keystone's default policy rules (secure RBAC) for the identity API, as data.
//!
//! The check strings and scope types are those of keystone 2025.2 "Flamingo" (identical
//! to 2025.1 "Epoxy", which introduced the domain `manager` persona), taken from
//! `keystone/common/policies/{base,token,token_revocation,revoke_event,auth,domain,
//! project,user,group,role,implied_role,role_assignment,grant,region,service,endpoint,
//! application_credential,access_rule}.py`. They are the API contract: an operator's
//! keystone `policy.yaml` works unchanged against them. Descriptions are our own.
//!
//! Keystone has no rule for the self-service password change
//! (`POST /v3/users/{user_id}/password`): that API is deliberately not policy-enforced,
//! the user's original password is what authorises it (so that a user whose password
//! expired can still change it). Administrative password resets go through
//! `identity:update_user`.
//!
//! # Roles
//!
//! `admin` may do everything (`rule:admin_required`, on any scope the rule allows);
//! `reader` on the system (`system_scope:all`) may read everything; `reader` on a domain
//! reads that domain's users, groups, projects and assignments; `manager` on a domain
//! manages that domain's users, groups, projects and member/reader/manager grants;
//! `service` may validate tokens and read revocation events. Roles in
//! [`Credentials::roles`](stratus_core::policy::Credentials::roles) must already include
//! implied roles (admin ⇒ manager ⇒ member ⇒ reader in a default deployment).
//!
//! # Targets the handlers must build
//!
//! As keystone does it, path parameters go at the top level of the target and the
//! objects acted upon (as the stored records, with every attribute) under `target`.
//! Omit what is unknown (for example the object of a 404) rather than setting it to
//! `null`: `null` means Python `None`, which some rules compare against on purpose —
//! a global role must carry `"domain_id": null`. `D` below is the caller's
//! `domain_id` when the token is domain-scoped; leave the key out otherwise.
//!
//! | rules | target keys |
//! |---|---|
//! | `check_token`, `validate_token`, `revoke_token` | `target.token.user_id`: the user of the `X-Subject-Token` |
//! | `get_domain` | `target.domain.id` (the domain shown) |
//! | `list_domains` | `target.domain.id` = D |
//! | `create_domain`, `update_domain`, `delete_domain` | none |
//! | `get_project`, `update_project`, `delete_project`, project tag rules | `target.project` (stored: `id`, `domain_id`, ...) |
//! | `create_project` | `target.project`: the request body's `project` (its `domain_id` as given) |
//! | `list_projects` | `target.domain_id` = D |
//! | `list_user_projects` | `target.user` (stored: `id`, `domain_id`) |
//! | `get_user`, `update_user`, `delete_user` | `target.user` (stored: `id`, `domain_id`, ...) |
//! | `create_user` | `target.user`: the request body's `user` |
//! | `list_users` | `target.domain_id` = D |
//! | `get_group`, `update_group`, `delete_group`, `list_users_in_group` | `target.group` (stored: `id`, `domain_id`) |
//! | `create_group` | `target.group`: the request body's `group` |
//! | `list_groups` | `target.group.domain_id` = D |
//! | `list_groups_for_user` | `target.user` (stored), and `user_id` (path) |
//! | `add_user_to_group`, `remove_user_from_group`, `check_user_in_group` | `target.group` and `target.user` (stored) |
//! | `get_role`, `get_domain_role`, `update_domain_role`, `delete_domain_role` | `target.role` (stored: `id`, `name`, `domain_id`) |
//! | `create_domain_role` | `target.role`: the request body's `role` |
//! | other role and implied-role rules | none (`target.prior_role` / `target.implied_role` if wanted) |
//! | `check_grant`, `list_grants`, `create_grant`, `revoke_grant` | `target.role` (stored, `domain_id` null for a global role), `target.user` or `target.group` (stored), `target.project` or `target.domain` (stored) |
//! | system grant rules | `target.role`, `target.user` or `target.group` (not read by the defaults) |
//! | `list_role_assignments` | `target.domain_id` = D |
//! | `list_role_assignments_for_tree` | `target.project` (the `scope.project.id` project) and `target.domain_id` = that project's `domain_id` |
//! | `list_application_credentials`, `create_application_credential` | `user_id`: the user in the path |
//! | `get_application_credential`, `delete_application_credential` | `user_id`: the **owner of the stored credential** (not the path's user) |
//! | `get_access_rule`, `list_access_rules`, `delete_access_rule` | `target.user` (stored: `id`) |
//! | `get_auth_*`, regions, services, endpoints, `list_revoke_events`, `revocation_list` | none |
//!
//! Rules listed with scope types deny tokens of other scopes before their check string
//! is read; the `identity:get_auth_*`, `list_projects_for_user` and
//! `list_domains_for_user` rules and the base rules have none.

use stratus_core::policy::{Operation, RuleDefault, Scope};

/// Operations meant for system- and project-scoped tokens.
const SYSTEM_PROJECT: &[Scope] = &[Scope::System, Scope::Project];
/// Operations meant for tokens of any scope.
const ANY_SCOPE: &[Scope] = &[Scope::System, Scope::Domain, Scope::Project];
/// Operations meant for project-scoped tokens only.
const PROJECT: &[Scope] = &[Scope::Project];

/// The identity service's default rules, in keystone's order within each family.
pub const DEFAULTS: &[RuleDefault] = &[
    // ---- Base rules, referenced by the others. (keystone/common/policies/base.py)
    RuleDefault::new("admin_required", "role:admin or is_admin:1")
        .description("The caller holds the admin role (or carries the legacy is_admin credential)."),
    RuleDefault::new("service_role", "role:service").description("The caller holds the service role."),
    RuleDefault::new("service_or_admin", "rule:admin_required or rule:service_role")
        .description("The caller is an admin or a service user."),
    RuleDefault::new("owner", "user_id:%(user_id)s")
        .description("The user named in the request path is the caller."),
    RuleDefault::new("admin_or_owner", "rule:admin_required or rule:owner")
        .description("The caller is an admin or acts on its own user."),
    RuleDefault::new("token_subject", "user_id:%(target.token.user_id)s")
        .description("The token being inspected belongs to the caller."),
    RuleDefault::new("admin_or_token_subject", "rule:admin_required or rule:token_subject")
        .description("The caller is an admin or inspects its own token."),
    RuleDefault::new("service_admin_or_token_subject", "rule:service_or_admin or rule:token_subject")
        .description("The caller is an admin or a service user, or inspects its own token."),
    RuleDefault::new(
        "domain_managed_target_role",
        concat!(
            "'manager':%(target.role.name)s or 'member':%(target.role.name)s or",
            " 'reader':%(target.role.name)s",
        ),
    )
    .description("The roles a domain manager may grant and revoke: manager, member and reader."),
    // ---- Tokens: /v3/auth/tokens. (keystone/common/policies/token.py)
    RuleDefault::new(
        "identity:check_token",
        concat!("rule:admin_required or (role:reader and system_scope:all) or", " rule:token_subject",),
    )
    .description("Check that a token is valid, without returning it.")
    .scope_types(ANY_SCOPE)
    .operations(&[Operation::new("HEAD", "/v3/auth/tokens")]),
    RuleDefault::new(
        "identity:validate_token",
        concat!(
            "rule:admin_required or (role:reader and system_scope:all) or",
            " rule:service_role or rule:token_subject",
        ),
    )
    .description("Validate a token and return its contents.")
    .scope_types(ANY_SCOPE)
    .operations(&[Operation::new("GET", "/v3/auth/tokens")]),
    RuleDefault::new("identity:revoke_token", "rule:admin_required or rule:token_subject")
        .description("Revoke a token.")
        .scope_types(ANY_SCOPE)
        .operations(&[Operation::new("DELETE", "/v3/auth/tokens")]),
    // ---- Legacy token revocation list. (keystone/common/policies/token_revocation.py)
    RuleDefault::new("identity:revocation_list", "rule:service_or_admin")
        .description("List revoked PKI tokens (obsolete API kept for compatibility).")
        .scope_types(SYSTEM_PROJECT)
        .operations(&[Operation::new("GET", "/v3/auth/tokens/OS-PKI/revoked")]),
    // ---- Revocation events: /v3/OS-REVOKE. (keystone/common/policies/revoke_event.py)
    RuleDefault::new("identity:list_revoke_events", "rule:service_or_admin")
        .description("List token revocation events.")
        .scope_types(SYSTEM_PROJECT)
        .operations(&[Operation::new("GET", "/v3/OS-REVOKE/events")]),
    // ---- Scopes and catalog of the caller: /v3/auth/*. (keystone/common/policies/auth.py)
    RuleDefault::new("identity:get_auth_catalog", "")
        .description("Return the service catalog of the caller's token.")
        .operations(&[Operation::new("GET", "/v3/auth/catalog"), Operation::new("HEAD", "/v3/auth/catalog")]),
    RuleDefault::new("identity:get_auth_projects", "")
        .description("List the projects the caller may scope a token to.")
        .operations(&[
            Operation::new("GET", "/v3/auth/projects"),
            Operation::new("HEAD", "/v3/auth/projects"),
        ]),
    RuleDefault::new("identity:get_auth_domains", "")
        .description("List the domains the caller may scope a token to.")
        .operations(&[Operation::new("GET", "/v3/auth/domains"), Operation::new("HEAD", "/v3/auth/domains")]),
    RuleDefault::new("identity:get_auth_system", "")
        .description("List the system scopes the caller may scope a token to.")
        .operations(&[Operation::new("GET", "/v3/auth/system"), Operation::new("HEAD", "/v3/auth/system")]),
    // ---- Domains. (keystone/common/policies/domain.py)
    RuleDefault::new(
        "identity:get_domain",
        concat!(
            "rule:admin_required or (role:reader and system_scope:all) or",
            " token.domain.id:%(target.domain.id)s or",
            " token.project.domain.id:%(target.domain.id)s",
        ),
    )
    .description("Show a domain.")
    .scope_types(ANY_SCOPE)
    .operations(&[Operation::new("GET", "/v3/domains/{domain_id}")]),
    RuleDefault::new(
        "identity:list_domains",
        concat!(
            "rule:admin_required or (role:reader and system_scope:all) or",
            " (role:reader and domain_id:%(target.domain.id)s)",
        ),
    )
    .description("List domains.")
    .scope_types(ANY_SCOPE)
    .operations(&[Operation::new("GET", "/v3/domains")]),
    RuleDefault::new("identity:create_domain", "rule:admin_required")
        .description("Create a domain.")
        .scope_types(SYSTEM_PROJECT)
        .operations(&[Operation::new("POST", "/v3/domains")]),
    RuleDefault::new("identity:update_domain", "rule:admin_required")
        .description("Update a domain.")
        .scope_types(SYSTEM_PROJECT)
        .operations(&[Operation::new("PATCH", "/v3/domains/{domain_id}")]),
    RuleDefault::new("identity:delete_domain", "rule:admin_required")
        .description("Delete a domain.")
        .scope_types(SYSTEM_PROJECT)
        .operations(&[Operation::new("DELETE", "/v3/domains/{domain_id}")]),
    // ---- Projects and project tags. (keystone/common/policies/project.py)
    RuleDefault::new(
        "identity:get_project",
        concat!(
            "(rule:admin_required) or (role:reader and system_scope:all) or",
            " (role:reader and domain_id:%(target.project.domain_id)s and not",
            " None:%(target.project.domain_id)s) or",
            " project_id:%(target.project.id)s",
        ),
    )
    .description("Show a project.")
    .scope_types(ANY_SCOPE)
    .operations(&[Operation::new("GET", "/v3/projects/{project_id}")]),
    RuleDefault::new(
        "identity:list_projects",
        concat!(
            "(rule:admin_required) or (role:reader and system_scope:all) or",
            " (role:reader and domain_id:%(target.domain_id)s)",
        ),
    )
    .description("List projects.")
    .scope_types(ANY_SCOPE)
    .operations(&[Operation::new("GET", "/v3/projects")]),
    RuleDefault::new(
        "identity:list_user_projects",
        concat!(
            "(rule:admin_required) or (role:reader and system_scope:all) or",
            " (role:reader and domain_id:%(target.user.domain_id)s) or",
            " user_id:%(target.user.id)s",
        ),
    )
    .description("List the projects a user holds roles on.")
    .scope_types(ANY_SCOPE)
    .operations(&[Operation::new("GET", "/v3/users/{user_id}/projects")]),
    RuleDefault::new(
        "identity:create_project",
        concat!(
            "(rule:admin_required) or (role:manager and",
            " domain_id:%(target.project.domain_id)s and not",
            " None:%(target.project.domain_id)s)",
        ),
    )
    .description("Create a project.")
    .scope_types(ANY_SCOPE)
    .operations(&[Operation::new("POST", "/v3/projects")]),
    RuleDefault::new(
        "identity:update_project",
        concat!(
            "(rule:admin_required) or (role:manager and",
            " domain_id:%(target.project.domain_id)s and not",
            " None:%(target.project.domain_id)s)",
        ),
    )
    .description("Update a project.")
    .scope_types(ANY_SCOPE)
    .operations(&[Operation::new("PATCH", "/v3/projects/{project_id}")]),
    RuleDefault::new(
        "identity:delete_project",
        concat!(
            "(rule:admin_required) or (role:manager and",
            " domain_id:%(target.project.domain_id)s and not",
            " None:%(target.project.domain_id)s)",
        ),
    )
    .description("Delete a project.")
    .scope_types(ANY_SCOPE)
    .operations(&[Operation::new("DELETE", "/v3/projects/{project_id}")]),
    RuleDefault::new(
        "identity:list_project_tags",
        concat!(
            "(rule:admin_required) or (role:reader and system_scope:all) or",
            " (role:reader and domain_id:%(target.project.domain_id)s and not",
            " None:%(target.project.domain_id)s) or",
            " project_id:%(target.project.id)s",
        ),
    )
    .description("List a project's tags.")
    .scope_types(ANY_SCOPE)
    .operations(&[
        Operation::new("GET", "/v3/projects/{project_id}/tags"),
        Operation::new("HEAD", "/v3/projects/{project_id}/tags"),
    ]),
    RuleDefault::new(
        "identity:get_project_tag",
        concat!(
            "(rule:admin_required) or (role:reader and system_scope:all) or",
            " (role:reader and domain_id:%(target.project.domain_id)s and not",
            " None:%(target.project.domain_id)s) or",
            " project_id:%(target.project.id)s",
        ),
    )
    .description("Check whether a project carries a tag.")
    .scope_types(ANY_SCOPE)
    .operations(&[
        Operation::new("GET", "/v3/projects/{project_id}/tags/{value}"),
        Operation::new("HEAD", "/v3/projects/{project_id}/tags/{value}"),
    ]),
    RuleDefault::new(
        "identity:update_project_tags",
        concat!(
            "(rule:admin_required) or (role:manager and",
            " domain_id:%(target.project.domain_id)s and not",
            " None:%(target.project.domain_id)s)",
        ),
    )
    .description("Replace all of a project's tags.")
    .scope_types(ANY_SCOPE)
    .operations(&[Operation::new("PUT", "/v3/projects/{project_id}/tags")]),
    RuleDefault::new(
        "identity:create_project_tag",
        concat!(
            "(rule:admin_required) or (role:manager and",
            " domain_id:%(target.project.domain_id)s and not",
            " None:%(target.project.domain_id)s)",
        ),
    )
    .description("Add one tag to a project.")
    .scope_types(ANY_SCOPE)
    .operations(&[Operation::new("PUT", "/v3/projects/{project_id}/tags/{value}")]),
    RuleDefault::new(
        "identity:delete_project_tags",
        concat!(
            "(rule:admin_required) or (role:manager and",
            " domain_id:%(target.project.domain_id)s and not",
            " None:%(target.project.domain_id)s)",
        ),
    )
    .description("Remove all of a project's tags.")
    .scope_types(ANY_SCOPE)
    .operations(&[Operation::new("DELETE", "/v3/projects/{project_id}/tags")]),
    RuleDefault::new(
        "identity:delete_project_tag",
        concat!(
            "(rule:admin_required) or (role:manager and",
            " domain_id:%(target.project.domain_id)s and not",
            " None:%(target.project.domain_id)s)",
        ),
    )
    .description("Remove one tag from a project.")
    .scope_types(ANY_SCOPE)
    .operations(&[Operation::new("DELETE", "/v3/projects/{project_id}/tags/{value}")]),
    // ---- Users. (keystone/common/policies/user.py)
    RuleDefault::new(
        "identity:get_user",
        concat!(
            "(rule:admin_required) or (role:reader and system_scope:all) or",
            " (role:reader and token.domain.id:%(target.user.domain_id)s) or",
            " user_id:%(target.user.id)s",
        ),
    )
    .description("Show a user.")
    .scope_types(ANY_SCOPE)
    .operations(&[
        Operation::new("GET", "/v3/users/{user_id}"),
        Operation::new("HEAD", "/v3/users/{user_id}"),
    ]),
    RuleDefault::new(
        "identity:list_users",
        concat!(
            "(rule:admin_required) or (role:reader and system_scope:all) or",
            " (role:reader and domain_id:%(target.domain_id)s)",
        ),
    )
    .description("List users.")
    .scope_types(ANY_SCOPE)
    .operations(&[Operation::new("GET", "/v3/users"), Operation::new("HEAD", "/v3/users")]),
    RuleDefault::new("identity:list_projects_for_user", "")
        .description("List the projects a federated user may access (OS-FEDERATION).")
        .operations(&[Operation::new("GET", "/v3/auth/projects")]),
    RuleDefault::new("identity:list_domains_for_user", "")
        .description("List the domains a federated user may access (OS-FEDERATION).")
        .operations(&[Operation::new("GET", "/v3/auth/domains")]),
    RuleDefault::new(
        "identity:create_user",
        concat!("(rule:admin_required) or (role:manager and", " token.domain.id:%(target.user.domain_id)s)",),
    )
    .description("Create a user.")
    .scope_types(ANY_SCOPE)
    .operations(&[Operation::new("POST", "/v3/users")]),
    RuleDefault::new(
        "identity:update_user",
        concat!("(rule:admin_required) or (role:manager and", " token.domain.id:%(target.user.domain_id)s)",),
    )
    .description("Update a user, including an administrator's password reset.")
    .scope_types(ANY_SCOPE)
    .operations(&[Operation::new("PATCH", "/v3/users/{user_id}")]),
    RuleDefault::new(
        "identity:delete_user",
        concat!("(rule:admin_required) or (role:manager and", " token.domain.id:%(target.user.domain_id)s)",),
    )
    .description("Delete a user.")
    .scope_types(ANY_SCOPE)
    .operations(&[Operation::new("DELETE", "/v3/users/{user_id}")]),
    // ---- Groups and group membership. (keystone/common/policies/group.py)
    RuleDefault::new(
        "identity:get_group",
        concat!(
            "(rule:admin_required) or (role:reader and system_scope:all) or",
            " (role:reader and domain_id:%(target.group.domain_id)s)",
        ),
    )
    .description("Show a group.")
    .scope_types(ANY_SCOPE)
    .operations(&[
        Operation::new("GET", "/v3/groups/{group_id}"),
        Operation::new("HEAD", "/v3/groups/{group_id}"),
    ]),
    RuleDefault::new(
        "identity:list_groups",
        concat!(
            "(rule:admin_required) or (role:reader and system_scope:all) or",
            " (role:reader and domain_id:%(target.group.domain_id)s)",
        ),
    )
    .description("List groups.")
    .scope_types(ANY_SCOPE)
    .operations(&[Operation::new("GET", "/v3/groups"), Operation::new("HEAD", "/v3/groups")]),
    RuleDefault::new(
        "identity:list_groups_for_user",
        concat!(
            "(rule:admin_required) or (role:reader and system_scope:all) or",
            " (role:reader and domain_id:%(target.user.domain_id)s) or",
            " user_id:%(user_id)s",
        ),
    )
    .description("List the groups a user belongs to.")
    .scope_types(ANY_SCOPE)
    .operations(&[
        Operation::new("GET", "/v3/users/{user_id}/groups"),
        Operation::new("HEAD", "/v3/users/{user_id}/groups"),
    ]),
    RuleDefault::new(
        "identity:create_group",
        concat!("(rule:admin_required) or (role:manager and", " domain_id:%(target.group.domain_id)s)",),
    )
    .description("Create a group.")
    .scope_types(ANY_SCOPE)
    .operations(&[Operation::new("POST", "/v3/groups")]),
    RuleDefault::new(
        "identity:update_group",
        concat!("(rule:admin_required) or (role:manager and", " domain_id:%(target.group.domain_id)s)",),
    )
    .description("Update a group.")
    .scope_types(ANY_SCOPE)
    .operations(&[Operation::new("PATCH", "/v3/groups/{group_id}")]),
    RuleDefault::new(
        "identity:delete_group",
        concat!("(rule:admin_required) or (role:manager and", " domain_id:%(target.group.domain_id)s)",),
    )
    .description("Delete a group.")
    .scope_types(ANY_SCOPE)
    .operations(&[Operation::new("DELETE", "/v3/groups/{group_id}")]),
    RuleDefault::new(
        "identity:list_users_in_group",
        concat!(
            "(rule:admin_required) or (role:reader and system_scope:all) or",
            " (role:reader and domain_id:%(target.group.domain_id)s)",
        ),
    )
    .description("List the members of a group.")
    .scope_types(ANY_SCOPE)
    .operations(&[
        Operation::new("GET", "/v3/groups/{group_id}/users"),
        Operation::new("HEAD", "/v3/groups/{group_id}/users"),
    ]),
    RuleDefault::new(
        "identity:remove_user_from_group",
        concat!(
            "(rule:admin_required) or (role:manager and",
            " domain_id:%(target.group.domain_id)s and",
            " domain_id:%(target.user.domain_id)s)",
        ),
    )
    .description("Remove a user from a group.")
    .scope_types(ANY_SCOPE)
    .operations(&[Operation::new("DELETE", "/v3/groups/{group_id}/users/{user_id}")]),
    RuleDefault::new(
        "identity:check_user_in_group",
        concat!(
            "(rule:admin_required) or (role:reader and system_scope:all) or",
            " (role:reader and domain_id:%(target.group.domain_id)s and",
            " domain_id:%(target.user.domain_id)s)",
        ),
    )
    .description("Check whether a user belongs to a group.")
    .scope_types(ANY_SCOPE)
    .operations(&[
        Operation::new("HEAD", "/v3/groups/{group_id}/users/{user_id}"),
        Operation::new("GET", "/v3/groups/{group_id}/users/{user_id}"),
    ]),
    RuleDefault::new(
        "identity:add_user_to_group",
        concat!(
            "(rule:admin_required) or (role:manager and",
            " domain_id:%(target.group.domain_id)s and",
            " domain_id:%(target.user.domain_id)s)",
        ),
    )
    .description("Add a user to a group.")
    .scope_types(ANY_SCOPE)
    .operations(&[Operation::new("PUT", "/v3/groups/{group_id}/users/{user_id}")]),
    // ---- Roles, global and domain-specific. (keystone/common/policies/role.py)
    RuleDefault::new(
        "identity:get_role",
        concat!(
            "(rule:admin_required or (role:reader and system_scope:all)) or",
            " (role:manager and rule:domain_managed_target_role)",
        ),
    )
    .description("Show a global role.")
    .scope_types(ANY_SCOPE)
    .operations(&[
        Operation::new("GET", "/v3/roles/{role_id}"),
        Operation::new("HEAD", "/v3/roles/{role_id}"),
    ]),
    RuleDefault::new(
        "identity:list_roles",
        concat!(
            "(rule:admin_required or (role:reader and system_scope:all)) or",
            " (role:manager and not domain_id:None)",
        ),
    )
    .description("List global roles.")
    .scope_types(ANY_SCOPE)
    .operations(&[Operation::new("GET", "/v3/roles"), Operation::new("HEAD", "/v3/roles")]),
    RuleDefault::new("identity:create_role", "rule:admin_required")
        .description("Create a global role.")
        .scope_types(SYSTEM_PROJECT)
        .operations(&[Operation::new("POST", "/v3/roles")]),
    RuleDefault::new("identity:update_role", "rule:admin_required")
        .description("Update a global role.")
        .scope_types(SYSTEM_PROJECT)
        .operations(&[Operation::new("PATCH", "/v3/roles/{role_id}")]),
    RuleDefault::new("identity:delete_role", "rule:admin_required")
        .description("Delete a global role.")
        .scope_types(SYSTEM_PROJECT)
        .operations(&[Operation::new("DELETE", "/v3/roles/{role_id}")]),
    RuleDefault::new("identity:get_domain_role", "rule:admin_required or (role:reader and system_scope:all)")
        .description("Show a domain-specific role.")
        .scope_types(SYSTEM_PROJECT)
        .operations(&[
            Operation::new("GET", "/v3/roles/{role_id}"),
            Operation::new("HEAD", "/v3/roles/{role_id}"),
        ]),
    RuleDefault::new(
        "identity:list_domain_roles",
        "rule:admin_required or (role:reader and system_scope:all)",
    )
    .description("List a domain's own roles.")
    .scope_types(SYSTEM_PROJECT)
    .operations(&[
        Operation::new("GET", "/v3/roles?domain_id={domain_id}"),
        Operation::new("HEAD", "/v3/roles?domain_id={domain_id}"),
    ]),
    RuleDefault::new("identity:create_domain_role", "rule:admin_required")
        .description("Create a domain-specific role.")
        .scope_types(SYSTEM_PROJECT)
        .operations(&[Operation::new("POST", "/v3/roles")]),
    RuleDefault::new("identity:update_domain_role", "rule:admin_required")
        .description("Update a domain-specific role.")
        .scope_types(SYSTEM_PROJECT)
        .operations(&[Operation::new("PATCH", "/v3/roles/{role_id}")]),
    RuleDefault::new("identity:delete_domain_role", "rule:admin_required")
        .description("Delete a domain-specific role.")
        .scope_types(SYSTEM_PROJECT)
        .operations(&[Operation::new("DELETE", "/v3/roles/{role_id}")]),
    // ---- Implied roles (role inference rules). (keystone/common/policies/implied_role.py)
    RuleDefault::new(
        "identity:get_implied_role",
        "rule:admin_required or (role:reader and system_scope:all)",
    )
    .description("Show one role implication: holders of the prior role also get the implied role.")
    .scope_types(SYSTEM_PROJECT)
    .operations(&[Operation::new("GET", "/v3/roles/{prior_role_id}/implies/{implied_role_id}")]),
    RuleDefault::new(
        "identity:list_implied_roles",
        "rule:admin_required or (role:reader and system_scope:all)",
    )
    .description("List the roles a prior role implies.")
    .scope_types(SYSTEM_PROJECT)
    .operations(&[
        Operation::new("GET", "/v3/roles/{prior_role_id}/implies"),
        Operation::new("HEAD", "/v3/roles/{prior_role_id}/implies"),
    ]),
    RuleDefault::new("identity:create_implied_role", "rule:admin_required")
        .description("Make one role imply another.")
        .scope_types(SYSTEM_PROJECT)
        .operations(&[Operation::new("PUT", "/v3/roles/{prior_role_id}/implies/{implied_role_id}")]),
    RuleDefault::new("identity:delete_implied_role", "rule:admin_required")
        .description("Remove a role implication.")
        .scope_types(SYSTEM_PROJECT)
        .operations(&[Operation::new("DELETE", "/v3/roles/{prior_role_id}/implies/{implied_role_id}")]),
    RuleDefault::new(
        "identity:list_role_inference_rules",
        "rule:admin_required or (role:reader and system_scope:all)",
    )
    .description("List every role implication.")
    .scope_types(SYSTEM_PROJECT)
    .operations(&[
        Operation::new("GET", "/v3/role_inferences"),
        Operation::new("HEAD", "/v3/role_inferences"),
    ]),
    RuleDefault::new(
        "identity:check_implied_role",
        "rule:admin_required or (role:reader and system_scope:all)",
    )
    .description("Check whether one role implies another.")
    .scope_types(SYSTEM_PROJECT)
    .operations(&[Operation::new("HEAD", "/v3/roles/{prior_role_id}/implies/{implied_role_id}")]),
    // ---- Role assignments. (keystone/common/policies/role_assignment.py)
    RuleDefault::new(
        "identity:list_role_assignments",
        concat!(
            "(rule:admin_required) or (role:reader and system_scope:all) or",
            " (role:reader and domain_id:%(target.domain_id)s)",
        ),
    )
    .description("List role assignments.")
    .scope_types(ANY_SCOPE)
    .operations(&[
        Operation::new("GET", "/v3/role_assignments"),
        Operation::new("HEAD", "/v3/role_assignments"),
    ]),
    RuleDefault::new(
        "identity:list_role_assignments_for_tree",
        concat!(
            "(rule:admin_required) or (role:reader and system_scope:all) or",
            " (role:reader and domain_id:%(target.domain_id)s)",
        ),
    )
    .description("List the role assignments on a project and its subtree.")
    .scope_types(ANY_SCOPE)
    .operations(&[
        Operation::new("GET", "/v3/role_assignments?include_subtree"),
        Operation::new("HEAD", "/v3/role_assignments?include_subtree"),
    ]),
    // ---- Role grants on projects, domains and the system. (keystone/common/policies/grant.py)
    RuleDefault::new(
        "identity:check_grant",
        concat!(
            "(rule:admin_required) or ((role:reader and system_scope:all) or",
            " ((role:reader and domain_id:%(target.user.domain_id)s and",
            " domain_id:%(target.project.domain_id)s) or (role:reader and",
            " domain_id:%(target.user.domain_id)s and",
            " domain_id:%(target.domain.id)s) or (role:reader and",
            " domain_id:%(target.group.domain_id)s and",
            " domain_id:%(target.project.domain_id)s) or (role:reader and",
            " domain_id:%(target.group.domain_id)s and",
            " domain_id:%(target.domain.id)s)) and",
            " (domain_id:%(target.role.domain_id)s or",
            " None:%(target.role.domain_id)s))",
        ),
    )
    .description("Check whether a user or group holds a role on a project or domain, directly or inherited.")
    .scope_types(ANY_SCOPE)
    .operations(&[
        Operation::new("HEAD", "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}"),
        Operation::new("GET", "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}"),
        Operation::new("HEAD", "/v3/projects/{project_id}/groups/{group_id}/roles/{role_id}"),
        Operation::new("GET", "/v3/projects/{project_id}/groups/{group_id}/roles/{role_id}"),
        Operation::new("HEAD", "/v3/domains/{domain_id}/users/{user_id}/roles/{role_id}"),
        Operation::new("GET", "/v3/domains/{domain_id}/users/{user_id}/roles/{role_id}"),
        Operation::new("HEAD", "/v3/domains/{domain_id}/groups/{group_id}/roles/{role_id}"),
        Operation::new("GET", "/v3/domains/{domain_id}/groups/{group_id}/roles/{role_id}"),
        Operation::new(
            "HEAD",
            "/v3/OS-INHERIT/projects/{project_id}/users/{user_id}/roles/{role_id}/inherited_to_projects",
        ),
        Operation::new(
            "GET",
            "/v3/OS-INHERIT/projects/{project_id}/users/{user_id}/roles/{role_id}/inherited_to_projects",
        ),
        Operation::new(
            "HEAD",
            "/v3/OS-INHERIT/projects/{project_id}/groups/{group_id}/roles/{role_id}/inherited_to_projects",
        ),
        Operation::new(
            "GET",
            "/v3/OS-INHERIT/projects/{project_id}/groups/{group_id}/roles/{role_id}/inherited_to_projects",
        ),
        Operation::new(
            "HEAD",
            "/v3/OS-INHERIT/domains/{domain_id}/users/{user_id}/roles/{role_id}/inherited_to_projects",
        ),
        Operation::new(
            "GET",
            "/v3/OS-INHERIT/domains/{domain_id}/users/{user_id}/roles/{role_id}/inherited_to_projects",
        ),
        Operation::new(
            "HEAD",
            "/v3/OS-INHERIT/domains/{domain_id}/groups/{group_id}/roles/{role_id}/inherited_to_projects",
        ),
        Operation::new(
            "GET",
            "/v3/OS-INHERIT/domains/{domain_id}/groups/{group_id}/roles/{role_id}/inherited_to_projects",
        ),
    ]),
    RuleDefault::new(
        "identity:list_grants",
        concat!(
            "(rule:admin_required) or ((role:reader and system_scope:all) or",
            " (role:reader and domain_id:%(target.user.domain_id)s and",
            " domain_id:%(target.project.domain_id)s) or (role:reader and",
            " domain_id:%(target.user.domain_id)s and",
            " domain_id:%(target.domain.id)s) or (role:reader and",
            " domain_id:%(target.group.domain_id)s and",
            " domain_id:%(target.project.domain_id)s) or (role:reader and",
            " domain_id:%(target.group.domain_id)s and",
            " domain_id:%(target.domain.id)s))",
        ),
    )
    .description("List the roles a user or group holds on a project or domain, directly or inherited.")
    .scope_types(ANY_SCOPE)
    .operations(&[
        Operation::new("GET", "/v3/projects/{project_id}/users/{user_id}/roles"),
        Operation::new("HEAD", "/v3/projects/{project_id}/users/{user_id}/roles"),
        Operation::new("GET", "/v3/projects/{project_id}/groups/{group_id}/roles"),
        Operation::new("HEAD", "/v3/projects/{project_id}/groups/{group_id}/roles"),
        Operation::new("GET", "/v3/domains/{domain_id}/users/{user_id}/roles"),
        Operation::new("HEAD", "/v3/domains/{domain_id}/users/{user_id}/roles"),
        Operation::new("GET", "/v3/domains/{domain_id}/groups/{group_id}/roles"),
        Operation::new("HEAD", "/v3/domains/{domain_id}/groups/{group_id}/roles"),
        Operation::new(
            "GET",
            "/v3/OS-INHERIT/domains/{domain_id}/groups/{group_id}/roles/inherited_to_projects",
        ),
        Operation::new(
            "GET",
            "/v3/OS-INHERIT/domains/{domain_id}/users/{user_id}/roles/inherited_to_projects",
        ),
    ]),
    RuleDefault::new(
        "identity:create_grant",
        concat!(
            "(rule:admin_required) or ((role:admin and",
            " domain_id:%(target.user.domain_id)s and",
            " domain_id:%(target.project.domain_id)s) or (role:admin and",
            " domain_id:%(target.user.domain_id)s and",
            " domain_id:%(target.domain.id)s) or (role:admin and",
            " domain_id:%(target.group.domain_id)s and",
            " domain_id:%(target.project.domain_id)s) or (role:admin and",
            " domain_id:%(target.group.domain_id)s and",
            " domain_id:%(target.domain.id)s)) and",
            " (domain_id:%(target.role.domain_id)s or",
            " None:%(target.role.domain_id)s) or ((role:manager and",
            " domain_id:%(target.user.domain_id)s and",
            " domain_id:%(target.project.domain_id)s) or (role:manager and",
            " domain_id:%(target.user.domain_id)s and",
            " domain_id:%(target.domain.id)s) or (role:manager and",
            " domain_id:%(target.group.domain_id)s and",
            " domain_id:%(target.project.domain_id)s) or (role:manager and",
            " domain_id:%(target.group.domain_id)s and",
            " domain_id:%(target.domain.id)s)) and",
            " rule:domain_managed_target_role",
        ),
    )
    .description("Grant a user or group a role on a project or domain, optionally inherited by the subtree.")
    .scope_types(ANY_SCOPE)
    .operations(&[
        Operation::new("PUT", "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}"),
        Operation::new("PUT", "/v3/projects/{project_id}/groups/{group_id}/roles/{role_id}"),
        Operation::new("PUT", "/v3/domains/{domain_id}/users/{user_id}/roles/{role_id}"),
        Operation::new("PUT", "/v3/domains/{domain_id}/groups/{group_id}/roles/{role_id}"),
        Operation::new(
            "PUT",
            "/v3/OS-INHERIT/projects/{project_id}/users/{user_id}/roles/{role_id}/inherited_to_projects",
        ),
        Operation::new(
            "PUT",
            "/v3/OS-INHERIT/projects/{project_id}/groups/{group_id}/roles/{role_id}/inherited_to_projects",
        ),
        Operation::new(
            "PUT",
            "/v3/OS-INHERIT/domains/{domain_id}/users/{user_id}/roles/{role_id}/inherited_to_projects",
        ),
        Operation::new(
            "PUT",
            "/v3/OS-INHERIT/domains/{domain_id}/groups/{group_id}/roles/{role_id}/inherited_to_projects",
        ),
    ]),
    RuleDefault::new(
        "identity:revoke_grant",
        concat!(
            "(rule:admin_required) or ((role:admin and",
            " domain_id:%(target.user.domain_id)s and",
            " domain_id:%(target.project.domain_id)s) or (role:admin and",
            " domain_id:%(target.user.domain_id)s and",
            " domain_id:%(target.domain.id)s) or (role:admin and",
            " domain_id:%(target.group.domain_id)s and",
            " domain_id:%(target.project.domain_id)s) or (role:admin and",
            " domain_id:%(target.group.domain_id)s and",
            " domain_id:%(target.domain.id)s)) and",
            " (domain_id:%(target.role.domain_id)s or",
            " None:%(target.role.domain_id)s) or ((role:manager and",
            " domain_id:%(target.user.domain_id)s and",
            " domain_id:%(target.project.domain_id)s) or (role:manager and",
            " domain_id:%(target.user.domain_id)s and",
            " domain_id:%(target.domain.id)s) or (role:manager and",
            " domain_id:%(target.group.domain_id)s and",
            " domain_id:%(target.project.domain_id)s) or (role:manager and",
            " domain_id:%(target.group.domain_id)s and",
            " domain_id:%(target.domain.id)s)) and",
            " rule:domain_managed_target_role",
        ),
    )
    .description("Revoke a user's or group's role on a project or domain, including inherited grants.")
    .scope_types(ANY_SCOPE)
    .operations(&[
        Operation::new("DELETE", "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}"),
        Operation::new("DELETE", "/v3/projects/{project_id}/groups/{group_id}/roles/{role_id}"),
        Operation::new("DELETE", "/v3/domains/{domain_id}/users/{user_id}/roles/{role_id}"),
        Operation::new("DELETE", "/v3/domains/{domain_id}/groups/{group_id}/roles/{role_id}"),
        Operation::new(
            "DELETE",
            "/v3/OS-INHERIT/projects/{project_id}/users/{user_id}/roles/{role_id}/inherited_to_projects",
        ),
        Operation::new(
            "DELETE",
            "/v3/OS-INHERIT/projects/{project_id}/groups/{group_id}/roles/{role_id}/inherited_to_projects",
        ),
        Operation::new(
            "DELETE",
            "/v3/OS-INHERIT/domains/{domain_id}/users/{user_id}/roles/{role_id}/inherited_to_projects",
        ),
        Operation::new(
            "DELETE",
            "/v3/OS-INHERIT/domains/{domain_id}/groups/{group_id}/roles/{role_id}/inherited_to_projects",
        ),
    ]),
    RuleDefault::new(
        "identity:list_system_grants_for_user",
        "rule:admin_required or (role:reader and system_scope:all)",
    )
    .description("List a user's roles on the system.")
    .scope_types(SYSTEM_PROJECT)
    .operations(&[
        Operation::new("HEAD", "/v3/system/users/{user_id}/roles"),
        Operation::new("GET", "/v3/system/users/{user_id}/roles"),
    ]),
    RuleDefault::new(
        "identity:check_system_grant_for_user",
        "rule:admin_required or (role:reader and system_scope:all)",
    )
    .description("Check whether a user holds a role on the system.")
    .scope_types(SYSTEM_PROJECT)
    .operations(&[
        Operation::new("HEAD", "/v3/system/users/{user_id}/roles/{role_id}"),
        Operation::new("GET", "/v3/system/users/{user_id}/roles/{role_id}"),
    ]),
    RuleDefault::new("identity:create_system_grant_for_user", "rule:admin_required")
        .description("Grant a user a role on the system.")
        .scope_types(SYSTEM_PROJECT)
        .operations(&[Operation::new("PUT", "/v3/system/users/{user_id}/roles/{role_id}")]),
    RuleDefault::new("identity:revoke_system_grant_for_user", "rule:admin_required")
        .description("Revoke a user's role on the system.")
        .scope_types(SYSTEM_PROJECT)
        .operations(&[Operation::new("DELETE", "/v3/system/users/{user_id}/roles/{role_id}")]),
    RuleDefault::new(
        "identity:list_system_grants_for_group",
        "rule:admin_required or (role:reader and system_scope:all)",
    )
    .description("List a group's roles on the system.")
    .scope_types(SYSTEM_PROJECT)
    .operations(&[
        Operation::new("HEAD", "/v3/system/groups/{group_id}/roles"),
        Operation::new("GET", "/v3/system/groups/{group_id}/roles"),
    ]),
    RuleDefault::new(
        "identity:check_system_grant_for_group",
        "rule:admin_required or (role:reader and system_scope:all)",
    )
    .description("Check whether a group holds a role on the system.")
    .scope_types(SYSTEM_PROJECT)
    .operations(&[
        Operation::new("HEAD", "/v3/system/groups/{group_id}/roles/{role_id}"),
        Operation::new("GET", "/v3/system/groups/{group_id}/roles/{role_id}"),
    ]),
    RuleDefault::new("identity:create_system_grant_for_group", "rule:admin_required")
        .description("Grant a group a role on the system.")
        .scope_types(SYSTEM_PROJECT)
        .operations(&[Operation::new("PUT", "/v3/system/groups/{group_id}/roles/{role_id}")]),
    RuleDefault::new("identity:revoke_system_grant_for_group", "rule:admin_required")
        .description("Revoke a group's role on the system.")
        .scope_types(SYSTEM_PROJECT)
        .operations(&[Operation::new("DELETE", "/v3/system/groups/{group_id}/roles/{role_id}")]),
    // ---- Regions. (keystone/common/policies/region.py)
    RuleDefault::new("identity:get_region", "")
        .description("Show a region.")
        .scope_types(ANY_SCOPE)
        .operations(&[
            Operation::new("GET", "/v3/regions/{region_id}"),
            Operation::new("HEAD", "/v3/regions/{region_id}"),
        ]),
    RuleDefault::new("identity:list_regions", "")
        .description("List regions.")
        .scope_types(ANY_SCOPE)
        .operations(&[Operation::new("GET", "/v3/regions"), Operation::new("HEAD", "/v3/regions")]),
    RuleDefault::new("identity:create_region", "rule:admin_required")
        .description("Create a region.")
        .scope_types(SYSTEM_PROJECT)
        .operations(&[
            Operation::new("POST", "/v3/regions"),
            Operation::new("PUT", "/v3/regions/{region_id}"),
        ]),
    RuleDefault::new("identity:update_region", "rule:admin_required")
        .description("Update a region.")
        .scope_types(SYSTEM_PROJECT)
        .operations(&[Operation::new("PATCH", "/v3/regions/{region_id}")]),
    RuleDefault::new("identity:delete_region", "rule:admin_required")
        .description("Delete a region.")
        .scope_types(SYSTEM_PROJECT)
        .operations(&[Operation::new("DELETE", "/v3/regions/{region_id}")]),
    // ---- Services. (keystone/common/policies/service.py)
    RuleDefault::new("identity:get_service", "rule:admin_required or (role:reader and system_scope:all)")
        .description("Show a service.")
        .scope_types(SYSTEM_PROJECT)
        .operations(&[Operation::new("GET", "/v3/services/{service_id}")]),
    RuleDefault::new("identity:list_services", "rule:admin_required or (role:reader and system_scope:all)")
        .description("List services.")
        .scope_types(SYSTEM_PROJECT)
        .operations(&[Operation::new("GET", "/v3/services")]),
    RuleDefault::new("identity:create_service", "rule:admin_required")
        .description("Create a service.")
        .scope_types(SYSTEM_PROJECT)
        .operations(&[Operation::new("POST", "/v3/services")]),
    RuleDefault::new("identity:update_service", "rule:admin_required")
        .description("Update a service.")
        .scope_types(SYSTEM_PROJECT)
        .operations(&[Operation::new("PATCH", "/v3/services/{service_id}")]),
    RuleDefault::new("identity:delete_service", "rule:admin_required")
        .description("Delete a service.")
        .scope_types(SYSTEM_PROJECT)
        .operations(&[Operation::new("DELETE", "/v3/services/{service_id}")]),
    // ---- Endpoints. (keystone/common/policies/endpoint.py)
    RuleDefault::new("identity:get_endpoint", "rule:admin_required or (role:reader and system_scope:all)")
        .description("Show an endpoint.")
        .scope_types(SYSTEM_PROJECT)
        .operations(&[Operation::new("GET", "/v3/endpoints/{endpoint_id}")]),
    RuleDefault::new("identity:list_endpoints", "rule:admin_required or (role:reader and system_scope:all)")
        .description("List endpoints.")
        .scope_types(SYSTEM_PROJECT)
        .operations(&[Operation::new("GET", "/v3/endpoints")]),
    RuleDefault::new("identity:create_endpoint", "rule:admin_required")
        .description("Create an endpoint.")
        .scope_types(SYSTEM_PROJECT)
        .operations(&[Operation::new("POST", "/v3/endpoints")]),
    RuleDefault::new("identity:update_endpoint", "rule:admin_required")
        .description("Update an endpoint.")
        .scope_types(SYSTEM_PROJECT)
        .operations(&[Operation::new("PATCH", "/v3/endpoints/{endpoint_id}")]),
    RuleDefault::new("identity:delete_endpoint", "rule:admin_required")
        .description("Delete an endpoint.")
        .scope_types(SYSTEM_PROJECT)
        .operations(&[Operation::new("DELETE", "/v3/endpoints/{endpoint_id}")]),
    // ---- Application credentials. (keystone/common/policies/application_credential.py)
    RuleDefault::new(
        "identity:get_application_credential",
        concat!("(rule:admin_required) or (role:reader and system_scope:all) or", " rule:owner",),
    )
    .description("Show one of a user's application credentials.")
    .scope_types(SYSTEM_PROJECT)
    .operations(&[
        Operation::new("GET", "/v3/users/{user_id}/application_credentials/{application_credential_id}"),
        Operation::new("HEAD", "/v3/users/{user_id}/application_credentials/{application_credential_id}"),
    ]),
    RuleDefault::new(
        "identity:list_application_credentials",
        concat!("(rule:admin_required) or (role:reader and system_scope:all) or", " rule:owner",),
    )
    .description("List a user's application credentials.")
    .scope_types(SYSTEM_PROJECT)
    .operations(&[
        Operation::new("GET", "/v3/users/{user_id}/application_credentials"),
        Operation::new("HEAD", "/v3/users/{user_id}/application_credentials"),
    ]),
    RuleDefault::new("identity:create_application_credential", "user_id:%(user_id)s")
        .description("Create an application credential for the calling user.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/v3/users/{user_id}/application_credentials")]),
    RuleDefault::new("identity:delete_application_credential", "rule:admin_or_owner")
        .description("Delete one of a user's application credentials.")
        .scope_types(SYSTEM_PROJECT)
        .operations(&[Operation::new(
            "DELETE",
            "/v3/users/{user_id}/application_credentials/{application_credential_id}",
        )]),
    // ---- Access rules of application credentials. (keystone/common/policies/access_rule.py)
    RuleDefault::new(
        "identity:get_access_rule",
        "(role:reader and system_scope:all) or user_id:%(target.user.id)s",
    )
    .description("Show one access rule of a user's application credentials.")
    .scope_types(SYSTEM_PROJECT)
    .operations(&[
        Operation::new("GET", "/v3/users/{user_id}/access_rules/{access_rule_id}"),
        Operation::new("HEAD", "/v3/users/{user_id}/access_rules/{access_rule_id}"),
    ]),
    RuleDefault::new(
        "identity:list_access_rules",
        "(role:reader and system_scope:all) or user_id:%(target.user.id)s",
    )
    .description("List the access rules of a user's application credentials.")
    .scope_types(SYSTEM_PROJECT)
    .operations(&[
        Operation::new("GET", "/v3/users/{user_id}/access_rules"),
        Operation::new("HEAD", "/v3/users/{user_id}/access_rules"),
    ]),
    RuleDefault::new(
        "identity:delete_access_rule",
        "(role:admin and system_scope:all) or user_id:%(target.user.id)s",
    )
    .description("Delete an access rule of a user's application credentials.")
    .scope_types(SYSTEM_PROJECT)
    .operations(&[Operation::new("DELETE", "/v3/users/{user_id}/access_rules/{access_rule_id}")]),
];

#[cfg(test)]
mod tests {
    use super::DEFAULTS;
    use serde_json::{json, Value};
    use stratus_core::policy::{Credentials, DenyReason, Policy, Scope};

    const ME: &str = "u-me";
    const OTHER: &str = "u-other";
    const DOM: &str = "d-home";
    const OTHER_DOM: &str = "d-away";
    const PROJ: &str = "p-home";

    fn policy() -> Policy {
        Policy::new(DEFAULTS).expect("keystone defaults parse")
    }

    fn roles(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn project_creds(role_names: &[&str]) -> Credentials {
        Credentials {
            user_id: Some(ME.into()),
            user_domain_id: Some(DOM.into()),
            project_id: Some(PROJ.into()),
            project_domain_id: Some(DOM.into()),
            roles: roles(role_names),
            ..Default::default()
        }
    }

    fn domain_creds(role_names: &[&str]) -> Credentials {
        Credentials {
            user_id: Some(ME.into()),
            user_domain_id: Some(DOM.into()),
            domain_id: Some(DOM.into()),
            roles: roles(role_names),
            ..Default::default()
        }
    }

    fn system_creds(role_names: &[&str]) -> Credentials {
        Credentials {
            user_id: Some(ME.into()),
            user_domain_id: Some(DOM.into()),
            system_scope: Some("all".into()),
            roles: roles(role_names),
            ..Default::default()
        }
    }

    /// A target naming every object the identity rules read, all owned by `user` and in
    /// `domain`, with a global `role_name` role.
    fn full_target(user: &str, domain: &str, role_name: &str) -> Value {
        json!({
            "user_id": user,
            "target": {
                "user": {"id": user, "domain_id": domain, "enabled": true},
                "group": {"id": "g1", "domain_id": domain},
                "project": {"id": PROJ, "domain_id": domain},
                "domain": {"id": domain},
                "domain_id": domain,
                "role": {"id": "r1", "name": role_name, "domain_id": null},
                "token": {"user_id": user},
            }
        })
    }

    fn is_read(name: &str) -> bool {
        let action = name.trim_start_matches("identity:");
        ["get_", "list_", "check_", "validate_"].iter().any(|p| action.starts_with(p))
            || action == "revocation_list"
    }

    fn allowed(p: &Policy, creds: &Credentials, target: &Value) -> Vec<&'static str> {
        DEFAULTS.iter().filter(|d| p.enforce(d.name, creds, target)).map(|d| d.name).collect()
    }

    /// The `identity:*` rules (the operations) that deny.
    fn denied(p: &Policy, creds: &Credentials, target: &Value) -> Vec<&'static str> {
        DEFAULTS
            .iter()
            .filter(|d| d.name.starts_with("identity:") && !p.enforce(d.name, creds, target))
            .map(|d| d.name)
            .collect()
    }

    #[test]
    fn defaults_load_and_are_complete() {
        let p = policy();
        assert!(p.unresolved_references().is_empty());
        assert_eq!(p.rules().len(), DEFAULTS.len());
        for name in [
            "admin_required",
            "service_role",
            "owner",
            "admin_or_owner",
            "token_subject",
            "identity:check_token",
            "identity:validate_token",
            "identity:revoke_token",
            "identity:list_revoke_events",
            "identity:revocation_list",
            "identity:get_auth_catalog",
            "identity:get_auth_projects",
            "identity:get_auth_domains",
            "identity:get_auth_system",
            "identity:list_user_projects",
            "identity:update_project_tags",
            "identity:list_groups_for_user",
            "identity:list_users_in_group",
            "identity:check_user_in_group",
            "identity:list_role_inference_rules",
            "identity:list_role_assignments_for_tree",
            "identity:create_system_grant_for_group",
            "identity:delete_application_credential",
            "identity:delete_region",
            "identity:update_service",
            "identity:delete_endpoint",
        ] {
            assert!(p.contains(name), "{name} missing");
        }
        // Keystone has no rule for the self-service password change; see the module docs.
        assert!(!p.contains("identity:change_password"));
        // Every identity:* rule says which scopes it is for, except those keystone leaves open.
        let open: Vec<&str> = DEFAULTS
            .iter()
            .filter(|d| d.name.starts_with("identity:") && d.scope_types.is_empty())
            .map(|d| d.name)
            .collect();
        assert_eq!(
            open,
            [
                "identity:get_auth_catalog",
                "identity:get_auth_projects",
                "identity:get_auth_domains",
                "identity:get_auth_system",
                "identity:list_projects_for_user",
                "identity:list_domains_for_user",
            ]
        );
        assert!(DEFAULTS.iter().all(|d| !d.description.is_empty()));
    }

    #[test]
    fn check_strings_are_keystones() {
        let p = policy();
        let check = |n: &str| p.rule(n).unwrap().check_str.to_owned();
        assert_eq!(check("admin_required"), "role:admin or is_admin:1");
        assert_eq!(check("owner"), "user_id:%(user_id)s");
        assert_eq!(
            check("identity:get_user"),
            "(rule:admin_required) or (role:reader and system_scope:all) or \
             (role:reader and token.domain.id:%(target.user.domain_id)s) or \
             user_id:%(target.user.id)s"
        );
        assert_eq!(
            check("identity:create_project"),
            "(rule:admin_required) or (role:manager and \
             domain_id:%(target.project.domain_id)s and not None:%(target.project.domain_id)s)"
        );
        assert_eq!(
            check("identity:list_roles"),
            "(rule:admin_required or (role:reader and system_scope:all)) or \
             (role:manager and not domain_id:None)"
        );
        assert_eq!(
            check("identity:validate_token"),
            "rule:admin_required or (role:reader and system_scope:all) or \
             rule:service_role or rule:token_subject"
        );
        assert!(check("identity:create_grant").ends_with("and rule:domain_managed_target_role"));
        assert_eq!(check("identity:get_region"), "");
    }

    #[test]
    fn project_admin_may_do_everything() {
        let p = policy();
        let admin = project_creds(&["admin", "manager", "member", "reader"]);
        // Acting on itself, the admin passes every rule.
        let own = full_target(ME, DOM, "admin");
        assert_eq!(denied(&p, &admin, &own), Vec::<&str>::new());
        // On another user in another domain, only the owner-only rules refuse it.
        let foreign = full_target(OTHER, OTHER_DOM, "admin");
        assert_eq!(
            denied(&p, &admin, &foreign),
            [
                "identity:create_application_credential",
                "identity:get_access_rule",
                "identity:list_access_rules",
                "identity:delete_access_rule",
            ]
        );
        // With an empty target too (e.g. list calls): admin_required needs nothing.
        for name in [
            "identity:list_users",
            "identity:create_domain",
            "identity:create_grant",
            "identity:delete_role",
            "identity:create_service",
            "identity:update_endpoint",
            "identity:list_revoke_events",
        ] {
            assert!(p.enforce(name, &admin, &json!({})), "{name}");
        }
    }

    #[test]
    fn project_member_cannot_administer() {
        let p = policy();
        let member = project_creds(&["member", "reader"]);
        let own_domain = full_target(OTHER, DOM, "member");
        for name in [
            "identity:list_users",
            "identity:create_user",
            "identity:update_user",
            "identity:delete_user",
            "identity:create_project",
            "identity:update_project",
            "identity:delete_project",
            "identity:create_project_tag",
            "identity:create_grant",
            "identity:revoke_grant",
            "identity:create_system_grant_for_user",
            "identity:create_group",
            "identity:add_user_to_group",
            "identity:list_groups",
            "identity:create_domain",
            "identity:create_role",
            "identity:create_implied_role",
            "identity:list_role_assignments",
            "identity:create_region",
            "identity:create_service",
            "identity:create_endpoint",
            "identity:list_services",
            "identity:list_endpoints",
            "identity:list_revoke_events",
        ] {
            assert!(!p.enforce(name, &member, &own_domain), "{name}");
            assert!(!p.enforce(name, &member, &json!({})), "{name}");
        }
        // Regions and the caller's own scopes and catalog are open to everyone.
        for name in [
            "identity:list_regions",
            "identity:get_region",
            "identity:get_auth_catalog",
            "identity:get_auth_projects",
        ] {
            assert!(p.enforce(name, &member, &json!({})), "{name}");
        }
    }

    #[test]
    fn readers_read_but_do_not_write() {
        let p = policy();
        // A project reader sees its own project, its tags and its domain...
        let reader = project_creds(&["reader"]);
        let own = full_target(ME, DOM, "reader");
        for name in [
            "identity:get_project",
            "identity:list_project_tags",
            "identity:get_project_tag",
            "identity:get_domain",
            "identity:get_user",
            "identity:list_user_projects",
            "identity:list_groups_for_user",
        ] {
            assert!(p.enforce(name, &reader, &own), "{name}");
        }
        // ...but changes none of it, and sees no other project.
        for name in [
            "identity:update_project",
            "identity:update_project_tags",
            "identity:delete_project_tag",
            "identity:update_domain",
            "identity:update_user",
        ] {
            assert!(!p.enforce(name, &reader, &own), "{name}");
        }
        let other_project = json!({"target": {"project": {"id": "p-x", "domain_id": OTHER_DOM}}});
        assert!(!p.enforce("identity:get_project", &reader, &other_project));

        // A domain reader lists and reads inside its domain only.
        let dreader = domain_creds(&["reader"]);
        let in_domain = full_target(OTHER, DOM, "member");
        let away = full_target(OTHER, OTHER_DOM, "member");
        for name in [
            "identity:list_users",
            "identity:get_user",
            "identity:list_groups",
            "identity:get_group",
            "identity:list_users_in_group",
            "identity:check_user_in_group",
            "identity:list_projects",
            "identity:get_project",
            "identity:list_role_assignments",
            "identity:list_grants",
            "identity:check_grant",
            "identity:list_user_projects",
            "identity:list_groups_for_user",
        ] {
            assert!(p.enforce(name, &dreader, &in_domain), "{name} in domain");
            assert!(!p.enforce(name, &dreader, &away), "{name} in another domain");
        }
        for name in [
            "identity:create_user",
            "identity:update_user",
            "identity:delete_user",
            "identity:create_group",
            "identity:add_user_to_group",
            "identity:create_project",
            "identity:update_project",
            "identity:create_grant",
            "identity:revoke_grant",
        ] {
            assert!(!p.enforce(name, &dreader, &in_domain), "{name}");
        }
    }

    #[test]
    fn system_reader_reads_everything_and_writes_nothing() {
        let p = policy();
        let reader = system_creds(&["reader"]);
        let foreign = full_target(OTHER, OTHER_DOM, "member");
        let may: Vec<&str> = allowed(&p, &reader, &foreign);
        let reads_refused: Vec<&str> =
            DEFAULTS.iter().filter(|d| is_read(d.name) && !may.contains(&d.name)).map(|d| d.name).collect();
        // Only the service-facing revocation APIs are closed to readers.
        assert_eq!(reads_refused, ["identity:revocation_list", "identity:list_revoke_events"]);
        let writes_allowed: Vec<&str> =
            may.iter().copied().filter(|n| n.starts_with("identity:") && !is_read(n)).collect();
        assert_eq!(writes_allowed, Vec::<&str>::new());
        // Spot checks, including what a system reader may see of other users.
        for name in [
            "identity:list_users",
            "identity:get_user",
            "identity:list_application_credentials",
            "identity:get_application_credential",
            "identity:validate_token",
            "identity:list_role_assignments",
            "identity:list_system_grants_for_user",
        ] {
            assert!(p.enforce(name, &reader, &foreign), "{name}");
        }
        assert!(!p.enforce("identity:revoke_token", &reader, &foreign));
        assert!(!p.enforce("identity:delete_application_credential", &reader, &foreign));
        // The system admin, by contrast, may write.
        let admin = system_creds(&["admin", "reader"]);
        assert!(p.enforce("identity:create_domain", &admin, &foreign));
        assert!(p.enforce("identity:create_system_grant_for_user", &admin, &foreign));
    }

    #[test]
    fn users_manage_their_own_credentials_only() {
        let p = policy();
        let me = project_creds(&["member", "reader"]);
        let mine = full_target(ME, DOM, "member");
        let theirs = full_target(OTHER, DOM, "member");
        for name in [
            "identity:get_user",
            "identity:list_application_credentials",
            "identity:get_application_credential",
            "identity:create_application_credential",
            "identity:delete_application_credential",
            "identity:list_access_rules",
            "identity:get_access_rule",
            "identity:delete_access_rule",
        ] {
            assert!(p.enforce(name, &me, &mine), "{name} on myself");
            assert!(!p.enforce(name, &me, &theirs), "{name} on another user");
        }
        // Changing one's password is not policy-checked (keystone authenticates it with the
        // original password); setting another user's password is an update_user.
        assert!(!p.enforce("identity:update_user", &me, &theirs));
        assert!(!p.enforce("identity:update_user", &me, &mine));
        // Application credentials are for project-scoped tokens.
        let domain_me = domain_creds(&["member", "reader"]);
        assert_eq!(
            p.authorize("identity:create_application_credential", &domain_me, &mine).unwrap_err().reason,
            DenyReason::Scope(Scope::Domain)
        );
    }

    #[test]
    fn tokens() {
        let p = policy();
        let me = project_creds(&["member", "reader"]);
        let mine = json!({"target": {"token": {"user_id": ME}}});
        let theirs = json!({"target": {"token": {"user_id": OTHER}}});
        for name in ["identity:check_token", "identity:validate_token", "identity:revoke_token"] {
            assert!(p.enforce(name, &me, &mine), "{name}");
            assert!(!p.enforce(name, &me, &theirs), "{name}");
            assert!(!p.enforce(name, &me, &json!({})), "{name}");
        }
        let service = project_creds(&["service"]);
        assert!(p.enforce("identity:validate_token", &service, &theirs));
        assert!(!p.enforce("identity:check_token", &service, &theirs));
        assert!(!p.enforce("identity:revoke_token", &service, &theirs));
        assert!(p.enforce("identity:list_revoke_events", &service, &json!({})));
    }

    #[test]
    fn domain_managers_stay_in_their_domain() {
        let p = policy();
        let manager = domain_creds(&["manager", "member", "reader"]);
        let in_domain = full_target(OTHER, DOM, "member");
        let away = full_target(OTHER, OTHER_DOM, "member");
        for name in [
            "identity:create_user",
            "identity:update_user",
            "identity:delete_user",
            "identity:create_group",
            "identity:update_group",
            "identity:add_user_to_group",
            "identity:create_project",
            "identity:update_project",
            "identity:create_project_tag",
            "identity:create_grant",
            "identity:revoke_grant",
            "identity:get_role",
            "identity:list_roles",
        ] {
            assert!(p.enforce(name, &manager, &in_domain), "{name} in domain");
        }
        for name in [
            "identity:create_user",
            "identity:update_group",
            "identity:create_project",
            "identity:create_grant",
        ] {
            assert!(!p.enforce(name, &manager, &away), "{name} in another domain");
        }
        // Managers hand out manager/member/reader, never admin.
        let admin_role = full_target(OTHER, DOM, "admin");
        assert!(!p.enforce("identity:create_grant", &manager, &admin_role));
        assert!(!p.enforce("identity:get_role", &manager, &admin_role));
        // Domain-level operations stay with admins; domain tokens are out of scope for them.
        assert!(!p.enforce("identity:create_domain", &manager, &in_domain));
        let domain_admin = domain_creds(&["admin"]);
        assert_eq!(
            p.authorize("identity:create_domain", &domain_admin, &in_domain).unwrap_err().reason,
            DenyReason::Scope(Scope::Domain)
        );
        // A manager on a project is not a domain manager.
        let project_manager = project_creds(&["manager", "member", "reader"]);
        assert!(!p.enforce("identity:list_roles", &project_manager, &in_domain));
        assert!(!p.enforce("identity:create_user", &project_manager, &in_domain));
        // Grants read by a domain reader: global roles (domain_id None) and the domain's
        // own roles qualify; another domain's role, or a role without the key, does not.
        let dreader = domain_creds(&["reader"]);
        let grant = |role: Value| {
            json!({
                "target": {
                    "user": {"id": OTHER, "domain_id": DOM},
                    "project": {"id": PROJ, "domain_id": DOM},
                    "role": role,
                }
            })
        };
        let check = |role: Value| p.enforce("identity:check_grant", &dreader, &grant(role));
        assert!(check(json!({"id": "r1", "name": "member", "domain_id": null})));
        assert!(check(json!({"id": "r2", "name": "custom", "domain_id": DOM})));
        assert!(!check(json!({"id": "r3", "name": "custom", "domain_id": OTHER_DOM})));
        assert!(!check(json!({"id": "r4", "name": "custom"})));
    }
}
