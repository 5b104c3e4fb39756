//! A delivery as it is kept: its headers and other AMQP properties as JSON an operator can
//! read, and the key that recognises it when it is delivered again.

use lapin::BasicProperties;
use lapin::message::Delivery;
use lapin::types::{AMQPValue, FieldTable};
use serde_json::{Map, Value, json};

use super::{Rejection, dedupe_key, storable};
use crate::dead_letters::store::NewDeadLetter;

/// The dead letter a delivery makes, refused for `rejection`.
pub fn dead_letter(delivery: &Delivery, rejection: Rejection) -> NewDeadLetter {
    let routing_key = storable(delivery.routing_key.as_str());
    let message_id = delivery
        .properties
        .message_id()
        .as_ref()
        .map(|id| id.as_str().to_owned());
    NewDeadLetter {
        dedupe_key: dedupe_key(
            rejection.event_id,
            message_id.as_deref(),
            &routing_key,
            &delivery.data,
        ),
        headers: delivery
            .properties
            .headers()
            .as_ref()
            .map_or_else(|| json!({}), table),
        properties: properties(&delivery.properties),
        body: delivery.data.clone(),
        routing_key,
        rejection: Rejection {
            text: storable(&rejection.text),
            ..rejection
        },
    }
}

/// The properties other than the headers, those that are set.
fn properties(properties: &BasicProperties) -> Value {
    let mut out = Map::new();
    let mut text = |name: &str, value: &Option<lapin::types::ShortString>| {
        if let Some(value) = value {
            out.insert(name.to_owned(), Value::String(storable(value.as_str())));
        }
    };
    text("content_type", properties.content_type());
    text("content_encoding", properties.content_encoding());
    text("correlation_id", properties.correlation_id());
    text("reply_to", properties.reply_to());
    text("expiration", properties.expiration());
    text("message_id", properties.message_id());
    text("type", properties.kind());
    text("user_id", properties.user_id());
    text("app_id", properties.app_id());
    text("cluster_id", properties.cluster_id());
    if let Some(mode) = properties.delivery_mode() {
        out.insert("delivery_mode".into(), json!(mode));
    }
    if let Some(priority) = properties.priority() {
        out.insert("priority".into(), json!(priority));
    }
    if let Some(timestamp) = properties.timestamp() {
        out.insert("timestamp".into(), json!(timestamp));
    }
    Value::Object(out)
}

fn table(table: &FieldTable) -> Value {
    Value::Object(
        table
            .inner()
            .iter()
            .map(|(name, value)| (storable(name.as_str()), self::value(value)))
            .collect(),
    )
}

fn value(value: &AMQPValue) -> Value {
    match value {
        AMQPValue::Boolean(b) => json!(b),
        AMQPValue::ShortShortInt(n) => json!(n),
        AMQPValue::ShortShortUInt(n) => json!(n),
        AMQPValue::ShortInt(n) => json!(n),
        AMQPValue::ShortUInt(n) => json!(n),
        AMQPValue::LongInt(n) => json!(n),
        AMQPValue::LongUInt(n) => json!(n),
        AMQPValue::LongLongInt(n) => json!(n),
        AMQPValue::Timestamp(n) => json!(n),
        // NaN and infinities have no JSON: null.
        AMQPValue::Float(x) => json!(x),
        AMQPValue::Double(x) => json!(x),
        AMQPValue::DecimalValue(d) => json!({"scale": d.scale, "value": d.value}),
        AMQPValue::ShortString(s) => json!(storable(s.as_str())),
        AMQPValue::LongString(s) => json!(storable(&String::from_utf8_lossy(s.as_bytes()))),
        AMQPValue::ByteArray(b) => json!(storable(&String::from_utf8_lossy(b.as_slice()))),
        AMQPValue::FieldArray(a) => Value::Array(a.as_slice().iter().map(self::value).collect()),
        AMQPValue::FieldTable(t) => table(t),
        AMQPValue::Void => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_read_as_json_with_no_nul_left() {
        let mut headers = FieldTable::default();
        headers.insert("x-count".into(), AMQPValue::LongInt(3));
        headers.insert("x-text".into(), AMQPValue::LongString("a\0b".into()));
        let mut death = FieldTable::default();
        death.insert("reason".into(), AMQPValue::LongString("rejected".into()));
        headers.insert(
            "x-death".into(),
            AMQPValue::FieldArray(vec![AMQPValue::FieldTable(death)].into()),
        );
        assert_eq!(
            table(&headers),
            json!({"x-count": 3, "x-death": [{"reason": "rejected"}], "x-text": "a\u{FFFD}b"})
        );
    }
}
