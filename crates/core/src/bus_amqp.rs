//! The message bus over AMQP 0-9-1 (RabbitMQ), for agents on other hosts.
//!
//! The layout is oslo.messaging's rabbit driver:
//! - casts and calls go through one topic exchange, [`EXCHANGE`]. A listener on (topic, server)
//!   consumes from the shared queue `topic` (every listener of the topic consumes from it, so
//!   the broker hands its messages round-robin) and from its own queue `topic.server`; each
//!   queue is bound by its own name as routing key.
//! - fan-outs go through the fanout exchange `<topic>_fanout`, to which every listener binds an
//!   exclusive, auto-delete queue of its own.
//! - calls carry `reply_to` (the connection's exclusive reply queue) and a `correlation_id`; the
//!   answer, the JSON of a [`Reply`], comes back through the default exchange and is handed to
//!   the waiting caller. A call also carries its timeout as the message's expiration, so a
//!   listener never picks up a call whose caller gave up.
//!
//! Every message is the JSON of a [`Message`] (content type `application/json`).
//!
//! Unlike oslo's defaults, the `topic` and `topic.server` queues are auto-delete: once their last
//! listener is gone, sending to them is [`BusError::NoListener`] rather than a message queued
//! for an agent that may never come back (as with [`crate::bus::LocalBus`]). Casts and calls
//! are published `mandatory` with publisher confirms: a message no queue is bound for is
//! returned by the broker before it confirms it, and that return becomes `NoListener`. lapin
//! hands a returned message to whichever confirm it resolves next (with several publishes in
//! flight, possibly another one's), so these publishes go one at a time on their channel, and
//! the returned message's `message_id` is checked against the one published.
//!
//! Delivery is at most once, as oslo's default: a listener acknowledges each message when it
//! receives it, before handling it.
//!
//! A lost connection (the broker restarted, or closed it) is recovered: lapin reconnects with
//! a backoff (0.5 s doubling to 10 s, for as long as it takes) and declares the exchanges,
//! queues, bindings and consumers again on the new connection, so listeners keep their
//! receivers and simply receive again. Every queue is therefore named by the client (a
//! server-named `amq.gen-…` queue could not be declared again). A publish that fails on the
//! lost connection waits for the recovery and is sent once more (within its timeout); a call
//! whose answer was on its way when the connection went times out. Messages sent to a
//! listener's auto-delete queue while its connection was down are gone with the queue.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::{self, Stream, StreamExt};
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{FieldTable, ShortString};
use lapin::uri::{AMQPScheme, AMQPUri};
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, Consumer, Event, ExchangeKind,
};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::auth::BoxFuture;
use crate::bus::{Bus, BusError, Incoming, Listener, Message, Reply, Target};

/// The topic exchange of casts and calls.
pub const EXCHANGE: &str = "stratus";
/// How many unacknowledged messages the broker pushes ahead to one consumer.
const PREFETCH: u16 = 64;
/// How long the first connection to the broker may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a cast waits for the broker to take its message.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(30);
const JSON: &str = "application/json";

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Reply>>>>;

/// A [`Bus`] over one AMQP connection.
pub struct AmqpBus {
    conn: Connection,
    /// Casts and calls: publisher confirms, one publish at a time (see the module doc).
    confirmed: tokio::sync::Mutex<Channel>,
    /// Replies, fan-outs and the reply consumer: no confirms.
    plain: Channel,
    reply_queue: ShortString,
    /// The calls waiting for an answer, by correlation id.
    pending: Pending,
    /// The fanout exchanges this connection declared already.
    fanout_exchanges: Mutex<HashSet<String>>,
}

