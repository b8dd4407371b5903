//! The AMQP bus against a real RabbitMQ: set `STRATUS_TEST_AMQP_URL`
//! (e.g. `amqp://guest:guest@127.0.0.1:5672/`); without it every test is skipped.
//!
//! Each test uses topics of its own, so the tests can run at the same time on one broker.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use stratus_core::bus::{Bus, BusError, Incoming, Listener, Message, Target};
use stratus_core::bus_amqp::{connect, AmqpBus};

const T: Duration = Duration::from_secs(5);

/// A connection to the test broker, or `None` (the test is skipped) without one.
async fn bus(test: &str) -> Option<Arc<AmqpBus>> {
    let Ok(url) = std::env::var("STRATUS_TEST_AMQP_URL") else {
        println!("{test}: skipped (STRATUS_TEST_AMQP_URL is not set)");
        return None;
    };
    Some(connect(&url).await.expect("connects to STRATUS_TEST_AMQP_URL"))
}

fn topic(name: &str) -> String {
    format!("test-{name}-{}", uuid::Uuid::new_v4().simple())
}

fn msg(body: Value) -> Message {
    Message { version: "1.0".into(), body }
}

/// Answers every call with its name and the body, or an error for the body `"fail"`.
fn echo(mut rx: Listener, name: &'static str) {
    tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            let body = m.message.body.clone();
            if body == json!("fail") {
                m.reply(Err("asked to fail".into()));
            } else {
                m.reply(Ok(json!({"from": name, "body": body})));
            }
        }
    });
}

async fn recv(rx: &mut Listener) -> Incoming {
    tokio::time::timeout(T, rx.recv()).await.expect("a message in time").expect("the listener is open")
}

#[tokio::test]
async fn call_to_a_server_and_round_robin_on_the_topic() {
    let Some(caller) = bus("call_to_a_server_and_round_robin_on_the_topic").await else { return };
    let (h1, h2) = (bus("h1").await.unwrap(), bus("h2").await.unwrap());
    let topic = topic("rr");
    echo(h1.listen(&topic, "h1").await.unwrap(), "h1");
    echo(h2.listen(&topic, "h2").await.unwrap(), "h2");

    let r = caller.call(&Target::server(&topic, "h2"), msg(json!(7)), T).await.unwrap();
    assert_eq!(r, json!({"from": "h2", "body": 7}));
    let r = caller.call(&Target::server(&topic, "h1"), msg(json!({"a": [1, 2]})), T).await.unwrap();
    assert_eq!(r, json!({"from": "h1", "body": {"a": [1, 2]}}));

    let mut seen = BTreeSet::new();
    for i in 0..10 {
        let r = caller.call(&Target::topic(&topic), msg(json!(i)), T).await.unwrap();
        assert_eq!(r["body"], json!(i));
        seen.insert(r["from"].as_str().unwrap().to_string());
    }
    assert_eq!(seen, BTreeSet::from(["h1".to_string(), "h2".to_string()]));
}

#[tokio::test]
async fn cast_is_delivered() {
    let Some(bus) = bus("cast_is_delivered").await else { return };
    let topic = topic("cast");
    let mut rx = bus.listen(&topic, "a").await.unwrap();
    let m = msg(json!({"do": "reboot", "id": 3}));
    bus.cast(&Target::server(&topic, "a"), m.clone()).await.unwrap();
    let got = recv(&mut rx).await;
    assert!(!got.is_call());
    assert_eq!(got.message, m);
    bus.cast(&Target::topic(&topic), msg(json!(2))).await.unwrap();
    assert_eq!(recv(&mut rx).await.message, msg(json!(2)));
}

#[tokio::test]
async fn fanout_reaches_every_listener() {
    let Some(bus) = bus("fanout_reaches_every_listener").await else { return };
    let other = crate::bus("other connection").await.unwrap();
    let topic = topic("fanout");
    // Nobody listens yet: not an error.
    bus.fanout(&topic, msg(json!("nobody"))).await.unwrap();
    let mut a = bus.listen(&topic, "a").await.unwrap();
    let mut b = bus.listen(&topic, "b").await.unwrap();
    let mut c = other.listen(&topic, "c").await.unwrap();
    let m = msg(json!("hi all"));
    bus.fanout(&topic, m.clone()).await.unwrap();
    for rx in [&mut a, &mut b, &mut c] {
        let got = recv(rx).await;
        assert_eq!(got.message, m);
        assert!(!got.is_call());
    }
    // Exactly once each.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(a.try_recv().is_err() && b.try_recv().is_err() && c.try_recv().is_err());
}

