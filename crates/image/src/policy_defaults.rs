//! Glance's default policy rules (secure RBAC) for the image API, as data.
//!
//! The check strings, scope types and operations are those of glance 2025.2 "Flamingo"
//! (31.x), taken from `glance/policies/{base,image,tasks,cache,discovery}.py`; apart from
//! `service_api` and `stores_info_detail` they are the same in 2024.2 and 2025.1. They are
//! the API contract: an operator's glance `policy.yaml` works unchanged against them.
//! The metadata-definition rules (`glance/policies/metadef.py`, `/v2/metadefs`) are left
//! out: this service has no metadefs API (rules for it in an override file are accepted
//! and unused). Descriptions are our own.
//!
//! Version notes:
//!
//! * `service_api` is `service_roles:service` in 2025.1.x/2025.2: it reads the roles of an
//!   `X-Service-Token`, not of the user's token. In 2026.1 glance widened it to
//!   `role:service or role:admin` (because some services do not send a service token).
//!   Until Stratus fills [`Credentials::service_roles`] from service tokens, only the
//!   owner-member half of `add_image_location` can pass, and `fetch_image_location` passes
//!   for nobody unless an operator overrides it (`stores_info_detail` still passes for
//!   admins).
//! * Glance has **no tag rules**: `PUT`/`DELETE /v2/images/{image_id}/tags/{tag}` are
//!   `modify_image`; neither has it a `get_image_tags` rule (tags come with the image).
//!
//! [`Credentials::service_roles`]: stratus_core::policy::Credentials::service_roles
//!
//! # Roles
//!
//! `admin` (on any project: glance's `context_is_admin` is not tenancy-aware) may do
//! everything except use the service-only locations API (`fetch_image_location`, and
//! `add_image_location` on images its project does not own). `member` of the owning project creates and manages the project's images,
//! their data and their members; `reader` of it sees them. Publishing an image
//! (`visibility` → `public`) is admin-only; making it `community` is for owners. A
//! project an image is shared with (an *image member*) may see and download it and
//! accept or reject the share (`modify_member`), nothing else. Roles in
//! [`Credentials::roles`](stratus_core::policy::Credentials::roles) must include implied
//! roles (admin ⇒ member ⇒ reader).
//!
//! Every operation rule is for project-scoped tokens only: a system- or domain-scoped
//! token is refused (403) before the check string is read, as glance does with oslo's
//! scope enforcement. The base rules (`default`, `context_is_admin`, `service_api`) have
//! no scope types.
//!
//! # Targets the handlers must build
//!
//! Glance does not nest: its targets are flat dicts whose keys the check strings name
//! directly (`%(project_id)s`, `%(owner)s`, `%(visibility)s`, `%(member_id)s`). There are
//! four shapes:
//!
//! | rules | target |
//! |---|---|
//! | `add_image` (and `publicize_image` / `communitize_image` when the body of `POST /v2/images` asks for `public` / `community`) | the **proposed** image: `project_id` and `owner` = the body's `owner` if given, else the caller's project id; `visibility` = the body's, else `"private"` |
//! | `get_images` | `project_id` = the caller's project id (a "may you list at all" check; each listed image is then filtered with `get_image` on its image target) |
//! | every other image rule, the member rules, `cache_image`, `cache_delete` (one image) | the **image target** below, built from the stored image |
//! | `tasks_api_access`, the task rules, `cache_list`, `cache_delete` (all), `manage_image_cache`, `stores_info_detail` | `{}` |
//!
//! The image target (glance's `ImageTarget` over the domain image) has these keys:
//!
//! | key | value |
//! |---|---|
//! | `project_id`, `owner` | the image's owner (project id), `null` if it has none |
//! | `id`, `image_id` | the image id |
//! | `visibility` | `"public"`, `"community"`, `"shared"` or `"private"` |
//! | `member_id` (alias `member`) | the **caller's** project id if the image is `shared` and the caller is not its owner (it was found because the caller is a member, in any member status), else `null` |
//! | `name`, `status`, `disk_format`, `container_format`, `checksum`, `os_hash_algo`, `os_hash_value`, `created_at`, `updated_at` | as stored (`null` when unset) |
//! | `size`, `virtual_size`, `min_disk`, `min_ram` | numbers (`null` when unset) |
//! | `protected`, `os_hidden` | booleans |
//! | `tags` | list of strings |
//! | `extra_properties` | object of the image's additional properties |
//! | each additional property, by its name | its string value (`architecture`, `hypervisor_type`, …) — glance's target falls back to them, so operators can write rules such as `'x86_64':%(architecture)s` |
//!
//! `member_id` must be `null` (not absent) when it does not apply, as glance's
//! `image.member` is `None`; either way `project_id:%(member_id)s` then fails for a
//! scoped token. Member status (`pending` / `accepted` / `rejected`) is **not** in the
//! target: glance applies it when listing, not in policy. Neither does the member's id
//! from the URL of `/members/{member_id}` go into the target.
//!
//! # What the handlers must do around the rules
//!
//! The rules alone let any reader see any `shared` image; glance relies on its database
//! layer for the rest, so the handlers must too:
//!
//! * **Visibility first.** An image is found (else 404) only if the caller is admin
//!   (`context_is_admin`, evaluated with `{}`), or the image has no owner, or it is
//!   `public` or `community`, or the caller's project owns it, or it is `shared` and the
//!   caller's project is a member of it (any status). This is glance's
//!   `glance.db.utils.is_image_visible`.
//! * **Forbidden or not found.** When an image rule other than `get_image` denies, answer
//!   404 if `get_image` also denies (do not reveal images the caller cannot see), 403
//!   otherwise; a `get_image` denial is 404. The proposed-image rules (`add_image`) are
//!   plain 403s.
//! * **Image updates** (`PATCH /v2/images/{image_id}`): each change checks
//!   `modify_image`; a change of `visibility` to `public` first checks `publicize_image`,
//!   to `community` `communitize_image`. Changes to `/locations` check
//!   `set_image_location` (add/replace) or `delete_image_location` (remove) instead;
//!   `get_image_location` decides whether `locations`/`direct_url` are shown.
//! * `PUT /v2/images/{image_id}/stage`, `POST /v2/images/{image_id}/import` (except
//!   method `copy-image`, which is `copy_image`) and the tag calls are `modify_image`;
//!   `GET /v2/images/{image_id}/tasks` is `get_image`.
//! * **Members.** Every member call first checks `get_image` (404 if denied), then its
//!   own rule on the image target; the image must be `shared` (else 403 "Only shared
//!   images have members"). `get_members` lets the owner's readers list all members and a
//!   member list — glance's member repository then shows a non-owner only its own
//!   membership, and lets it update only its own (404 for others'). `modify_member` (a
//!   member's accept/reject) passes only for a member project (`member_id`), so an owner
//!   cannot accept on its members' behalf.
//! * **Tasks.** `tasks_api_access` guards every `/v2/tasks` call; the `*_task` rules are
//!   internal (`rule:default`, which passes).