/// Connects to the broker at `transport_url`: `amqp://user:password@host:port/vhost`, or
/// oslo's `rabbit://…`. No vhost (`amqp://host:5672/`) means the default vhost `/`.
pub async fn connect(transport_url: &str) -> Result<Arc<AmqpBus>, BusError> {
    let uri = parse_url(transport_url)?;
    let broker = format!("{}:{} (vhost {})", uri.authority.host, uri.authority.port, uri.vhost);
    let props = ConnectionProperties::default()
        .with_connection_name("stratus".into())
        .enable_auto_recover()
        .configure_backoff(|b| {
            b.with_min_delay(Duration::from_millis(500))
                .with_max_delay(Duration::from_secs(10))
                .without_max_times()
        });
    // Recovery retries a lost connection for as long as it takes; the first one gets a
    // deadline, so that a wrong URL is an error rather than a wait.
    let conn = tokio::time::timeout(CONNECT_TIMEOUT, Connection::connect_uri(uri, props))
        .await
        .map_err(|_| {
            BusError::Transport(format!("cannot connect to {broker}: no answer in {CONNECT_TIMEOUT:?}"))
        })?
        .map_err(|e| BusError::Transport(format!("cannot connect to {broker}: {e}")))?;
    tokio::spawn(log_events(conn.events_listener(), broker.clone()));

    let confirmed = conn.create_channel().await.map_err(transport)?;
    confirmed.confirm_select(ConfirmSelectOptions::default()).await.map_err(transport)?;
    confirmed
        .exchange_declare(
            EXCHANGE.into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(transport)?;

    let plain = conn.create_channel().await.map_err(transport)?;
    let options = QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() };
    let reply_queue = ShortString::from(format!("reply_{}", new_id()));
    plain.queue_declare(reply_queue.clone(), options, FieldTable::default()).await.map_err(transport)?;
    let options = BasicConsumeOptions { no_ack: true, exclusive: true, ..Default::default() };
    let replies = plain
        .basic_consume(reply_queue.clone(), consumer_tag(), options, FieldTable::default())
        .await
        .map_err(transport)?;
    let pending = Pending::default();
    tokio::spawn(dispatch_replies(replies, pending.clone()));
    tracing::info!(%broker, "connected to the message bus");

    Ok(Arc::new(AmqpBus {
        conn,
        confirmed: tokio::sync::Mutex::new(confirmed),
        plain,
        reply_queue,
        pending,
        fanout_exchanges: Mutex::default(),
    }))
}

fn parse_url(url: &str) -> Result<AMQPUri, BusError> {
    let url = match url.strip_prefix("rabbit://") {
        Some(rest) => format!("amqp://{rest}"),
        None => url.to_string(),
    };
    let mut uri: AMQPUri =
        url.parse().map_err(|e: String| BusError::Transport(format!("invalid transport URL: {e}")))?;
    if uri.scheme != AMQPScheme::AMQP {
        return Err(BusError::Transport(
            "invalid transport URL: only amqp:// (without TLS) is supported".into(),
        ));
    }
    // amq-protocol reads `amqp://host/` as the vhost "", oslo (kombu) as the default vhost.
    if uri.vhost.is_empty() {
        uri.vhost = "/".into();
    }
    Ok(uri)
}

fn transport(e: lapin::Error) -> BusError {
    BusError::Transport(e.to_string())
}

async fn log_events(events: impl Stream<Item = Event> + Unpin, broker: String) {
    let mut events = events;
    while let Some(event) = events.next().await {
        match event {
            Event::Error(e) => tracing::error!(%broker, error = %e, "message bus connection error"),
            Event::ConnectionBlocked(reason) => {
                tracing::warn!(%broker, %reason, "the broker blocks publishing")
            }
            Event::ConnectionUnblocked => tracing::info!(%broker, "the broker unblocked publishing"),
            _ => {}
        }
    }
}

/// Hands each answer arriving on the reply queue to the call waiting for it.
async fn dispatch_replies(mut replies: Consumer, pending: Pending) {
    while let Some(delivery) = replies.next().await {
        let delivery = match delivery {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "message bus reply queue");
                continue;
            }
        };
        let Some(id) = delivery.properties.correlation_id() else { continue };
        let reply: Reply = serde_json::from_slice(&delivery.data)
            .unwrap_or_else(|e| Err(format!("cannot decode the answer: {e}")));
        match pending.lock().expect("pending calls lock").remove(id.as_str()) {
            Some(waiting) => {
                let _ = waiting.send(reply);
            }
            None => tracing::debug!(correlation_id = %id, "answer to a call that gave up"),
        }
    }
    tracing::warn!("message bus reply consumer stopped: calls on this connection will time out");
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A consumer tag of our own (declared again as it is after a reconnection).
fn consumer_tag() -> ShortString {
    format!("stratus_{}", new_id()).into()
}