#[tokio::test]
async fn a_call_nobody_answers_times_out() {
    let Some(bus) = bus("a_call_nobody_answers_times_out").await else { return };
    let topic = topic("timeout");
    let mut rx = bus.listen(&topic, "a").await.unwrap();
    // Keeps the calls without answering them.
    let held = tokio::spawn(async move {
        let mut held = vec![];
        while let Some(m) = rx.recv().await {
            held.push(m);
        }
    });
    let t = Duration::from_millis(300);
    let started = std::time::Instant::now();
    let err = bus.call(&Target::server(&topic, "a"), msg(json!(1)), t).await.unwrap_err();
    assert_eq!(err, BusError::Timeout(t, format!("{topic}.a")));
    assert!(started.elapsed() >= t && started.elapsed() < t + Duration::from_secs(2));
    held.abort();
}

#[tokio::test]
async fn a_call_dropped_unanswered_is_an_error() {
    let Some(bus) = bus("a_call_dropped_unanswered_is_an_error").await else { return };
    let topic = topic("dropped");
    let mut rx = bus.listen(&topic, "a").await.unwrap();
    tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            drop(m);
        }
    });
    let err = bus.call(&Target::server(&topic, "a"), msg(json!(1)), T).await.unwrap_err();
    assert_eq!(err, BusError::Remote(format!("{topic}.a dropped the call without answering")));
}