use stratus_core::policy::{Operation, RuleDefault, Scope};

/// Glance's operations are all meant for project-scoped tokens.
const PROJECT: &[Scope] = &[Scope::Project];

/// The image service's default rules, in glance's order (base, image, tasks, cache,
/// discovery).
pub const DEFAULTS: &[RuleDefault] = &[
    // ---- Base rules, referenced by the others. (glance/policies/base.py)
    RuleDefault::new("default", "").description(
        "The rule of the rules that are just `rule:default` (the internal task rules): \
         passes for anyone.",
    ),
    RuleDefault::new("context_is_admin", "role:admin")
        .description("The caller is a cloud administrator; also what makes every image visible to it."),
    RuleDefault::new("service_api", "service_roles:service")
        .description("The request carries a service token with the service role (service-to-service calls)."),
    // ---- Images. (glance/policies/image.py)
    RuleDefault::new(
        "add_image",
        "rule:context_is_admin or (role:member and project_id:%(project_id)s and project_id:%(owner)s)",
    )
    .description("Create an image; a member may only create images its own project owns.")
    .scope_types(PROJECT)
    .operations(&[Operation::new("POST", "/v2/images")]),
    RuleDefault::new("delete_image", "rule:context_is_admin or (role:member and project_id:%(project_id)s)")
        .description("Delete an image of the caller's project.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("DELETE", "/v2/images/{image_id}")]),
    RuleDefault::new(
        "get_image",
        concat!(
            "rule:context_is_admin or (role:reader and (project_id:%(project_id)s or",
            " project_id:%(member_id)s or 'community':%(visibility)s or",
            " 'public':%(visibility)s or 'shared':%(visibility)s))",
        ),
    )
    .description(
        "Show an image: one the caller's project owns or is a member of, or a public, community \
         or shared one (which shared images are visible at all is decided before policy).",
    )
    .scope_types(PROJECT)
    .operations(&[Operation::new("GET", "/v2/images/{image_id}")]),
    RuleDefault::new("get_images", "rule:context_is_admin or (role:reader and project_id:%(project_id)s)")
        .description("List images (each listed image must also pass get_image).")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/v2/images")]),
    RuleDefault::new("modify_image", "rule:context_is_admin or (role:member and project_id:%(project_id)s)")
        .description("Change an image of the caller's project: its properties, tags, staging and import.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("PATCH", "/v2/images/{image_id}")]),
    RuleDefault::new("publicize_image", "rule:context_is_admin")
        .description("Make an image public (create it public, or set visibility to public).")
        .scope_types(PROJECT)
        .operations(&[Operation::new("PATCH", "/v2/images/{image_id}")]),
    RuleDefault::new(
        "communitize_image",
        "rule:context_is_admin or (role:member and project_id:%(project_id)s)",
    )
    .description("Make an image of the caller's project a community image.")
    .scope_types(PROJECT)
    .operations(&[Operation::new("PATCH", "/v2/images/{image_id}")]),
    RuleDefault::new(
        "download_image",
        concat!(
            "rule:context_is_admin or (role:member and (project_id:%(project_id)s or",
            " project_id:%(member_id)s or 'community':%(visibility)s or",
            " 'public':%(visibility)s or 'shared':%(visibility)s))",
        ),
    )
    .description("Download the data of an image the caller can see; readers may not download.")
    .scope_types(PROJECT)
    .operations(&[Operation::new("GET", "/v2/images/{image_id}/file")]),
    RuleDefault::new("upload_image", "rule:context_is_admin or (role:member and project_id:%(project_id)s)")
        .description("Upload the data of an image of the caller's project.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("PUT", "/v2/images/{image_id}/file")]),
    RuleDefault::new("delete_image_location", "rule:context_is_admin")
        .description("Remove a location of an image (PATCH removing from /locations).")
        .scope_types(PROJECT)
        .operations(&[Operation::new("PATCH", "/v2/images/{image_id}")]),
    RuleDefault::new(
        "get_image_location",
        "rule:context_is_admin or (role:reader and project_id:%(project_id)s)",
    )
    .description("See the locations (and direct_url) of an image of the caller's project.")
    .scope_types(PROJECT)
    .operations(&[Operation::new("GET", "/v2/images/{image_id}")]),
    RuleDefault::new(
        "set_image_location",
        "rule:context_is_admin or (role:member and project_id:%(project_id)s)",
    )
    .description("Add or replace locations of an image of the caller's project through PATCH.")
    .scope_types(PROJECT)
    .operations(&[Operation::new("PATCH", "/v2/images/{image_id}")]),
    RuleDefault::new(
        "add_image_location",
        "rule:service_api or (role:member and project_id:%(project_id)s and project_id:%(owner)s)",
    )
    .description("Add a location to an image through the locations API (services, or the owner).")
    .scope_types(PROJECT)
    .operations(&[Operation::new("POST", "/v2/images/{image_id}/locations")]),
    RuleDefault::new("fetch_image_location", "rule:service_api")
        .description("List the locations of an image through the locations API (services only).")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/v2/images/{image_id}/locations")]),
    RuleDefault::new("add_member", "rule:context_is_admin or (role:member and project_id:%(project_id)s)")
        .description("Share an image of the caller's project with another project.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/v2/images/{image_id}/members")]),
    RuleDefault::new("delete_member", "rule:context_is_admin or (role:member and project_id:%(project_id)s)")
        .description("Stop sharing an image of the caller's project with a project.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("DELETE", "/v2/images/{image_id}/members/{member_id}")]),
    RuleDefault::new(
        "get_member",
        "rule:context_is_admin or role:reader and (project_id:%(project_id)s or project_id:%(member_id)s)",
    )
    .description("Show a membership of an image the caller's project owns or is a member of.")
    .scope_types(PROJECT)
    .operations(&[Operation::new("GET", "/v2/images/{image_id}/members/{member_id}")]),
    RuleDefault::new(
        "get_members",
        "rule:context_is_admin or role:reader and (project_id:%(project_id)s or project_id:%(member_id)s)",
    )
    .description("List the memberships of an image the caller's project owns or is a member of.")
    .scope_types(PROJECT)
    .operations(&[Operation::new("GET", "/v2/images/{image_id}/members")]),
    RuleDefault::new("modify_member", "rule:context_is_admin or (role:member and project_id:%(member_id)s)")
        .description("Accept or reject an image shared with the caller's project.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("PUT", "/v2/images/{image_id}/members/{member_id}")]),
    RuleDefault::new("manage_image_cache", "rule:context_is_admin")
        .description("Manage the image cache (the rule of the old cache API).")
        .scope_types(PROJECT),
    RuleDefault::new("deactivate", "rule:context_is_admin or (role:member and project_id:%(project_id)s)")
        .description("Deactivate an image of the caller's project (its data can no longer be downloaded).")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/v2/images/{image_id}/actions/deactivate")]),
    RuleDefault::new("reactivate", "rule:context_is_admin or (role:member and project_id:%(project_id)s)")
        .description("Reactivate a deactivated image of the caller's project.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/v2/images/{image_id}/actions/reactivate")]),
    RuleDefault::new("copy_image", "rule:context_is_admin")
        .description("Copy an existing image's data to further stores (the copy-image import method).")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/v2/images/{image_id}/import")]),
    // ---- Tasks. (glance/policies/tasks.py)
    RuleDefault::new("get_task", "rule:default")
        .description("Show a task; internal, the tasks API itself is guarded by tasks_api_access.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/v2/tasks/{task_id}")]),
    RuleDefault::new("get_tasks", "rule:default")
        .description("List tasks; internal, the tasks API itself is guarded by tasks_api_access.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/v2/tasks")]),
    RuleDefault::new("add_task", "rule:default")
        .description("Create a task (also done by image import); internal, see tasks_api_access.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("POST", "/v2/tasks")]),
    RuleDefault::new("modify_task", "rule:default")
        .description("Unused (glance never enforced it); kept so override files naming it still load.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("DELETE", "/v2/tasks/{task_id}")]),
    RuleDefault::new("tasks_api_access", "rule:context_is_admin")
        .description("Use the tasks API at all.")
        .scope_types(PROJECT)
        .operations(&[
            Operation::new("GET", "/v2/tasks/{task_id}"),
            Operation::new("GET", "/v2/tasks"),
            Operation::new("POST", "/v2/tasks"),
            Operation::new("DELETE", "/v2/tasks/{task_id}"),
        ]),
    // ---- Image cache. (glance/policies/cache.py)
    RuleDefault::new("cache_image", "rule:context_is_admin")
        .description("Queue an image for caching.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("PUT", "/v2/cache/{image_id}")]),
    RuleDefault::new("cache_list", "rule:context_is_admin")
        .description("List the cached and queued images.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/v2/cache")]),
    RuleDefault::new("cache_delete", "rule:context_is_admin")
        .description("Remove one or all images from the cache or its queue.")
        .scope_types(PROJECT)
        .operations(&[
            Operation::new("DELETE", "/v2/cache"),
            Operation::new("DELETE", "/v2/cache/{image_id}"),
        ]),
    // ---- Discovery. (glance/policies/discovery.py)
    RuleDefault::new("stores_info_detail", "rule:context_is_admin or rule:service_api")
        .description("Show the stores with their backend-specific details.")
        .scope_types(PROJECT)
        .operations(&[Operation::new("GET", "/v2/info/stores/detail")]),
];

