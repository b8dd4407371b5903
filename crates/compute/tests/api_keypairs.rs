//! `/os-keypairs`: import (fingerprints), generation, names, users, paging and quota.

mod api_harness;

use api_harness::{Cloud, ADMIN, MEMBER_P, MEMBER_Q, READER_P};
use serde_json::json;

// Made with `ssh-keygen`; fingerprints from `ssh-keygen -l -E md5`.
const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDEn+k89KD5fXTvXGRtir1RDFJrMWGgsQ2BlK6qethLFcYvldWipFVBRWOfqIGcMT9ct20SbRAbwMIJ6UUsR6Saaw5ZgzpcL1kgF5AxHmEYXLDMZX7BbG7vk2PIgeYHOboPwBsARC/wnsxUIBYClbasQVD2pnHhOhjojz4xc5w0pQ== test@stratus";
const RSA_FP: &str = "48:43:3b:aa:e6:f8:f5:3c:6b:4f:31:3e:8e:40:46:b5";
const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIMvJL/s1LbPkj9hPGgIlWIMrSI4C6dvTOTLspHXZxK2 e@x";
const ED25519_FP: &str = "35:5c:97:03:1e:f0:52:e6:7c:75:66:98:3a:1b:47:c4";

#[tokio::test]
async fn import_show_list_delete() {
    let cloud = Cloud::start().await;
    let r = cloud
        .post("/os-keypairs")
        .token(READER_P)
        .version("2.10")
        .json(json!({"keypair": {"name": "k1", "public_key": RSA}}))
        .send()
        .await
        .expect(201);
    let k = &r.body["keypair"];
    assert_eq!(k["fingerprint"], RSA_FP);
    assert_eq!(k["type"], "ssh");
    assert_eq!(k["user_id"], READER_P);
    assert_eq!(k["public_key"], RSA);
    assert!(k.get("private_key").is_none());
    // 2.1: 200 and no type.
    let r = cloud
        .post("/os-keypairs")
        .token(READER_P)
        .json(json!({"keypair": {"name": "k2", "public_key": ED25519}}))
        .send()
        .await
        .expect(200);
    assert_eq!(r.body["keypair"]["fingerprint"], ED25519_FP);
    assert!(r.body["keypair"].get("type").is_none());

    let msg = cloud
        .post("/os-keypairs")
        .token(READER_P)
        .json(json!({"keypair": {"name": "k1", "public_key": ED25519}}))
        .send()
        .await
        .expect_error(409);
    assert_eq!(msg, "Key pair 'k1' already exists.");

    let show = cloud.get("/os-keypairs/k1").token(READER_P).version("2.2").send().await.expect(200).body;
    let k = &show["keypair"];
    assert_eq!(k["name"], "k1");
    assert_eq!(k["type"], "ssh");
    assert_eq!(k["deleted"], false);
    assert!(k["id"].is_i64() && k["created_at"].is_string());
    let stored = cloud.service.store.keypair(READER_P, "k1").await.unwrap().unwrap();
    assert_eq!(stored.fingerprint, RSA_FP);

    let list = cloud.get("/os-keypairs").token(READER_P).version("2.2").send().await.expect(200).body;
    let names: Vec<&str> =
        list["keypairs"].as_array().unwrap().iter().map(|k| k["keypair"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["k1", "k2"]);
    assert_eq!(list["keypairs"][1]["keypair"]["fingerprint"], ED25519_FP);

    // Another user sees none of them.
    let other = cloud.get("/os-keypairs").token(MEMBER_Q).send().await.expect(200).body;
    assert_eq!(other["keypairs"], json!([]));
    cloud.get("/os-keypairs/k1").token(MEMBER_Q).send().await.expect_error(404);
    cloud.get("/os-keypairs/k1").token(MEMBER_P).send().await.expect_error(404);

    cloud.delete("/os-keypairs/k1").token(READER_P).version("2.2").send().await.expect(204);
    cloud.delete("/os-keypairs/k2").token(READER_P).send().await.expect(202);
    let msg = cloud.delete("/os-keypairs/k2").token(READER_P).send().await.expect_error(404);
    assert_eq!(msg, format!("Keypair k2 not found for user {READER_P}"));
}

#[tokio::test]
async fn bad_keys_and_names() {
    let cloud = Cloud::start().await;
    let create = |body: serde_json::Value, version: &'static str| {
        cloud.post("/os-keypairs").token(MEMBER_P).version(version).json(json!({ "keypair": body })).send()
    };
    let msg =
        create(json!({"name": "k", "public_key": "ssh-rsa AAAAnotakey"}), "2.10").await.expect_error(400);
    assert_eq!(msg, "Keypair data is invalid: failed to generate fingerprint");
    create(json!({"name": "k", "public_key": ED25519.replace("ssh-ed25519", "ssh-rsa")}), "2.10")
        .await
        .expect_error(400);
    create(json!({"name": "k", "public_key": ""}), "2.10").await.expect_error(400);
    create(json!({"name": "k", "public_key": RSA, "type": "pgp"}), "2.10").await.expect_error(400);
    // x509 wants a certificate.
    create(json!({"name": "k", "public_key": RSA, "type": "x509"}), "2.10").await.expect_error(400);
    // Names: letters, digits, '_', '-', spaces; '@' and '.' from 2.92.
    create(json!({"name": "a.b", "public_key": RSA}), "2.10").await.expect_error(400);
    create(json!({"name": "a@b.c", "public_key": RSA}), "2.92").await.expect(201);
    create(json!({"name": "", "public_key": RSA}), "2.10").await.expect_error(400);
    create(json!({"name": " lead", "public_key": RSA}), "2.10").await.expect_error(400);
    create(json!({"name": "x".repeat(256), "public_key": RSA}), "2.10").await.expect_error(400);
    create(json!({"name": "with space_and-dash", "public_key": RSA}), "2.10").await.expect(201);
    // type before 2.2, user_id before 2.10, unknown fields: refused.
    create(json!({"name": "t", "public_key": RSA, "type": "ssh"}), "2.1").await.expect_error(400);
    create(json!({"name": "t", "public_key": RSA, "user_id": MEMBER_P}), "2.9").await.expect_error(400);
    create(json!({"name": "t", "public_key": RSA, "colour": "red"}), "2.10").await.expect_error(400);
    create(json!({"public_key": RSA}), "2.10").await.expect_error(400);
    let names = cloud.service.store.keypairs(MEMBER_P, None, None).await.unwrap();
    assert_eq!(names.len(), 2);
}

