//! Projects: tags and tag filters, nested projects.

mod common;

use common::*;
use serde_json::json;

async fn names_matching(cloud: &Cloud, admin: &str, query: &str) -> Vec<String> {
    let r = cloud.get(&format!("/v3/projects?{query}")).token(admin).send().await.expect(200);
    let mut names: Vec<String> = r.body["projects"]
        .as_array()
        .expect("projects")
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .filter(|n| n.starts_with('t'))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn project_tags_can_be_added_checked_replaced_and_removed() {
    let cloud = Cloud::start().await;
    let admin = cloud.admin_token().await;
    let r = cloud
        .post("/v3/projects")
        .token(&admin)
        .json(json!({"project": {"name": "tagged", "tags": ["blue", "green", "blue"]}}))
        .send()
        .await
        .expect(201);
    assert_eq!(r.body["project"]["tags"], json!(["blue", "green"]), "duplicate tags are kept once");
    let id = id_of(&r.body["project"]);
    let tags = format!("/v3/projects/{id}/tags");

    let r = cloud.get(&tags).token(&admin).send().await.expect(200);
    assert_eq!(r.body["tags"], json!(["blue", "green"]));
    cloud.put(&format!("{tags}/red")).token(&admin).send().await.expect(201);
    cloud.get(&format!("{tags}/red")).token(&admin).send().await.expect(204);
    let r = cloud.get(&format!("{tags}/yellow")).token(&admin).send().await.expect(404);
    assert_eq!(r.body["error"]["code"], 404);
    let r = cloud.get(&format!("/v3/projects/{id}")).token(&admin).send().await.expect(200);
    let mut shown: Vec<String> =
        r.body["project"]["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().into()).collect();
    shown.sort();
    assert_eq!(shown, ["blue", "green", "red"]);

    cloud.delete(&format!("{tags}/green")).token(&admin).send().await.expect(204);
    cloud.delete(&format!("{tags}/green")).token(&admin).send().await.expect(404);
    cloud.get(&format!("{tags}/green")).token(&admin).send().await.expect(404);

    let r = cloud.put(&tags).token(&admin).json(json!({"tags": ["one", "two"]})).send().await.expect(200);
    assert_eq!(r.body["tags"], json!(["one", "two"]));
    let r = cloud.get(&tags).token(&admin).send().await.expect(200);
    assert_eq!(r.body["tags"], json!(["one", "two"]));
    // A tag may not hold ',' or '/' (both would break the filters), nor may there be 81.
    let r = cloud.put(&tags).token(&admin).json(json!({"tags": ["a,b"]})).send().await.expect(400);
    assert!(r.error_message().contains("tags"), "{}", r.text);
    let many: Vec<String> = (0..81).map(|i| format!("t{i}")).collect();
    cloud.put(&tags).token(&admin).json(json!({ "tags": many })).send().await.expect(400);
    assert_eq!(cloud.get(&tags).token(&admin).send().await.body["tags"], json!(["one", "two"]));

    cloud.delete(&tags).token(&admin).send().await.expect(204);
    assert_eq!(cloud.get(&tags).token(&admin).send().await.expect(200).body["tags"], json!([]));

    // Members read tags but do not change them.
    let (_, project) = cloud.member_of_new_project(&admin, "kim", "member").await;
    let kim = cloud.token(&cloud_user(&cloud, &admin, "kim").await, "kim-pw", project_scope(&project)).await;
    let own = format!("/v3/projects/{project}/tags");
    cloud.get(&own).token(&kim).send().await.expect(200);
    cloud.put(&format!("{own}/mine")).token(&kim).send().await.expect(403);
    cloud.get("/v3/projects/nope/tags").token(&admin).send().await.expect(404);
}

async fn cloud_user(cloud: &Cloud, admin: &str, name: &str) -> String {
    let r = cloud.get(&format!("/v3/users?name={name}")).token(admin).send().await.expect(200);
    ids(&r.body, "users")[0].clone()
}

#[tokio::test]
async fn projects_are_filtered_by_tags() {
    let cloud = Cloud::start().await;
    let admin = cloud.admin_token().await;
    for (name, tags) in
        [("ta", json!(["a"])), ("tab", json!(["a", "b"])), ("tbc", json!(["b", "c"])), ("tnone", json!([]))]
    {
        cloud.create_project_with(&admin, json!({"name": name, "tags": tags})).await;
    }
    // All of the tags.
    assert_eq!(names_matching(&cloud, &admin, "tags=a").await, ["ta", "tab"]);
    assert_eq!(names_matching(&cloud, &admin, "tags=a,b").await, ["tab"]);
    // Any of the tags.
    assert_eq!(names_matching(&cloud, &admin, "tags-any=a,c").await, ["ta", "tab", "tbc"]);
    // Not all of the tags.
    assert_eq!(names_matching(&cloud, &admin, "not-tags=a,b").await, ["ta", "tbc", "tnone"]);
    // None of the tags.
    assert_eq!(names_matching(&cloud, &admin, "not-tags-any=a,c").await, ["tnone"]);
    // Combined.
    assert_eq!(names_matching(&cloud, &admin, "tags-any=b&not-tags=c").await, ["tab"]);
    assert_eq!(names_matching(&cloud, &admin, "tags=zzz").await, Vec::<String>::new());
}

#[tokio::test]
async fn nested_projects_know_their_parent_and_a_parent_with_children_stays() {
    let cloud = Cloud::start().await;
    let admin = cloud.admin_token().await;
    let domain = cloud.create_domain(&admin, "acme").await;
    let parent = cloud.create_project_with(&admin, json!({"name": "parent", "domain_id": domain})).await;
    let r = cloud
        .post("/v3/projects")
        .token(&admin)
        .json(json!({"project": {"name": "child", "parent_id": parent}}))
        .send()
        .await
        .expect(201);
    let child = id_of(&r.body["project"]);
    assert_eq!(r.body["project"]["parent_id"], parent.as_str());
    assert_eq!(r.body["project"]["domain_id"], domain.as_str(), "a child lives in its parent's domain");

    let r = cloud.get(&format!("/v3/projects/{parent}")).token(&admin).send().await.expect(200);
    assert_eq!(r.body["project"]["parent_id"], domain.as_str(), "a top-level project's parent is its domain");
    let r = cloud.get(&format!("/v3/projects?parent_id={parent}")).token(&admin).send().await.expect(200);
    assert_eq!(ids(&r.body, "projects"), vec![child.clone()]);

    // A parent in another domain, or one that does not exist, is refused.
    let r = cloud
        .post("/v3/projects")
        .token(&admin)
        .json(json!({"project": {"name": "stray", "parent_id": parent, "domain_id": "default"}}))
        .send()
        .await
        .expect(400);
    assert_eq!(r.body["error"]["code"], 400);
    cloud
        .post("/v3/projects")
        .token(&admin)
        .json(json!({"project": {"name": "orphan", "parent_id": "no-such-project"}}))
        .send()
        .await
        .expect(404);
    // The parent cannot be changed afterwards.
    cloud
        .patch(&format!("/v3/projects/{child}"))
        .token(&admin)
        .json(json!({"project": {"parent_id": null}}))
        .send()
        .await
        .expect(400);

    // A parent with children cannot be deleted; once the child is gone it can.
    let r = cloud.delete(&format!("/v3/projects/{parent}")).token(&admin).send().await.expect(403);
    assert_eq!(r.body["error"]["title"], "Forbidden");
    cloud.get(&format!("/v3/projects/{parent}")).token(&admin).send().await.expect(200);
    cloud.delete(&format!("/v3/projects/{child}")).token(&admin).send().await.expect(204);
    cloud.delete(&format!("/v3/projects/{parent}")).token(&admin).send().await.expect(204);
    cloud.get(&format!("/v3/projects/{parent}")).token(&admin).send().await.expect(404);
}

#[tokio::test]
async fn a_project_tree_is_disabled_from_the_leaves_and_enabled_from_the_root() {
    let cloud = Cloud::start().await;
    let admin = cloud.admin_token().await;
    let parent = cloud.create_project(&admin, "parent").await;
    let child = cloud.create_project_with(&admin, json!({"name": "child", "parent_id": parent})).await;
    let set_enabled = |id: String, enabled: bool| {
        let admin = admin.clone();
        let cloud = &cloud;
        async move {
            cloud
                .patch(&format!("/v3/projects/{id}"))
                .token(&admin)
                .json(json!({"project": {"enabled": enabled}}))
                .send()
                .await
        }
    };

    // As keystone: a parent with an enabled child stays enabled ...
    let r = set_enabled(parent.clone(), false).await.expect(403);
    assert!(r.error_message().contains(&parent), "{}", r.text);
    let r = cloud.get(&format!("/v3/projects/{parent}")).token(&admin).send().await.expect(200);
    assert_eq!(r.body["project"]["enabled"], true);
    // ... the leaves go first.
    set_enabled(child.clone(), false).await.expect(200);
    set_enabled(parent.clone(), false).await.expect(200);

    // Nothing is created or enabled below a disabled project.
    let r = cloud
        .post("/v3/projects")
        .token(&admin)
        .json(json!({"project": {"name": "late-child", "parent_id": parent}}))
        .send()
        .await
        .expect(400);
    assert_eq!(r.body["error"]["code"], 400);
    let r = set_enabled(child.clone(), true).await.expect(403);
    assert!(r.error_message().contains(&child), "{}", r.text);
    set_enabled(parent.clone(), true).await.expect(200);
    set_enabled(child.clone(), true).await.expect(200);
    cloud
        .post("/v3/projects")
        .token(&admin)
        .json(json!({"project": {"name": "late-child", "parent_id": parent}}))
        .send()
        .await
        .expect(201);
}