#[tokio::test]
async fn sending_to_nobody_is_no_listener() {
    let Some(bus) = bus("sending_to_nobody_is_no_listener").await else { return };
    let topic = topic("nobody");
    let nobody = Target::server(&topic, "nobody");
    let queue = format!("{topic}.nobody");
    assert_eq!(bus.call(&nobody, msg(json!(1)), T).await, Err(BusError::NoListener(queue.clone())));
    assert_eq!(bus.cast(&nobody, msg(json!(1))).await, Err(BusError::NoListener(queue.clone())));
    assert_eq!(
        bus.cast(&Target::topic(&topic), msg(json!(1))).await,
        Err(BusError::NoListener(topic.clone()))
    );

    // Someone listens on the topic, as another server: still nobody for `nobody`.
    let rx = bus.listen(&topic, "a").await.unwrap();
    bus.cast(&Target::server(&topic, "a"), msg(json!(1))).await.unwrap();
    assert_eq!(bus.call(&nobody, msg(json!(1)), T).await, Err(BusError::NoListener(queue)));

    // Once the listener is dropped, its queues go away (asynchronously).
    drop(rx);
    let mut result = Ok(());
    for _ in 0..50 {
        result = bus.cast(&Target::server(&topic, "a"), msg(json!(2))).await;
        if result.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(result, Err(BusError::NoListener(format!("{topic}.a"))));
    assert_eq!(
        bus.cast(&Target::topic(&topic), msg(json!(2))).await,
        Err(BusError::NoListener(topic.clone()))
    );
}

#[tokio::test]
async fn a_remote_error_comes_back() {
    let Some(bus) = bus("a_remote_error_comes_back").await else { return };
    let topic = topic("remote");
    echo(bus.listen(&topic, "a").await.unwrap(), "a");
    let err = bus.call(&Target::server(&topic, "a"), msg(json!("fail")), T).await.unwrap_err();
    assert_eq!(err, BusError::Remote("asked to fail".into()));
    // The connection still works afterwards.
    let r = bus.call(&Target::server(&topic, "a"), msg(json!(1)), T).await.unwrap();
    assert_eq!(r, json!({"from": "a", "body": 1}));
}

#[tokio::test]
async fn many_concurrent_calls_are_all_answered() {
    let Some(caller) = bus("many_concurrent_calls_are_all_answered").await else { return };
    let (h1, h2) = (bus("h1").await.unwrap(), bus("h2").await.unwrap());
    let topic = topic("many");
    echo(h1.listen(&topic, "h1").await.unwrap(), "h1");
    echo(h2.listen(&topic, "h2").await.unwrap(), "h2");

    let mut calls = tokio::task::JoinSet::new();
    for i in 0..200u64 {
        let (caller, topic) = (caller.clone(), topic.clone());
        calls.spawn(async move {
            // Every tenth goes to a server nobody listens as: a NoListener among answers.
            let target = match i % 10 {
                0 => Target::server(&topic, "nobody"),
                1..=4 => Target::server(&topic, "h1"),
                5 | 6 => Target::server(&topic, "h2"),
                _ => Target::topic(&topic),
            };
            (i, target.clone(), caller.call(&target, msg(json!(i)), Duration::from_secs(20)).await)
        });
    }
    let mut answered = BTreeSet::new();
    while let Some(done) = calls.join_next().await {
        let (i, target, result) = done.unwrap();
        match target.server.as_deref() {
            Some("nobody") => assert_eq!(result, Err(BusError::NoListener(target.queue())), "call {i}"),
            server => {
                let r = result.unwrap_or_else(|e| panic!("call {i} to {}: {e}", target.queue()));
                assert_eq!(r["body"], json!(i));
                if let Some(server) = server {
                    assert_eq!(r["from"], json!(server));
                }
                answered.insert(i);
            }
        }
    }
    assert_eq!(answered.len(), 180);
}

#[tokio::test]
async fn rabbit_urls_are_accepted() {
    let Ok(url) = std::env::var("STRATUS_TEST_AMQP_URL") else {
        println!("rabbit_urls_are_accepted: skipped (STRATUS_TEST_AMQP_URL is not set)");
        return;
    };
    let Some(rest) = url.strip_prefix("amqp://") else { return };
    let bus = connect(&format!("rabbit://{rest}")).await.unwrap();
    let topic = topic("rabbit");
    echo(bus.listen(&topic, "a").await.unwrap(), "a");
    let r = bus.call(&Target::server(&topic, "a"), msg(json!(1)), T).await.unwrap();
    assert_eq!(r["from"], json!("a"));
    bus.close().await;
}

/// A vhost of its own on the test broker (so that closing its connections touches no other
/// test), made with `rabbitmqctl`; None (the test is skipped) without either.
struct Vhost {
    ctl: std::path::PathBuf,
    name: String,
    url: String,
}

impl Vhost {
    fn create(test: &str) -> Option<Vhost> {
        let Ok(url) = std::env::var("STRATUS_TEST_AMQP_URL") else {
            println!("{test}: skipped (STRATUS_TEST_AMQP_URL is not set)");
            return None;
        };
        let ctl = ["/usr/sbin/rabbitmqctl", "/usr/bin/rabbitmqctl"]
            .iter()
            .map(std::path::PathBuf::from)
            .find(|p| p.exists());
        let Some(ctl) = ctl else {
            println!("{test}: skipped (no rabbitmqctl to close connections with)");
            return None;
        };
        let name = format!("stratus-test-{}", uuid::Uuid::new_v4().simple());
        let run =
            |args: &[&str]| std::process::Command::new(&ctl).args(args).output().map(|o| o.status.success());
        if !matches!(run(&["-q", "add_vhost", &name]), Ok(true)) {
            println!("{test}: skipped (rabbitmqctl cannot add a vhost here)");
            return None;
        }
        let user = url.trim_start_matches("amqp://").split([':', '@']).next().unwrap_or("guest").to_string();
        assert!(matches!(run(&["-q", "set_permissions", "-p", &name, &user, ".*", ".*", ".*"]), Ok(true)));
        // amqp://user:password@host:port[/vhost] → the same broker and user, this vhost.
        let (scheme, rest) = url.split_once("://").expect("an amqp:// URL");
        let authority = rest.split('/').next().unwrap_or(rest);
        Some(Vhost { url: format!("{scheme}://{authority}/{name}"), ctl, name })
    }

    /// What a broker restart does to every connection of the vhost.
    fn close_connections(&self) {
        let out = std::process::Command::new(&self.ctl)
            .args(["-q", "close_all_connections", "-p", &self.name, "test: connection lost"])
            .output()
            .expect("rabbitmqctl runs");
        assert!(out.status.success(), "rabbitmqctl close_all_connections: {out:?}");
    }
}

impl Drop for Vhost {
    fn drop(&mut self) {
        let _ = std::process::Command::new(&self.ctl).args(["-q", "delete_vhost", &self.name]).output();
    }
}

#[tokio::test]
async fn a_lost_connection_is_recovered() {
    let Some(vhost) = Vhost::create("a_lost_connection_is_recovered") else { return };
    let caller = connect(&vhost.url).await.expect("connects to the test vhost");
    let host = connect(&vhost.url).await.unwrap();
    let topic = topic("recover");
    echo(host.listen(&topic, "h1").await.unwrap(), "h1");
    let mut casts = host.listen(&format!("{topic}-casts"), "h1").await.unwrap();
    let target = Target::server(&topic, "h1");
    assert_eq!(caller.call(&target, msg(json!(1)), T).await.unwrap()["from"], json!("h1"));

    vhost.close_connections();
    // Both ends reconnect and declare their queues again; the listener's receiver stays open.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let answer = loop {
        match caller.call(&target, msg(json!(2)), Duration::from_secs(2)).await {
            Ok(v) => break v,
            Err(e) if std::time::Instant::now() < deadline => {
                println!("not yet: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("no answer 30 s after the connections were closed: {e}"),
        }
    };
    assert_eq!(answer, json!({"from": "h1", "body": 2}));
    caller.cast(&Target::server(&format!("{topic}-casts"), "h1"), msg(json!("after"))).await.unwrap();
    assert_eq!(recv(&mut casts).await.message.body, json!("after"));
    caller.close().await;
    host.close().await;
}
