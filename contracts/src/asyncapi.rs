//! The AsyncAPI 3.0 document of the events exchange: one channel (routing key) and one send
//! operation per event type, each message a CloudEvent whose `data` is that type's payload.

use serde_json::{Map, Value, json};
use stockflow_events::{CLOUDEVENTS_CONTENT_TYPE, CloudEvent, Envelope, Event};

use crate::EXCHANGE;
use crate::schemas::{data_schema, description_of, narrow, prose};

const AMQP_BINDING_VERSION: &str = "0.3.0";

const DESCRIPTION: &str = "\
Every domain event of stockflow is published on the durable topic exchange `stockflow.events` \
with routing key `<aggregate>.<event>` (`order.placed`, `product.replenishment_requested`, …). \
Subscribers declare their own queues and bind them to the routing keys (or patterns such as \
`order.*` or `#`) they need.

Each message is persistent (delivery mode 2) and its body is a CloudEvents 1.0 event in \
structured-mode JSON, content type `application/cloudevents+json`. The AMQP properties repeat \
what a router needs without parsing the body: `message_id` is the event `id`, `type` the \
CloudEvents `type`, `correlation_id` the `correlationid` (when known), `app_id` is `stockflow`, \
`timestamp` the recording time, and the header `position` the event's global position.

CloudEvents extensions:
- `position`: global position of the event in the store; gap-free and increasing in commit \
order. Whoever has seen position p has seen every event up to p.
- `streamversion`: the version of its stream (`subject`: `product-<sku>` or \
`order-<order_id>`) this event made; the first event of a stream is 1.
- `correlationid`: shared by every event one client interaction caused: the request's \
`X-Correlation-Id`, else its causation id.
- `causationid`: the command (request) that produced the event: the request's `X-Request-Id`, \
else an id the command service made.
- `traceparent`: the W3C trace context of that request, when it carried one.

Delivery is at least once, in position order per queue: a subscriber deduplicates on `id`. \
The CloudEvents `type` ends in the payload's type version (`.v1`). Changes that keep every \
published field are made in place (new optional fields may appear: ignore what you do not \
know); a change that breaks a published version is published as a new version, and older \
versions stay readable.

A queue receives only what is published after it is bound. A subscriber that joins late, or \
lost its queue, catches up from the store, keyed by `position`: it binds its queue first (so \
nothing published meanwhile is missed), then reads the history it lacks, either page by page \
from the query service's event feed (`GET /v1/events?after=<position>`, scope `events:read`; \
the same path with `Accept: text/event-stream` follows live too) or by asking the command \
service to replay a range into its queue (`POST /v1/admin/replays`, scope `admin`). Feed and \
replay carry byte for byte the messages published here. It keeps the position of the last \
event it handled with what it did, and skips any event at or below it: the live queue and the \
catch-up overlap, and the overlap is deduplicated on `position` (or `id`). \
`examples/supplier-notifier` does exactly this.";