#[cfg(test)]
mod tests {
    use super::DEFAULTS;
    use serde_json::{json, Value};
    use stratus_core::policy::{Credentials, DenyReason, Policy, Scope};

    const MINE: &str = "p-mine";
    const THEIRS: &str = "p-theirs";

    fn policy() -> Policy {
        Policy::new(DEFAULTS).expect("glance defaults parse")
    }

    fn creds(project: &str, roles: &[&str]) -> Credentials {
        Credentials {
            user_id: Some(format!("u-{project}")),
            user_domain_id: Some("default".into()),
            project_id: Some(project.into()),
            project_domain_id: Some("default".into()),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            ..Default::default()
        }
    }

    /// Roles with their implied ones, as tokens carry them.
    fn admin(project: &str) -> Credentials {
        creds(project, &["admin", "member", "reader"])
    }
    fn member(project: &str) -> Credentials {
        creds(project, &["member", "reader"])
    }
    fn reader(project: &str) -> Credentials {
        creds(project, &["reader"])
    }

    /// The image target glance builds for a stored image, as seen by `caller_project`.
    fn image(owner: &str, visibility: &str, caller_project: &str) -> Value {
        let member = if visibility == "shared" && caller_project != owner {
            Value::from(caller_project)
        } else {
            Value::Null
        };
        json!({
            "id": "i-1", "image_id": "i-1", "name": "cirros",
            "project_id": owner, "owner": owner,
            "visibility": visibility, "member_id": member, "member": member,
            "status": "active", "protected": false, "os_hidden": false,
            "disk_format": "qcow2", "container_format": "bare",
            "size": 1024, "virtual_size": 1073741824, "min_disk": 0, "min_ram": 0,
            "checksum": null, "os_hash_algo": null, "os_hash_value": null,
            "tags": [], "extra_properties": {"architecture": "x86_64"}, "architecture": "x86_64",
        })
    }

