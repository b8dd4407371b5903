//! The message bus between a service and its agents (oslo.messaging's role in OpenStack).
//!
//! Addressing is oslo.messaging's: a [`Target`] names a `topic` (e.g. `compute`) and maybe a
//! `server` (a host). A listener on (topic, server) receives what is sent to `topic.server`,
//! its share of what is sent to `topic` alone (round-robin among listeners), and every
//! fan-out to `topic`.
//!
//! Three ways to send: [`Bus::cast`] (fire and forget), [`Bus::call`] (wait for the answer,
//! with a timeout) and [`Bus::fanout`] (to every listener of a topic). Messages are JSON with
//! a version, so both ends can evolve; each service defines its messages as serde enums and
//! encodes them with [`Message::encode`].
//!
//! [`LocalBus`] is the in-process bus of `stratus up`; an AMQP bus (RabbitMQ) implements the
//! same trait for agents on other hosts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::auth::BoxFuture;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub topic: String,
    pub server: Option<String>,
}

impl Target {
    pub fn topic(topic: &str) -> Target {
        Target { topic: topic.into(), server: None }
    }

    pub fn server(topic: &str, server: &str) -> Target {
        Target { topic: topic.into(), server: Some(server.into()) }
    }

    /// The queue name: `topic` or `topic.server`.
    pub fn queue(&self) -> String {
        match &self.server {
            Some(s) => format!("{}.{s}", self.topic),
            None => self.topic.clone(),
        }
    }
}

/// One message: a versioned JSON body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Message {
    /// The interface version the sender speaks, e.g. `1.0`.
    pub version: String,
    pub body: Value,
}

impl Message {
    pub fn encode<T: Serialize>(version: &str, body: &T) -> Message {
        Message { version: version.into(), body: serde_json::to_value(body).expect("message serializes") }
    }

    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, BusError> {
        serde_json::from_value(self.body.clone())
            .map_err(|e| BusError::Remote(format!("cannot decode message (version {}): {e}", self.version)))
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum BusError {
    #[error("no one listens on {0}")]
    NoListener(String),
    #[error("timed out after {0:?} waiting for an answer from {1}")]
    Timeout(Duration, String),
    /// The receiver handled the call and answered with an error.
    #[error("{0}")]
    Remote(String),
    #[error("bus: {0}")]
    Transport(String),
}

/// The answer to a call.
pub type Reply = Result<Value, String>;

/// A received message; answer it with [`Incoming::reply`] if it was a call.
pub struct Incoming {
    pub message: Message,
    reply: Option<Box<dyn FnOnce(Reply) + Send>>,
}

impl Incoming {
    pub fn new(message: Message, reply: Option<Box<dyn FnOnce(Reply) + Send>>) -> Incoming {
        Incoming { message, reply }
    }

    pub fn is_call(&self) -> bool {
        self.reply.is_some()
    }

    /// Answers a call (a cast ignores it).
    pub fn reply(mut self, reply: Reply) {
        if let Some(f) = self.reply.take() {
            f(reply)
        }
    }
}

/// What a listener reads from.
pub type Listener = mpsc::UnboundedReceiver<Incoming>;

pub trait Bus: Send + Sync + 'static {
    fn cast<'a>(&'a self, target: &'a Target, message: Message) -> BoxFuture<'a, Result<(), BusError>>;
    fn call<'a>(
        &'a self,
        target: &'a Target,
        message: Message,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Value, BusError>>;
    fn fanout<'a>(&'a self, topic: &'a str, message: Message) -> BoxFuture<'a, Result<(), BusError>>;
    /// Starts listening as `server` on `topic`.
    fn listen<'a>(&'a self, topic: &'a str, server: &'a str) -> BoxFuture<'a, Result<Listener, BusError>>;
}

pub type SharedBus = Arc<dyn Bus>;

/// Typed call: encode, call, decode the answer.
pub async fn call<T: DeserializeOwned>(
    bus: &dyn Bus,
    target: &Target,
    message: Message,
    timeout: Duration,
) -> Result<T, BusError> {
    let value = bus.call(target, message, timeout).await?;
    serde_json::from_value(value).map_err(|e| BusError::Remote(format!("cannot decode the answer: {e}")))
}

/// The in-process bus: channels, no serialization beyond the JSON bodies.
#[derive(Default)]
pub struct LocalBus {
    queues: Mutex<HashMap<String, Queue>>,
}

#[derive(Default)]
struct Queue {
    listeners: Vec<mpsc::UnboundedSender<Incoming>>,
    next: AtomicUsize,
}

impl LocalBus {
    pub fn new() -> Arc<LocalBus> {
        Arc::new(LocalBus::default())
    }

