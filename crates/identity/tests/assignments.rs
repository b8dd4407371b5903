//! Who may scope where: direct, inherited (from a domain or a parent project) and implied
//! roles, as tokens and `GET /v3/role_assignments?effective` show them; the implied-role API.

mod common;

use common::*;
use serde_json::{json, Value};

/// The (project id, role id, entry) of each assignment in an effective listing.
fn project_entries(body: &Value) -> Vec<(String, String, Value)> {
    body["role_assignments"]
        .as_array()
        .expect("role_assignments")
        .iter()
        .filter_map(|a| {
            let project = a["scope"]["project"]["id"].as_str()?;
            Some((project.to_string(), a["role"]["id"].as_str().unwrap().to_string(), a.clone()))
        })
        .collect()
}

#[tokio::test]
async fn no_role_no_token_but_a_role_inherited_from_the_domain_is_enough() {
    let cloud = Cloud::start().await;
    let admin = cloud.admin_token().await;
    let domain = cloud.create_domain(&admin, "acme").await;
    let project = cloud.create_project_with(&admin, json!({"name": "web", "domain_id": domain})).await;
    let user = cloud.create_user(&admin, "gina", "gina-pw").await;
    let member = cloud.role_id(&admin, "member").await;

    let r = cloud.password_auth(&user, "gina-pw", project_scope(&project)).await.expect(401);
    assert_eq!(r.body["error"]["code"], 401);
    assert_eq!(r.body["error"]["title"], "Unauthorized");

    let grant = format!("/v3/OS-INHERIT/domains/{domain}/users/{user}/roles/{member}/inherited_to_projects");
    cloud.get(&grant).token(&admin).send().await.expect(404);
    cloud.put(&grant).token(&admin).send().await.expect(204);
    cloud.get(&grant).token(&admin).send().await.expect(204);

    let r = cloud.password_auth(&user, "gina-pw", project_scope(&project)).await.expect(201);
    assert_eq!(r.body["token"]["project"]["id"], project.as_str());
    assert_eq!(role_names(&r.body), ["member", "reader"]);
    // Projects created later in the domain inherit it as well.
    let later = cloud.create_project_with(&admin, json!({"name": "later", "domain_id": domain})).await;
    cloud.password_auth(&user, "gina-pw", project_scope(&later)).await.expect(201);
    // An inherited grant is for the projects, not for the domain itself.
    cloud.password_auth(&user, "gina-pw", domain_scope(&domain)).await.expect(401);
    let unscoped = cloud.token(&user, "gina-pw", Value::Null).await;
    let r = cloud.get("/v3/auth/projects").token(&unscoped).send().await.expect(200);
    let mut listed = ids(&r.body, "projects");
    listed.sort();
    let mut expected = vec![project.clone(), later.clone()];
    expected.sort();
    assert_eq!(listed, expected);
    // The plain grant list of the domain does not show the inherited grant.
    let r = cloud.get(&format!("/v3/domains/{domain}/users/{user}/roles")).token(&admin).send().await;
    assert_eq!(r.expect(200).body["roles"], json!([]));

    // The effective listing shows the grant landed on each project, marked as inherited and
    // linking to the grant it comes from; implied roles come with a link to their prior role.
    let r = cloud.get(&format!("/v3/role_assignments?effective&user.id={user}")).token(&admin).send().await;
    let r = r.expect(200);
    let entries = project_entries(&r.body);
    let reader = cloud.role_id(&admin, "reader").await;
    for p in [&project, &later] {
        for role in [&member, &reader] {
            let (_, _, e) = entries
                .iter()
                .find(|(ep, er, _)| ep == p && er == role)
                .unwrap_or_else(|| panic!("no effective {role} on {p}: {entries:?}"));
            assert_eq!(e["user"]["id"], user.as_str());
            assert_eq!(e["scope"]["OS-INHERIT:inherited_to"], "projects", "{e}");
            let link = e["links"]["assignment"].as_str().unwrap();
            assert!(
                link.ends_with(&format!("/v3{}", grant.trim_start_matches("/v3"))),
                "{link} is not {grant}"
            );
            if role == &reader {
                assert!(e["links"]["prior_role"].as_str().is_some(), "{e}");
            }
        }
    }
    assert_eq!(entries.len(), 4, "{entries:?}");
    assert!(
        r.body["role_assignments"].as_array().unwrap().iter().all(|a| a["scope"].get("domain").is_none()),
        "an inherited domain grant lands on projects only in effective mode"
    );

    // The non-effective listing shows the grant itself, on the domain, inherited.
    let r = cloud.get(&format!("/v3/role_assignments?user.id={user}")).token(&admin).send().await.expect(200);
    let list = r.body["role_assignments"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["scope"]["domain"]["id"], domain.as_str());
    assert_eq!(list[0]["scope"]["OS-INHERIT:inherited_to"], "projects");
    assert!(list[0]["links"]["assignment"].as_str().unwrap().ends_with(&grant));

    // Revoking the inherited grant takes the projects away again.
    cloud.delete(&grant).token(&admin).send().await.expect(204);
    cloud.password_auth(&user, "gina-pw", project_scope(&project)).await.expect(401);
    cloud.delete(&grant).token(&admin).send().await.expect(404);
}