/// The AsyncAPI document, one message per sample's event type (the first sample of a type is
/// its example).
pub(crate) fn document(samples: &[Envelope]) -> Value {
    // AsyncAPI's default schema format is a superset of JSON Schema draft 7; refs point into
    // the document's `components/schemas`.
    let mut generator = schemars::generate::SchemaSettings::draft07()
        .for_serialize()
        .with(|settings| {
            settings.definitions_path = "/components/schemas".into();
            settings.meta_schema = None;
        })
        .with_transform(prose as fn(&mut schemars::Schema))
        .into_generator();
    let envelope = generator.subschema_for::<CloudEvent>();

    let mut channels = Map::new();
    let mut operations = Map::new();
    let mut messages = Map::new();
    let mut seen = Vec::new();
    for sample in samples {
        let event = &sample.event;
        let routing_key = event.event_type();
        if seen.contains(&routing_key) {
            continue;
        }
        seen.push(routing_key.clone());
        let cloud_type = event.cloud_type();
        let message_id = format!("{routing_key}.v{}", event.version());
        let data = data_schema(&mut generator, event);
        let description = description_of(generator.definitions(), &data)
            .unwrap_or_else(|| format!("{} {}", event.aggregate().as_str(), event.name()));
        let summary = first_sentence(&description);

        let mut narrowed = Map::new();
        narrow_properties(&mut narrowed, event, data.to_value());
        let mut message = json!({
            "name": message_id,
            "title": cloud_type,
            "summary": summary,
            "contentType": CLOUDEVENTS_CONTENT_TYPE,
            "correlationId": {
                "description": "Shared by every event one client interaction caused.",
                "location": "$message.payload#/correlationid",
            },
            "headers": {
                "type": "object",
                "properties": {
                    "position": {
                        "type": "integer",
                        "description": "The event's global position, as in the body's `position`.",
                    },
                },
            },
            "payload": {
                "allOf": [envelope.clone().to_value(), {"type": "object", "properties": narrowed}],
            },
            "bindings": {
                "amqp": {
                    "messageType": cloud_type,
                    "bindingVersion": AMQP_BINDING_VERSION,
                },
            },
            "examples": [{
                "name": format!("{routing_key} (position {})", sample.position),
                "headers": {"position": sample.position},
                "payload": CloudEvent::from(sample),
            }],
        });
        if description != summary {
            message["description"] = description.into();
        }
        messages.insert(message_id.clone(), message);
        channels.insert(
            routing_key.clone(),
            json!({
                "address": routing_key,
                "title": routing_key,
                "description": format!(
                    "Routing key `{routing_key}` on the topic exchange `{EXCHANGE}`: bind a \
                     queue of your own to it."
                ),
                "messages": {
                    message_id.clone(): {"$ref": format!("#/components/messages/{message_id}")},
                },
                "bindings": {
                    "amqp": {
                        "is": "routingKey",
                        "exchange": {
                            "name": EXCHANGE,
                            "type": "topic",
                            "durable": true,
                            "autoDelete": false,
                            "vhost": "/",
                        },
                        "bindingVersion": AMQP_BINDING_VERSION,
                    },
                },
            }),
        );
        operations.insert(
            format!("publish.{routing_key}"),
            json!({
                "action": "send",
                "title": format!("Publish {routing_key}"),
                "summary": format!(
                    "stockflow publishes every `{routing_key}` event once committed, in \
                     position order, with publisher confirms."
                ),
                "channel": {"$ref": format!("#/channels/{routing_key}")},
                "messages": [
                    {"$ref": format!("#/channels/{routing_key}/messages/{message_id}")},
                ],
                "bindings": {
                    "amqp": {
                        "deliveryMode": 2,
                        "mandatory": false,
                        "timestamp": true,
                        "bindingVersion": AMQP_BINDING_VERSION,
                    },
                },
            }),
        );
    }
    let schemas = generator.take_definitions(true);

    json!({
        "asyncapi": "3.0.0",
        "id": "urn:stockflow:events",
        "info": {
            "title": "stockflow events",
            "version": env!("CARGO_PKG_VERSION"),
            "description": DESCRIPTION,
            "license": {"name": "MIT"},
        },
        "defaultContentType": CLOUDEVENTS_CONTENT_TYPE,
        "servers": {
            "rabbitmq": {
                "host": "127.0.0.1:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "RabbitMQ as the README runs it; stockflow's `AMQP_URL` says \
                                which broker a deployment uses, and `EVENTS_EXCHANGE` may \
                                rename the exchange.",
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": schemas,
        },
    })
}

/// The `properties` that narrow the shared envelope to one event type.
fn narrow_properties(properties: &mut Map<String, Value>, event: &Event, data: Value) {
    properties.insert("type".into(), json!({}));
    properties.insert("subject".into(), json!({}));
    narrow(properties, event, data);
}

fn first_sentence(text: &str) -> String {
    let first_paragraph = text.split("\n\n").next().unwrap_or(text);
    match first_paragraph.split_once(". ") {
        Some((sentence, _)) => format!("{sentence}."),
        None => first_paragraph.to_owned(),
    }
}