    /// Hands `make()` to one live listener of `queue`, round-robin; false if none is left.
    fn deliver(&self, queue: &str, make: impl FnOnce() -> Incoming) -> bool {
        let mut queues = self.queues.lock().expect("bus lock");
        let Some(q) = queues.get_mut(queue) else { return false };
        q.listeners.retain(|l| !l.is_closed());
        if q.listeners.is_empty() {
            return false;
        }
        let i = q.next.fetch_add(1, Ordering::Relaxed) % q.listeners.len();
        q.listeners[i].send(make()).is_ok()
    }
}

fn fanout_queue(topic: &str) -> String {
    format!("{topic}_fanout")
}

impl Bus for LocalBus {
    fn cast<'a>(&'a self, target: &'a Target, message: Message) -> BoxFuture<'a, Result<(), BusError>> {
        Box::pin(async move {
            let queue = target.queue();
            if self.deliver(&queue, || Incoming::new(message, None)) {
                Ok(())
            } else {
                Err(BusError::NoListener(queue))
            }
        })
    }

    fn call<'a>(
        &'a self,
        target: &'a Target,
        message: Message,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Value, BusError>> {
        Box::pin(async move {
            let queue = target.queue();
            let (tx, rx) = oneshot::channel();
            let reply: Box<dyn FnOnce(Reply) + Send> = Box::new(move |r| {
                let _ = tx.send(r);
            });
            if !self.deliver(&queue, || Incoming::new(message, Some(reply))) {
                return Err(BusError::NoListener(queue));
            }
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(Ok(value))) => Ok(value),
                Ok(Ok(Err(remote))) => Err(BusError::Remote(remote)),
                Ok(Err(_)) => Err(BusError::Remote(format!("{queue} dropped the call without answering"))),
                Err(_) => Err(BusError::Timeout(timeout, queue)),
            }
        })
    }

    fn fanout<'a>(&'a self, topic: &'a str, message: Message) -> BoxFuture<'a, Result<(), BusError>> {
        Box::pin(async move {
            let mut queues = self.queues.lock().expect("bus lock");
            if let Some(q) = queues.get_mut(&fanout_queue(topic)) {
                q.listeners.retain(|l| !l.is_closed());
                for l in &q.listeners {
                    let _ = l.send(Incoming::new(message.clone(), None));
                }
            }
            Ok(())
        })
    }

    fn listen<'a>(&'a self, topic: &'a str, server: &'a str) -> BoxFuture<'a, Result<Listener, BusError>> {
        Box::pin(async move {
            let (tx, rx) = mpsc::unbounded_channel();
            let mut queues = self.queues.lock().expect("bus lock");
            for queue in [topic.to_string(), format!("{topic}.{server}"), fanout_queue(topic)] {
                queues.entry(queue).or_default().listeners.push(tx.clone());
            }
            Ok(rx)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    #[tokio::test]
    async fn call_cast_fanout_and_addressing() {
        let bus = LocalBus::new();
        let t = Duration::from_secs(1);
        let msg = |b: Value| Message { version: "1.0".into(), body: b };
        assert_eq!(
            bus.call(&Target::server("compute", "h1"), msg(json!(1)), t).await,
            Err(BusError::NoListener("compute.h1".into()))
        );
        echo(bus.listen("compute", "h1").await.unwrap(), "h1");
        echo(bus.listen("compute", "h2").await.unwrap(), "h2");
        let r = bus.call(&Target::server("compute", "h2"), msg(json!(7)), t).await.unwrap();
        assert_eq!(r, json!({"from": "h2", "body": 7}));
        // The topic alone goes round-robin.
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..4 {
            let r = bus.call(&Target::topic("compute"), msg(json!(0)), t).await.unwrap();
            seen.insert(r["from"].as_str().unwrap().to_string());
        }
        assert_eq!(seen.len(), 2);
        let err = bus.call(&Target::server("compute", "h1"), msg(json!("fail")), t).await.unwrap_err();
        assert_eq!(err, BusError::Remote("asked to fail".into()));
    }

    #[tokio::test]
    async fn calls_time_out_and_fanout_reaches_all() {
        let bus = LocalBus::new();
        let mut a = bus.listen("agents", "a").await.unwrap();
        let mut b = bus.listen("agents", "b").await.unwrap();
        let msg = Message { version: "1.0".into(), body: json!("hi") };
        bus.fanout("agents", msg.clone()).await.unwrap();
        assert_eq!(a.recv().await.unwrap().message, msg);
        assert_eq!(b.recv().await.unwrap().message, msg);
        let err = bus.call(&Target::server("agents", "a"), msg, Duration::from_millis(20)).await.unwrap_err();
        assert!(matches!(err, BusError::Timeout(..)));
        // A listener that went away is skipped.
        drop(a);
        drop(b);
        let err = bus.cast(&Target::topic("agents"), Message { version: "1".into(), body: json!(1) }).await;
        assert_eq!(err, Err(BusError::NoListener("agents".into())));
    }
}