fn properties(message_id: &str) -> BasicProperties {
    BasicProperties::default().with_content_type(JSON.into()).with_message_id(message_id.into())
}

fn encode(message: &Message) -> Result<Vec<u8>, BusError> {
    serde_json::to_vec(message).map_err(|e| BusError::Transport(format!("cannot encode the message: {e}")))
}

/// Forgets a pending call however the call ends.
struct PendingCall<'a>(&'a Pending, &'a str);

impl Drop for PendingCall<'_> {
    fn drop(&mut self) {
        self.0.lock().expect("pending calls lock").remove(self.1);
    }
}

impl AmqpBus {
    /// Publishes to the topic exchange, `mandatory`, and waits for the broker's confirm:
    /// [`BusError::NoListener`] if no queue is bound for `routing_key`.
    async fn publish_routed(
        &self,
        routing_key: &str,
        payload: &[u8],
        props: BasicProperties,
        message_id: &str,
    ) -> Result<(), BusError> {
        let channel = self.confirmed.lock().await;
        let options = BasicPublishOptions { mandatory: true, ..Default::default() };
        let publish = || async {
            channel
                .basic_publish(EXCHANGE.into(), routing_key.into(), options, payload, props.clone())
                .await?
                .await
        };
        let confirm = match publish().await {
            Ok(confirm) => confirm,
            // The connection was lost: once it is back, once more.
            Err(e) => {
                channel.wait_for_recovery(e).await.map_err(transport)?;
                publish().await.map_err(transport)?
            }
        };
        let (accepted, returned) = match confirm {
            Confirmation::Ack(returned) => (true, returned),
            Confirmation::Nack(returned) => (false, returned),
            Confirmation::NotRequested => (true, None),
        };
        if let Some(returned) = returned {
            if returned.properties.message_id().as_ref().map(ShortString::as_str) == Some(message_id) {
                return Err(BusError::NoListener(routing_key.into()));
            }
            // The return of an earlier publish whose caller gave up waiting.
            tracing::warn!(routing_key = %returned.routing_key, "stray returned message");
        }
        if !accepted {
            return Err(BusError::Transport(format!("the broker refused the message for {routing_key}")));
        }
        Ok(())
    }

    /// Declares the fanout exchange of a topic, once per connection.
    async fn declare_fanout(&self, exchange: &str) -> Result<(), BusError> {
        if self.fanout_exchanges.lock().expect("fanout lock").contains(exchange) {
            return Ok(());
        }
        declare_fanout(&self.plain, exchange).await?;
        self.fanout_exchanges.lock().expect("fanout lock").insert(exchange.into());
        Ok(())
    }

