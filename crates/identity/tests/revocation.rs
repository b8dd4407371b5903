//! Tokens that stop working when what they stand for changes, and account lockout.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn removing_a_role_invalidates_existing_tokens_but_not_new_ones() {
    let cloud = Cloud::start().await;
    let admin = cloud.admin_token().await;
    let (lee, project) = cloud.member_of_new_project(&admin, "lee", "member").await;
    let operator = cloud.create_role(&admin, "operator").await;
    cloud.grant(&admin, "projects", &project, &lee, &operator).await;

    let old = cloud.password_auth(&lee, "lee-pw", project_scope(&project)).await.expect(201);
    assert_eq!(role_names(&old.body), ["member", "operator", "reader"]);
    let old = old.subject_token();
    cloud.validate(&admin, &old).await.expect(200);

    cloud
        .delete(&format!("/v3/projects/{project}/users/{lee}/roles/{operator}"))
        .token(&admin)
        .send()
        .await
        .expect(204);
    let r = cloud.validate(&admin, &old).await.expect(404);
    assert_eq!(r.body["error"]["title"], "Not Found");
    cloud.get("/v3/auth/projects").token(&old).send().await.expect(401);

    let new = cloud.password_auth(&lee, "lee-pw", project_scope(&project)).await.expect(201);
    assert_eq!(role_names(&new.body), ["member", "reader"]);
    let r = cloud.validate(&admin, &new.subject_token()).await.expect(200);
    assert_eq!(role_names(&r.body), ["member", "reader"]);
    cloud.get("/v3/auth/projects").token(&new.subject_token()).send().await.expect(200);
}

#[tokio::test]
async fn disabling_a_project_invalidates_its_tokens() {
    let cloud = Cloud::start().await;
    let admin = cloud.admin_token().await;
    let (mia, project) = cloud.member_of_new_project(&admin, "mia", "member").await;
    let other = cloud.create_project(&admin, "other").await;
    let member = cloud.role_id(&admin, "member").await;
    cloud.grant(&admin, "projects", &other, &mia, &member).await;
    let on_project = cloud.token(&mia, "mia-pw", project_scope(&project)).await;
    let on_other = cloud.token(&mia, "mia-pw", project_scope(&other)).await;

    let set_enabled = |enabled: bool| {
        cloud
            .patch(&format!("/v3/projects/{project}"))
            .token(&admin)
            .json(json!({"project": {"enabled": enabled}}))
            .send()
    };
    let r = set_enabled(false).await.expect(200);
    assert_eq!(r.body["project"]["enabled"], false);

    cloud.validate(&admin, &on_project).await.expect(404);
    cloud.validate(&admin, &on_other).await.expect(200);
    let r = cloud.password_auth(&mia, "mia-pw", project_scope(&project)).await.expect(401);
    assert_eq!(r.body["error"]["code"], 401);

    // Enabling it again does not bring the old token back; new tokens work.
    set_enabled(true).await.expect(200);
    cloud.validate(&admin, &on_project).await.expect(404);
    let fresh = cloud.token(&mia, "mia-pw", project_scope(&project)).await;
    cloud.validate(&admin, &fresh).await.expect(200);
}

#[tokio::test]
async fn deleting_a_group_revokes_its_members_tokens() {
    let cloud = Cloud::start().await;
    let admin = cloud.admin_token().await;
    let project = cloud.create_project(&admin, "shared").await;
    let group = cloud.create_group(&admin, "devs").await;
    let ned = cloud.create_user(&admin, "ned", "ned-pw").await;
    let member = cloud.role_id(&admin, "member").await;
    cloud.put(&format!("/v3/groups/{group}/users/{ned}")).token(&admin).send().await.expect(204);
    cloud
        .put(&format!("/v3/projects/{project}/groups/{group}/roles/{member}"))
        .token(&admin)
        .send()
        .await
        .expect(204);

    let token = cloud.token(&ned, "ned-pw", project_scope(&project)).await;
    cloud.validate(&admin, &token).await.expect(200);
    // More members: the revocation of all of them takes one wait for the second to pass, not
    // one per member.
    for name in ["ned2", "ned3", "ned4"] {
        let other = cloud.create_user(&admin, name, "pw").await;
        cloud.put(&format!("/v3/groups/{group}/users/{other}")).token(&admin).send().await.expect(204);
    }

    let started = std::time::Instant::now();
    cloud.delete(&format!("/v3/groups/{group}")).token(&admin).send().await.expect(204);
    assert!(started.elapsed() < std::time::Duration::from_millis(2500), "took {:?}", started.elapsed());
    cloud.validate(&admin, &token).await.expect(404);
    cloud.get("/v3/auth/projects").token(&token).send().await.expect(401);
    // The role came through the group only: no new token on the project either.
    cloud.password_auth(&ned, "ned-pw", project_scope(&project)).await.expect(401);
    cloud.password_auth(&ned, "ned-pw", Value::Null).await.expect(201);
}