#[tokio::test]
async fn a_role_inherited_from_a_parent_project_reaches_the_children_only() {
    let cloud = Cloud::start().await;
    let admin = cloud.admin_token().await;
    let parent = cloud.create_project(&admin, "parent").await;
    let child = cloud.create_project_with(&admin, json!({"name": "child", "parent_id": parent})).await;
    let grandchild =
        cloud.create_project_with(&admin, json!({"name": "grandchild", "parent_id": child})).await;
    let user = cloud.create_user(&admin, "hank", "hank-pw").await;
    let reader = cloud.role_id(&admin, "reader").await;

    cloud.password_auth(&user, "hank-pw", project_scope(&child)).await.expect(401);
    let grant = format!("/v3/OS-INHERIT/projects/{parent}/users/{user}/roles/{reader}/inherited_to_projects");
    cloud.put(&grant).token(&admin).send().await.expect(204);

    for p in [&child, &grandchild] {
        let r = cloud.password_auth(&user, "hank-pw", project_scope(p)).await.expect(201);
        assert_eq!(role_names(&r.body), ["reader"]);
    }
    cloud.password_auth(&user, "hank-pw", project_scope(&parent)).await.expect(401);

    let r = cloud.get(&format!("/v3/role_assignments?effective&user.id={user}")).token(&admin).send().await;
    let entries = project_entries(&r.expect(200).body);
    let mut projects: Vec<String> = entries.iter().map(|(p, _, _)| p.clone()).collect();
    projects.sort();
    let mut expected = vec![child.clone(), grandchild.clone()];
    expected.sort();
    assert_eq!(projects, expected);
    for (_, role, e) in &entries {
        assert_eq!(role, &reader);
        assert_eq!(e["scope"]["OS-INHERIT:inherited_to"], "projects");
        assert!(e["links"]["assignment"].as_str().unwrap().ends_with(&grant), "{e}");
    }
}