    /// The proposed-image target of `POST /v2/images`.
    fn proposal(owner: &str, visibility: &str) -> Value {
        json!({"project_id": owner, "owner": owner, "visibility": visibility})
    }

    /// The rules that act on one stored image with the image target.
    const IMAGE_RULES: &[&str] = &[
        "get_image",
        "modify_image",
        "publicize_image",
        "communitize_image",
        "delete_image",
        "upload_image",
        "download_image",
        "deactivate",
        "reactivate",
        "get_image_location",
        "set_image_location",
        "delete_image_location",
        "add_member",
        "delete_member",
        "get_member",
        "get_members",
        "modify_member",
        "copy_image",
        "add_image_location",
        "fetch_image_location",
    ];

    fn allowed(p: &Policy, c: &Credentials, target: &Value) -> Vec<&'static str> {
        IMAGE_RULES.iter().copied().filter(|r| p.enforce(r, c, target)).collect()
    }

    #[test]
    fn defaults_load_and_are_complete() {
        let p = policy();
        assert!(p.unresolved_references().is_empty(), "{:?}", p.unresolved_references());
        assert_eq!(p.rules().len(), DEFAULTS.len());
        for name in IMAGE_RULES.iter().copied().chain([
            "default",
            "context_is_admin",
            "service_api",
            "add_image",
            "get_images",
            "manage_image_cache",
            "get_task",
            "get_tasks",
            "add_task",
            "modify_task",
            "tasks_api_access",
            "cache_image",
            "cache_list",
            "cache_delete",
            "stores_info_detail",
        ]) {
            assert!(p.contains(name), "{name} missing");
        }
        // Glance has no rules of their own for tags: they are modify_image.
        assert!(!p.contains("add_image_tag") && !p.contains("get_image_tags"));
        for d in DEFAULTS {
            assert!(!d.description.is_empty(), "{} has no description", d.name);
            let base = ["default", "context_is_admin", "service_api"].contains(&d.name);
            assert_eq!(d.scope_types.is_empty(), base, "{}: scope types", d.name);
            if !base {
                assert_eq!(d.scope_types, [Scope::Project], "{}", d.name);
            }
        }
        // Generates a sample file without trouble.
        assert!(stratus_core::policy::sample_yaml(DEFAULTS).contains("#\"add_image\": "));
    }

    #[test]
    fn check_strings_are_glances() {
        let p = policy();
        let check = |n: &str| p.rule(n).unwrap().check_str.to_owned();
        assert_eq!(check("default"), "");
        assert_eq!(check("context_is_admin"), "role:admin");
        assert_eq!(check("service_api"), "service_roles:service");
        assert_eq!(
            check("add_image"),
            "rule:context_is_admin or (role:member and project_id:%(project_id)s and project_id:%(owner)s)"
        );
        assert_eq!(
            check("get_image"),
            "rule:context_is_admin or (role:reader and (project_id:%(project_id)s or \
             project_id:%(member_id)s or 'community':%(visibility)s or \
             'public':%(visibility)s or 'shared':%(visibility)s))"
        );
        assert_eq!(
            check("download_image"),
            "rule:context_is_admin or (role:member and (project_id:%(project_id)s or \
             project_id:%(member_id)s or 'community':%(visibility)s or \
             'public':%(visibility)s or 'shared':%(visibility)s))"
        );
        assert_eq!(
            check("get_members"),
            "rule:context_is_admin or role:reader and (project_id:%(project_id)s or project_id:%(member_id)s)"
        );
        assert_eq!(
            check("modify_member"),
            "rule:context_is_admin or (role:member and project_id:%(member_id)s)"
        );
        assert_eq!(
            check("add_image_location"),
            "rule:service_api or (role:member and project_id:%(project_id)s and project_id:%(owner)s)"
        );
        assert_eq!(check("stores_info_detail"), "rule:context_is_admin or rule:service_api");
        for admin_only in
            ["publicize_image", "delete_image_location", "copy_image", "tasks_api_access", "cache_list"]
        {
            assert_eq!(check(admin_only), "rule:context_is_admin", "{admin_only}");
        }
        for same in ["modify_image", "delete_image", "upload_image", "deactivate", "add_member"] {
            assert_eq!(
                check(same),
                "rule:context_is_admin or (role:member and project_id:%(project_id)s)",
                "{same}"
            );
        }
    }

    #[test]
    fn member_manages_its_own_images() {
        let p = policy();
        let me = member(MINE);
        assert!(p.enforce("add_image", &me, &proposal(MINE, "private")));
        assert!(p.enforce("add_image", &me, &proposal(MINE, "shared")));
        assert!(p.enforce("get_images", &me, &json!({"project_id": MINE})));
        let own = image(MINE, "private", MINE);
        assert_eq!(
            allowed(&p, &me, &own),
            [
                "get_image",
                "modify_image",
                "communitize_image",
                "delete_image",
                "upload_image",
                "download_image",
                "deactivate",
                "reactivate",
                "get_image_location",
                "set_image_location",
                "add_member",
                "delete_member",
                "get_member",
                "get_members",
                "add_image_location",
            ]
        );
        // Publishing is for admins only, whether at creation or later.
        assert!(!p.enforce("publicize_image", &me, &own));
        assert!(!p.enforce("publicize_image", &me, &proposal(MINE, "public")));
        // Nor may a member remove locations, copy images, or accept a share for its own image.
        for r in ["delete_image_location", "copy_image", "modify_member", "fetch_image_location"] {
            assert!(!p.enforce(r, &me, &own), "{r}");
        }
        // No task API, cache or store details for members.
        for r in [
            "tasks_api_access",
            "cache_list",
            "cache_image",
            "cache_delete",
            "manage_image_cache",
            "stores_info_detail",
        ] {
            assert!(!p.enforce(r, &me, &json!({})), "{r}");
        }
        // The internal task rules pass for anyone.
        for r in ["get_task", "get_tasks", "add_task", "modify_task"] {
            assert!(p.enforce(r, &me, &json!({})), "{r}");
        }
    }

    #[test]
    fn member_cannot_create_for_another_project() {
        let p = policy();
        let me = member(MINE);
        // The body names another owner: project_id and owner both become that project.
        assert_eq!(
            p.authorize("add_image", &me, &proposal(THEIRS, "private")).unwrap_err().reason,
            DenyReason::Check
        );
        // A target where only one of the two keys is ours still fails.
        let mixed = json!({"project_id": MINE, "owner": THEIRS, "visibility": "private"});
        assert!(!p.enforce("add_image", &me, &mixed));
        // An admin may create images for any project, and public ones.
        assert!(p.enforce("add_image", &admin(MINE), &proposal(THEIRS, "public")));
        assert!(p.enforce("publicize_image", &admin(MINE), &proposal(THEIRS, "public")));
    }

    #[test]
    fn reader_reads_but_does_not_write() {
        let p = policy();
        let r = reader(MINE);
        assert!(!p.enforce("add_image", &r, &proposal(MINE, "private")));
        assert!(p.enforce("get_images", &r, &json!({"project_id": MINE})));
        let own = image(MINE, "private", MINE);
        assert_eq!(allowed(&p, &r, &own), ["get_image", "get_image_location", "get_member", "get_members"]);
        // Readers see public images but may not download any data.
        let public = image(THEIRS, "public", MINE);
        assert_eq!(allowed(&p, &r, &public), ["get_image"]);
        assert!(!p.enforce("download_image", &r, &own));
    }

    #[test]
    fn other_projects_cannot_touch_private_images() {
        let p = policy();
        let theirs = image(THEIRS, "private", MINE);
        assert_eq!(allowed(&p, &member(MINE), &theirs), Vec::<&str>::new());
        assert_eq!(allowed(&p, &reader(MINE), &theirs), Vec::<&str>::new());
        // A public or community image of another project: see and download, no more.
        for vis in ["public", "community"] {
            let img = image(THEIRS, vis, MINE);
            assert_eq!(allowed(&p, &member(MINE), &img), ["get_image", "download_image"], "{vis}");
        }
    }

    #[test]
    fn image_members_see_download_and_accept() {
        let p = policy();
        // A shared image of THEIRS, looked up by a member project (MINE).
        let shared = image(THEIRS, "shared", MINE);
        assert_eq!(
            allowed(&p, &member(MINE), &shared),
            ["get_image", "download_image", "get_member", "get_members", "modify_member"]
        );
        assert_eq!(allowed(&p, &reader(MINE), &shared), ["get_image", "get_member", "get_members"]);
        // The owner manages members but cannot accept on the member's behalf.
        let as_owner = image(THEIRS, "shared", THEIRS);
        let owner = member(THEIRS);
        for r in ["add_member", "delete_member", "get_members", "get_member"] {
            assert!(p.enforce(r, &owner, &as_owner), "{r}");
        }
        assert!(!p.enforce("modify_member", &owner, &as_owner));
        // member_id left out instead of null: the member checks fail the same way.
        let mut absent = image(THEIRS, "private", MINE);
        absent.as_object_mut().unwrap().remove("member_id");
        assert_eq!(allowed(&p, &member(MINE), &absent), Vec::<&str>::new());
    }

    #[test]
    fn admin_may_do_everything() {
        let p = policy();
        let adm = admin(MINE);
        for target in
            [image(THEIRS, "private", MINE), image(THEIRS, "shared", MINE), image(MINE, "public", MINE)]
        {
            let denied: Vec<_> = IMAGE_RULES.iter().filter(|r| !p.enforce(r, &adm, &target)).collect();
            // The locations API is for services (and owners adding locations), not admins.
            let expected: &[&&str] = if target["owner"] == MINE {
                &[&"fetch_image_location"]
            } else {
                &[&"add_image_location", &"fetch_image_location"]
            };
            assert_eq!(denied, expected, "{target}");
        }
        let service_rules = ["service_api", "add_image_location", "fetch_image_location"];
        for d in DEFAULTS.iter().filter(|d| !service_rules.contains(&d.name)) {
            assert!(p.enforce(d.name, &adm, &json!({})), "{}", d.name);
        }
    }

    #[test]
    fn service_token_roles_pass_service_rules() {
        let p = policy();
        let mut svc = member("p-service");
        svc.service_roles = vec!["service".into()];
        let theirs = image(THEIRS, "private", "p-service");
        assert!(p.enforce("fetch_image_location", &svc, &theirs));
        assert!(p.enforce("add_image_location", &svc, &theirs));
        assert!(p.enforce("stores_info_detail", &svc, &json!({})));
        // The service role on the user's own token is not enough in 2025.2.
        let role_only = creds("p-service", &["service"]);
        assert!(!p.enforce("fetch_image_location", &role_only, &theirs));
    }

    #[test]
    fn only_project_scope() {
        let p = policy();
        let system_admin = Credentials {
            user_id: Some("u-admin".into()),
            user_domain_id: Some("default".into()),
            system_scope: Some("all".into()),
            roles: vec!["admin".into(), "member".into(), "reader".into()],
            ..Default::default()
        };
        let target = image(MINE, "public", MINE);
        let err = p.authorize("get_image", &system_admin, &target).unwrap_err();
        assert_eq!(err.reason, DenyReason::Scope(Scope::System));
        assert!(!p.enforce("add_image", &system_admin, &proposal(MINE, "private")));
        // The base rule itself has no scope types (handlers use it for is_admin).
        assert!(p.enforce("context_is_admin", &system_admin, &json!({})));
        // An unscoped token (counted as project scope) has no roles and gets nothing.
        let unscoped = Credentials { user_id: Some("u".into()), ..Default::default() };
        let ownerless =
            json!({"project_id": null, "owner": null, "visibility": "private", "member_id": null});
        assert_eq!(allowed(&p, &unscoped, &ownerless), Vec::<&str>::new());
    }

    #[test]
    fn operator_rules_on_image_properties() {
        // Overrides may read an image's additional properties by name, as in glance.
        let mut p = policy();
        p.set_rule("download_image", "rule:context_is_admin or 'x86_64':%(architecture)s").unwrap();
        assert!(p.enforce("download_image", &reader(MINE), &image(THEIRS, "private", MINE)));
        let mut arm = image(THEIRS, "private", MINE);
        arm["architecture"] = "aarch64".into();
        assert!(!p.enforce("download_image", &reader(MINE), &arm));
    }
}