    async fn start_listening(
        &self,
        channel: &Channel,
        topic: &str,
        server: &str,
    ) -> Result<Vec<Consumer>, BusError> {
        channel.basic_qos(PREFETCH, BasicQosOptions::default()).await.map_err(transport)?;
        let server_queue = format!("{topic}.{server}");
        let mut queues = vec![];
        for queue in [topic, &server_queue] {
            let options = QueueDeclareOptions { auto_delete: true, ..Default::default() };
            channel.queue_declare(queue.into(), options, FieldTable::default()).await.map_err(transport)?;
            channel
                .queue_bind(
                    queue.into(),
                    EXCHANGE.into(),
                    queue.into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(transport)?;
            queues.push(ShortString::from(queue));
        }
        let exchange = fanout_exchange(topic);
        declare_fanout(channel, &exchange).await?;
        let options = QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() };
        let queue = ShortString::from(format!("{exchange}_{}", new_id()));
        channel.queue_declare(queue.clone(), options, FieldTable::default()).await.map_err(transport)?;
        channel
            .queue_bind(
                queue.clone(),
                exchange.into(),
                "".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(transport)?;
        queues.push(queue);

        let mut consumers = vec![];
        for queue in queues {
            let consumer = channel
                .basic_consume(queue, consumer_tag(), BasicConsumeOptions::default(), FieldTable::default())
                .await
                .map_err(transport)?;
            consumers.push(consumer);
        }
        Ok(consumers)
    }

    /// Closes the connection (listeners end, pending calls time out).
    pub async fn close(&self) {
        if let Err(e) = self.conn.close(200, "closing".into()).await {
            tracing::debug!(error = %e, "closing the message bus connection");
        }
    }
}

fn fanout_exchange(topic: &str) -> String {
    format!("{topic}_fanout")
}

async fn declare_fanout(channel: &Channel, exchange: &str) -> Result<(), BusError> {
    channel
        .exchange_declare(
            exchange.into(),
            ExchangeKind::Fanout,
            ExchangeDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(transport)
}

/// Forwards a listener's deliveries into its channel until it is dropped, then closes the
/// listener's AMQP channel (which cancels its consumers).
async fn forward(
    channel: Channel,
    mut deliveries: impl Stream<Item = lapin::Result<Delivery>> + Unpin,
    tx: mpsc::UnboundedSender<Incoming>,
    replies: Channel,
    listener: String,
) {
    loop {
        let delivery = tokio::select! {
            _ = tx.closed() => break,
            delivery = deliveries.next() => delivery,
        };
        let delivery = match delivery {
            Some(Ok(d)) => d,
            Some(Err(e)) => {
                tracing::error!(%listener, error = %e, "message bus listener");
                continue;
            }
            None => {
                tracing::warn!(%listener, "message bus listener stopped");
                break;
            }
        };
        // At most once: acknowledged on receipt.
        if let Err(e) = delivery.acker.ack(BasicAckOptions::default()).await {
            tracing::warn!(%listener, error = %e, "cannot acknowledge a message");
        }
        if let Some(incoming) = incoming(delivery, &replies) {
            if tx.send(incoming).is_err() {
                break;
            }
        }
    }
    if channel.status().connected() {
        let _ = channel.close(200, "listener dropped".into()).await;
    }
}

fn incoming(delivery: Delivery, replies: &Channel) -> Option<Incoming> {
    let props = &delivery.properties;
    let answer = match (props.reply_to(), props.correlation_id()) {
        (Some(reply_to), Some(correlation_id)) => Some(Answer {
            to: Some((replies.clone(), reply_to.clone(), correlation_id.clone())),
            queue: delivery.routing_key.to_string(),
        }),
        _ => None,
    };
    match serde_json::from_slice::<Message>(&delivery.data) {
        Ok(message) => {
            let reply = answer.map(|a| Box::new(move |r| a.send(r)) as Box<dyn FnOnce(Reply) + Send>);
            Some(Incoming::new(message, reply))
        }
        Err(e) => {
            tracing::warn!(queue = %delivery.routing_key, error = %e, "undecodable message dropped");
            if let Some(a) = answer {
                a.send(Err(format!("cannot decode the message: {e}")));
            }
            None
        }
    }
}

/// Where the answer to a call goes. Dropped unanswered, it tells the caller so (as
/// [`crate::bus::LocalBus`] does) rather than letting the call time out.
struct Answer {
    to: Option<(Channel, ShortString, ShortString)>,
    queue: String,
}

impl Answer {
    fn send(mut self, reply: Reply) {
        self.publish(reply);
    }

    fn publish(&mut self, reply: Reply) {
        let Some((channel, reply_to, correlation_id)) = self.to.take() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(queue = %self.queue, "answer dropped: no runtime to send it");
            return;
        };
        let payload = serde_json::to_vec(&reply).expect("a reply serializes");
        let props =
            BasicProperties::default().with_content_type(JSON.into()).with_correlation_id(correlation_id);
        runtime.spawn(async move {
            let sent = channel
                .basic_publish("".into(), reply_to, BasicPublishOptions::default(), &payload, props)
                .await;
            if let Err(e) = sent {
                tracing::warn!(error = %e, "cannot send an answer");
            }
        });
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        if self.to.is_some() {
            let reply = Err(format!("{} dropped the call without answering", self.queue));
            self.publish(reply);
        }
    }
}

impl Bus for AmqpBus {
    fn cast<'a>(&'a self, target: &'a Target, message: Message) -> BoxFuture<'a, Result<(), BusError>> {
        Box::pin(async move {
            let queue = target.queue();
            let payload = encode(&message)?;
            let id = new_id();
            tokio::time::timeout(PUBLISH_TIMEOUT, self.publish_routed(&queue, &payload, properties(&id), &id))
                .await
                .map_err(|_| BusError::Transport(format!("timed out publishing to {queue}")))?
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
            let payload = encode(&message)?;
            let id = new_id();
            let (tx, rx) = oneshot::channel();
            self.pending.lock().expect("pending calls lock").insert(id.clone(), tx);
            let _pending = PendingCall(&self.pending, &id);
            let props = properties(&id)
                .with_reply_to(self.reply_queue.clone())
                .with_correlation_id(id.as_str().into())
                .with_expiration(timeout.as_millis().max(1).to_string().into());
            let answer = tokio::time::timeout(timeout, async {
                self.publish_routed(&queue, &payload, props, &id).await?;
                rx.await.map_err(|_| BusError::Transport("the reply consumer stopped".into()))
            });
            match answer.await {
                Ok(Ok(Ok(value))) => Ok(value),
                Ok(Ok(Err(remote))) => Err(BusError::Remote(remote)),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(BusError::Timeout(timeout, queue)),
            }
        })
    }