#[tokio::test]
async fn leaving_a_group_revokes_the_roles_it_gave() {
    let cloud = Cloud::start().await;
    let admin = cloud.admin_token().await;
    let project = cloud.create_project(&admin, "shared").await;
    let group = cloud.create_group(&admin, "ops").await;
    let ola = cloud.create_user(&admin, "ola", "ola-pw").await;
    let member = cloud.role_id(&admin, "member").await;
    let membership = format!("/v3/groups/{group}/users/{ola}");
    cloud.put(&membership).token(&admin).send().await.expect(204);
    cloud
        .put(&format!("/v3/projects/{project}/groups/{group}/roles/{member}"))
        .token(&admin)
        .send()
        .await
        .expect(204);
    let token = cloud.token(&ola, "ola-pw", project_scope(&project)).await;

    cloud.delete(&membership).token(&admin).send().await.expect(204);
    cloud.validate(&admin, &token).await.expect(404);
    cloud.password_auth(&ola, "ola-pw", project_scope(&project)).await.expect(401);
}

#[tokio::test]
async fn repeated_wrong_passwords_lock_the_account_for_the_lockout_duration() {
    let cloud = Cloud::start_with(|c| {
        c.identity.lockout_failure_attempts = 2;
        c.identity.lockout_duration = 2;
    })
    .await;
    let admin = cloud.admin_token().await;
    let (pat, project) = cloud.member_of_new_project(&admin, "pat", "member").await;
    let (quinn, _) = cloud.member_of_new_project(&admin, "quinn", "member").await;

    // A success in between resets the count.
    cloud.password_auth(&pat, "wrong", Value::Null).await.expect(401);
    cloud.password_auth(&pat, "pat-pw", Value::Null).await.expect(201);

    for _ in 0..2 {
        let r = cloud.password_auth(&pat, "wrong", Value::Null).await.expect(401);
        assert_eq!(r.error_message(), "Invalid username or password.");
    }
    let started = std::time::Instant::now();
    let r = cloud.password_auth(&pat, "pat-pw", project_scope(&project)).await.expect(401);
    assert!(r.error_message().contains("locked"), "{}", r.text);
    assert_eq!(r.body["error"]["title"], "Unauthorized");
    // Other users are not affected.
    cloud.password_auth(&quinn, "quinn-pw", Value::Null).await.expect(201);

    tokio::time::sleep(Duration::from_millis(2300).saturating_sub(started.elapsed())).await;
    let r = cloud.password_auth(&pat, "pat-pw", project_scope(&project)).await.expect(201);
    assert_eq!(r.body["token"]["project"]["id"], project.as_str());
    // The success cleared the count: one wrong password does not lock again.
    cloud.password_auth(&pat, "wrong", Value::Null).await.expect(401);
    cloud.password_auth(&pat, "pat-pw", Value::Null).await.expect(201);
}

#[tokio::test]
async fn an_admin_password_reset_unlocks_the_account() {
    let cloud = Cloud::start_with(|c| {
        c.identity.lockout_failure_attempts = 2;
        c.identity.lockout_duration = 3600;
    })
    .await;
    let admin = cloud.admin_token().await;
    let rae = cloud.create_user(&admin, "rae", "rae-pw").await;
    for _ in 0..2 {
        cloud.password_auth(&rae, "wrong", Value::Null).await.expect(401);
    }
    let r = cloud.password_auth(&rae, "rae-pw", Value::Null).await.expect(401);
    assert!(r.error_message().contains("locked"), "{}", r.text);

    cloud
        .patch(&format!("/v3/users/{rae}"))
        .token(&admin)
        .json(json!({"user": {"password": "new-pw"}}))
        .send()
        .await
        .expect(200);
    cloud.password_auth(&rae, "new-pw", Value::Null).await.expect(201);
}

#[tokio::test]
async fn a_locked_account_cannot_change_its_own_password_either() {
    let cloud = Cloud::start_with(|c| {
        c.identity.lockout_failure_attempts = 2;
        c.identity.lockout_duration = 3600;
    })
    .await;
    let admin = cloud.admin_token().await;
    let sam = cloud.create_user(&admin, "sam", "sam-pw").await;
    let change = |original: &'static str| {
        cloud
            .post(&format!("/v3/users/{sam}/password"))
            .json(json!({"user": {"original_password": original, "password": "taken-over"}}))
            .send()
    };
    // Guessing through the password change counts as failed attempts ...
    for _ in 0..2 {
        let r = change("guess").await.expect(401);
        assert_eq!(r.error_message(), "Invalid username or password.");
    }
    // ... and once locked, the right original password changes nothing.
    let r = change("sam-pw").await.expect(401);
    assert!(r.error_message().contains("locked"), "{}", r.text);
    let r = cloud.password_auth(&sam, "taken-over", Value::Null).await.expect(401);
    assert!(r.error_message().contains("locked"), "{}", r.text);

    // A disabled user cannot change its password either.
    let tia = cloud.create_user(&admin, "tia", "tia-pw").await;
    cloud
        .patch(&format!("/v3/users/{tia}"))
        .token(&admin)
        .json(json!({"user": {"enabled": false}}))
        .send()
        .await
        .expect(200);
    cloud
        .post(&format!("/v3/users/{tia}/password"))
        .json(json!({"user": {"original_password": "tia-pw", "password": "new-pw"}}))
        .send()
        .await
        .expect(401);
}
