//! Allocation candidates at scale: 1,000 and 10,000 compute nodes written straight into the
//! database (as another placement process would), then asked for over HTTP. Ignored by
//! default; run with
//! `cargo test --release -p stratus-placement --test scale -- --ignored --nocapture`.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use stratus_core::db;

async fn populate(c: &Cloud, n: usize) {
    let mut tx = c.service.store.db().begin().await.unwrap();
    let now = "2026-01-01T00:00:00.000000Z";
    for i in 0..n {
        let uuid = uuid::Uuid::new_v4().to_string();
        db::query("INSERT INTO resource_providers (uuid, name, generation, parent_uuid, root_uuid, created_at, updated_at) VALUES (?, ?, 1, NULL, ?, ?, ?)")
            .bind(&uuid).bind(format!("host{i:05}")).bind(&uuid).bind(now).bind(now)
            .execute(&mut *tx).await.unwrap();
        for (rc, total, ratio, used) in [
            ("VCPU", 64i64, 4.0f64, (i % 7) as i64),
            ("MEMORY_MB", 262144, 1.5, 4096),
            ("DISK_GB", 2000, 1.0, 40),
        ] {
            db::query("INSERT INTO inventories (provider_uuid, resource_class, total, reserved, min_unit, max_unit, step_size, allocation_ratio, used, created_at, updated_at) VALUES (?, ?, ?, 0, 1, ?, 1, ?, ?, ?, ?)")
                .bind(&uuid).bind(rc).bind(total).bind(total).bind(ratio).bind(used).bind(now).bind(now)
                .execute(&mut *tx).await.unwrap();
        }
        for t in [
            "COMPUTE_NODE",
            "HW_ARCH_X86_64",
            "HW_CPU_X86_AVX2",
            "COMPUTE_VOLUME_MULTI_ATTACH",
            "COMPUTE_NET_ATTACH_INTERFACE",
        ] {
            db::query("INSERT INTO provider_traits (provider_uuid, trait) VALUES (?, ?)")
                .bind(&uuid)
                .bind(t)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
    }
    db::query("UPDATE placement_state SET version = version + 1").execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
}

async fn measure(c: &Cloud, query: &str, rounds: usize) -> (Duration, Duration, usize) {
    let mut times = Vec::with_capacity(rounds);
    let mut n = 0;
    let url = format!("{}/allocation_candidates?{query}", c.url());
    for _ in 0..rounds {
        let started = Instant::now();
        let r = c
            .http
            .get(&url)
            .header("x-auth-token", SERVICE)
            .header("openstack-api-version", LATEST)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body = r.bytes().await.unwrap();
        times.push(started.elapsed());
        n = body.len();
    }
    times.sort();
    (times[rounds / 2], times[rounds * 99 / 100], n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn candidates_at_scale() {
    for n in [1_000, 10_000] {
        let c = Cloud::start().await;
        populate(&c, n).await;
        let started = Instant::now();
        c.get("/allocation_candidates?resources=VCPU:1").as_(SERVICE).send().await.expect(200);
        println!("{n} providers: first request (reloads the view) {:?}", started.elapsed());
        let nova = "resources=DISK_GB:20,MEMORY_MB:2048,VCPU:2&limit=1000&required=!COMPUTE_STATUS_DISABLED&root_required=COMPUTE_NODE";
        for (label, q) in [
            ("nova (limit 1000)", nova),
            ("all, no limit", "resources=VCPU:1,MEMORY_MB:512,DISK_GB:1"),
            ("limit 50", "resources=VCPU:1,MEMORY_MB:512,DISK_GB:1&limit=50"),
        ] {
            let (p50, p99, found) = measure(&c, q, 200).await;
            println!("{n} providers, {label}: {found} bytes, p50 {p50:?}, p99 {p99:?}");
        }
        // Claims keep the view current without reloading.
        let rp = c.get("/resource_providers?name=host00001").send().await.expect(200).body
            ["resource_providers"][0]["uuid"]
            .as_str()
            .unwrap()
            .to_string();
        let started = Instant::now();
        for _ in 0..50 {
            c.claim(&new_uuid(), json!({rp.clone(): {"resources": {"VCPU": 1}}}), None).await.expect(204);
        }
        println!("{n} providers: claim {:?} each", started.elapsed() / 50);
        let (p50, _, _) = measure(&c, nova, 50).await;
        println!("{n} providers: nova query after claims p50 {p50:?}");
        // One nested provider and one sharing provider take the search off its flat path.
        let child = c.child("host00002-numa0", &rp).await;
        c.inventory(&child, json!({"VCPU": {"total": 8}})).await.expect(200);
        let nfs = c.provider("nfs").await;
        c.inventory(&nfs, json!({"DISK_GB": {"total": 100000}})).await.expect(200);
        c.traits(&nfs, &["MISC_SHARES_VIA_AGGREGATE"]).await.expect(200);
        let agg = new_uuid();
        c.aggregates(&nfs, &[&agg]).await.expect(200);
        c.aggregates(&rp, &[&agg]).await.expect(200);
        let (p50, p99, bytes) = measure(&c, nova, 100).await;
        println!("{n} providers with a tree and a sharing provider: nova query {bytes} bytes, p50 {p50:?}, p99 {p99:?}");
    }
}