    fn fanout<'a>(&'a self, topic: &'a str, message: Message) -> BoxFuture<'a, Result<(), BusError>> {
        Box::pin(async move {
            let exchange = fanout_exchange(topic);
            self.declare_fanout(&exchange).await?;
            let payload = encode(&message)?;
            let props = properties(&new_id());
            let publish = || {
                let exchange = ShortString::from(exchange.as_str());
                self.plain.basic_publish(
                    exchange,
                    "".into(),
                    BasicPublishOptions::default(),
                    &payload,
                    props.clone(),
                )
            };
            if let Err(e) = publish().await {
                self.plain.wait_for_recovery(e).await.map_err(transport)?;
                publish().await.map_err(transport)?;
            }
            Ok(())
        })
    }

    fn listen<'a>(&'a self, topic: &'a str, server: &'a str) -> BoxFuture<'a, Result<Listener, BusError>> {
        Box::pin(async move {
            let channel = self.conn.create_channel().await.map_err(transport)?;
            let consumers = match self.start_listening(&channel, topic, server).await {
                Ok(consumers) => consumers,
                Err(e) => {
                    if channel.status().connected() {
                        let _ = channel.close(200, "listen failed".into()).await;
                    }
                    return Err(e);
                }
            };
            let (tx, rx) = mpsc::unbounded_channel();
            let listener = format!("{topic}.{server}");
            tokio::spawn(forward(channel, stream::select_all(consumers), tx, self.plain.clone(), listener));
            Ok(rx)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_urls() {
        let uri = parse_url("amqp://guest:guest@127.0.0.1:5672/").unwrap();
        assert_eq!(
            (uri.authority.host.as_str(), uri.authority.port, uri.vhost.as_str()),
            ("127.0.0.1", 5672, "/")
        );
        assert_eq!(uri.authority.userinfo.username, "guest");
        let uri = parse_url("rabbit://u:p@mq.example:5673/stratus").unwrap();
        assert_eq!(
            (uri.authority.host.as_str(), uri.authority.port, uri.vhost.as_str()),
            ("mq.example", 5673, "stratus")
        );
        assert_eq!(
            (uri.authority.userinfo.username.as_str(), uri.authority.userinfo.password.as_str()),
            ("u", "p")
        );
        assert_eq!(parse_url("amqp://h").unwrap().vhost, "/");
        assert_eq!(parse_url("amqp://h/%2f").unwrap().vhost, "/");
        assert!(parse_url("amqps://h/").is_err());
        assert!(parse_url("http://h/").is_err());
    }
}