#[tokio::test]
async fn implied_roles_can_be_managed_and_show_up_in_new_tokens() {
    let cloud = Cloud::start().await;
    let admin = cloud.admin_token().await;
    let (ivy, project) = cloud.member_of_new_project(&admin, "ivy", "member").await;
    let operator = cloud.create_role(&admin, "operator").await;
    let auditor = cloud.create_role(&admin, "auditor").await;
    let member = cloud.role_id(&admin, "member").await;
    let rule = format!("/v3/roles/{member}/implies/{operator}");

    let before = cloud.password_auth(&ivy, "ivy-pw", project_scope(&project)).await.expect(201);
    assert_eq!(role_names(&before.body), ["member", "reader"]);
    cloud.get(&rule).token(&admin).send().await.expect(404);

    let r = cloud.put(&rule).token(&admin).send().await.expect(201);
    assert_eq!(r.body["role_inference"]["prior_role"]["id"], member.as_str());
    assert_eq!(r.body["role_inference"]["prior_role"]["name"], "member");
    assert_eq!(r.body["role_inference"]["implies"]["id"], operator.as_str());
    assert_eq!(r.body["role_inference"]["implies"]["name"], "operator");
    cloud.put(&format!("/v3/roles/{operator}/implies/{auditor}")).token(&admin).send().await.expect(201);

    let r = cloud.get(&rule).token(&admin).send().await.expect(200);
    assert_eq!(r.body["role_inference"]["implies"]["id"], operator.as_str());
    let r = cloud.get(&format!("/v3/roles/{member}/implies")).token(&admin).send().await.expect(200);
    assert_eq!(r.body["role_inference"]["prior_role"]["id"], member.as_str());
    let mut implied = ids(&r.body["role_inference"], "implies");
    implied.sort();
    let reader = cloud.role_id(&admin, "reader").await;
    let mut expected = vec![reader.clone(), operator.clone()];
    expected.sort();
    assert_eq!(implied, expected, "member implies reader (bootstrap) and operator");
    let r = cloud.get("/v3/role_inferences").token(&admin).send().await.expect(200);
    let inferences = r.body["role_inferences"].as_array().unwrap();
    let of = |prior: &str| {
        inferences
            .iter()
            .find(|i| i["prior_role"]["id"] == prior)
            .map(|i| ids(i, "implies"))
            .unwrap_or_default()
    };
    assert_eq!(of(&operator), vec![auditor.clone()]);
    assert!(of(&member).contains(&operator));

    // Transitively implied roles are in new tokens.
    let after = cloud.password_auth(&ivy, "ivy-pw", project_scope(&project)).await.expect(201);
    assert_eq!(role_names(&after.body), ["auditor", "member", "operator", "reader"]);

    // A rule that would close a loop is refused, directly or through another role.
    for (prior, implied) in [(&auditor, &member), (&operator, &member), (&operator, &operator)] {
        let r = cloud.put(&format!("/v3/roles/{prior}/implies/{implied}")).token(&admin).send().await;
        assert_eq!(r.expect(403).body["error"]["code"], 403);
    }
    // Unknown roles are 404s; a member may not add rules.
    cloud.put(&format!("/v3/roles/{member}/implies/nope")).token(&admin).send().await.expect(404);
    let ivy_token = after.subject_token();
    cloud.put(&format!("/v3/roles/{auditor}/implies/{reader}")).token(&ivy_token).send().await.expect(403);

    cloud.delete(&rule).token(&admin).send().await.expect(204);
    cloud.get(&rule).token(&admin).send().await.expect(404);
    cloud.delete(&rule).token(&admin).send().await.expect(404);
    let r = cloud.password_auth(&ivy, "ivy-pw", project_scope(&project)).await.expect(201);
    assert_eq!(role_names(&r.body), ["member", "reader"]);
    // The token issued while the rule stood loses its implied roles (the rule removal
    // revoked the holders' tokens).
    cloud.validate(&admin, &ivy_token).await.expect(404);
}

#[tokio::test]
async fn a_domain_specific_role_may_imply_a_global_role_but_not_the_reverse() {
    let cloud = Cloud::start().await;
    let admin = cloud.admin_token().await;
    let domain = cloud.create_domain(&admin, "acme").await;
    let r = cloud
        .post("/v3/roles")
        .token(&admin)
        .json(json!({"role": {"name": "acme-dev", "domain_id": domain}}))
        .send()
        .await
        .expect(201);
    let domain_role = id_of(&r.body["role"]);
    assert_eq!(r.body["role"]["domain_id"], domain.as_str());
    let member = cloud.role_id(&admin, "member").await;

    // As keystone: a domain-specific role is an alias for global roles ...
    cloud.put(&format!("/v3/roles/{domain_role}/implies/{member}")).token(&admin).send().await.expect(201);
    // ... while a global role may not imply a domain-specific one.
    let r = cloud.put(&format!("/v3/roles/{member}/implies/{domain_role}")).token(&admin).send().await;
    assert_eq!(r.expect(403).body["error"]["title"], "Forbidden");

    // Granting the domain role on a project of its domain gives the global roles it implies;
    // the domain-specific role itself stays out of the token (policies match role names).
    let project = cloud.create_project_with(&admin, json!({"name": "acme-web", "domain_id": domain})).await;
    let user =
        cloud.create_user_with(&admin, json!({"name": "jo", "password": "jo-pw", "domain_id": domain})).await;
    cloud.grant(&admin, "projects", &project, &user, &domain_role).await;
    let r = cloud.password_auth(&user, "jo-pw", project_scope(&project)).await.expect(201);
    assert_eq!(role_names(&r.body), ["member", "reader"]);

    // A domain-specific role that implies nothing gives no access at all.
    let r = cloud
        .post("/v3/roles")
        .token(&admin)
        .json(json!({"role": {"name": "acme-nothing", "domain_id": domain}}))
        .send()
        .await
        .expect(201);
    let other = cloud.create_project_with(&admin, json!({"name": "acme-db", "domain_id": domain})).await;
    cloud.grant(&admin, "projects", &other, &user, &id_of(&r.body["role"])).await;
    cloud.password_auth(&user, "jo-pw", project_scope(&other)).await.expect(401);
}
