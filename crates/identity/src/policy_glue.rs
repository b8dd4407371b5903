//! The caller as the policy engine sees it.

use stratus_core::auth::AuthContext;
use stratus_core::policy::Credentials;

pub fn credentials(ctx: &AuthContext) -> Credentials {
    Credentials {
        user_id: Some(ctx.user.id.clone()),
        user_domain_id: Some(ctx.user_domain.id.clone()),
        project_id: ctx.project.as_ref().map(|p| p.id.clone()),
        project_domain_id: ctx.project_domain.as_ref().map(|d| d.id.clone()),
        domain_id: ctx.domain.as_ref().map(|d| d.id.clone()),
        system_scope: ctx.system.clone(),
        roles: ctx.role_names(),
        is_admin_project: ctx.is_admin_project,
        ..Credentials::default()
    }
}