#[tokio::test]
async fn generated_key_pairs() {
    let cloud = Cloud::start().await;
    let r = cloud
        .post("/os-keypairs")
        .token(MEMBER_P)
        .version("2.10")
        .json(json!({"keypair": {"name": "gen"}}))
        .send()
        .await
        .expect(201);
    let k = &r.body["keypair"];
    let private = k["private_key"].as_str().unwrap();
    assert!(private.starts_with("-----BEGIN RSA PRIVATE KEY-----"), "{private}");
    let public = k["public_key"].as_str().unwrap();
    assert!(public.starts_with("ssh-rsa "));
    assert_eq!(stratus_compute::keys::ssh_fingerprint(public).unwrap(), k["fingerprint"].as_str().unwrap());
    // The private key is handed out once.
    let show = cloud.get("/os-keypairs/gen").token(MEMBER_P).send().await.expect(200).body;
    assert!(show["keypair"].get("private_key").is_none());
    assert_eq!(show["keypair"]["public_key"], public);
    // From 2.92 only imports.
    let msg = cloud
        .post("/os-keypairs")
        .token(MEMBER_P)
        .version("2.92")
        .json(json!({"keypair": {"name": "gen2"}}))
        .send()
        .await
        .expect_error(400);
    assert!(msg.contains("public_key"), "{msg}");
}

#[tokio::test]
async fn other_users_and_paging() {
    let cloud = Cloud::start().await;
    // A member may not create or list key pairs of another user; an admin may (2.10).
    cloud
        .post("/os-keypairs")
        .token(MEMBER_P)
        .version("2.10")
        .json(json!({"keypair": {"name": "k", "public_key": RSA, "user_id": MEMBER_Q}}))
        .send()
        .await
        .expect_error(403);
    for name in ["a", "b", "c"] {
        cloud
            .post("/os-keypairs")
            .token(ADMIN)
            .version("2.10")
            .json(json!({"keypair": {"name": name, "public_key": RSA, "user_id": MEMBER_Q}}))
            .send()
            .await
            .expect(201);
    }
    cloud
        .get(&format!("/os-keypairs?user_id={MEMBER_Q}"))
        .token(MEMBER_P)
        .version("2.10")
        .send()
        .await
        .expect_error(403);
    let mine = cloud.get("/os-keypairs").token(MEMBER_Q).send().await.expect(200).body;
    assert_eq!(mine["keypairs"].as_array().unwrap().len(), 3);
    cloud
        .get(&format!("/os-keypairs/b?user_id={MEMBER_Q}"))
        .token(ADMIN)
        .version("2.10")
        .send()
        .await
        .expect(200);
    // Before 2.10 the parameter is ignored: the admin's own key pairs.
    cloud
        .get(&format!("/os-keypairs/b?user_id={MEMBER_Q}"))
        .token(ADMIN)
        .version("2.9")
        .send()
        .await
        .expect_error(404);

    // limit/marker from 2.35.
    let page = cloud
        .get(&format!("/os-keypairs?user_id={MEMBER_Q}&limit=2"))
        .token(ADMIN)
        .version("2.35")
        .send()
        .await
        .expect(200)
        .body;
    assert_eq!(page["keypairs"].as_array().unwrap().len(), 2);
    let next = page["keypairs_links"][0]["href"].as_str().unwrap();
    assert!(next.contains("marker=b"), "{next}");
    let rest = cloud
        .get(&format!("/os-keypairs?user_id={MEMBER_Q}&limit=2&marker=b"))
        .token(ADMIN)
        .version("2.35")
        .send()
        .await
        .expect(200)
        .body;
    assert_eq!(rest["keypairs"][0]["keypair"]["name"], "c");
    assert!(rest.get("keypairs_links").is_none());
    cloud.get("/os-keypairs?marker=zzz").token(MEMBER_Q).version("2.35").send().await.expect_error(400);
    // Before 2.35 there is no paging.
    let all = cloud.get("/os-keypairs?limit=1").token(MEMBER_Q).version("2.34").send().await.expect(200).body;
    assert_eq!(all["keypairs"].as_array().unwrap().len(), 3);

    cloud
        .delete(&format!("/os-keypairs/a?user_id={MEMBER_Q}"))
        .token(ADMIN)
        .version("2.10")
        .send()
        .await
        .expect(204);
}

#[tokio::test]
async fn key_pair_quota() {
    let cloud = Cloud::start_with(|c| c.compute.quota_key_pairs = 2).await;
    for name in ["a", "b"] {
        cloud
            .post("/os-keypairs")
            .token(MEMBER_P)
            .json(json!({"keypair": {"name": name, "public_key": ED25519}}))
            .send()
            .await
            .expect(200);
    }
    let msg = cloud
        .post("/os-keypairs")
        .token(MEMBER_P)
        .json(json!({"keypair": {"name": "c", "public_key": ED25519}}))
        .send()
        .await
        .expect_error(403);
    assert_eq!(msg, "Quota exceeded, too many key pairs.");
    // The quota counts per user.
    cloud
        .post("/os-keypairs")
        .token(READER_P)
        .json(json!({"keypair": {"name": "c", "public_key": ED25519}}))
        .send()
        .await
        .expect(200);
}
