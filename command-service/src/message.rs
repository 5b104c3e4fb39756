//! An event as a RabbitMQ message: its body and properties (docs/events.md, "The message").
//! The relay and replays both publish through this, so a replayed message cannot differ
//! from the live one.

use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable};
use stockflow_event_store::StoredEvent;
use stockflow_events::CLOUDEVENTS_CONTENT_TYPE;

/// The body (the event's CloudEvents JSON, as the event feed serves it too) and the properties it is published with:
/// persistent, with the event id as `message_id`, the CloudEvents type as `type`, the
/// correlation id, and the position in a `position` header.
pub fn message(event: &StoredEvent) -> (Vec<u8>, BasicProperties) {
    let cloud_event = event.to_cloud_event();
    // The same bytes as the query service's event feed serves for it.
    let body = stockflow_event_store::published_body(&cloud_event);
    let mut headers = FieldTable::default();
    headers.insert("position".into(), AMQPValue::LongLongInt(event.position));
    let mut properties = BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type(CLOUDEVENTS_CONTENT_TYPE.into())
        .with_message_id(event.event_id.to_string().into())
        .with_type(cloud_event.event_type.as_str().into())
        .with_app_id("stockflow".into())
        .with_timestamp(u64::try_from(event.recorded_at.timestamp()).unwrap_or(0))
        .with_headers(headers);
    if let Some(correlation_id) = cloud_event.correlationid {
        properties = properties.with_correlation_id(correlation_id.to_string().into());
    }
    (body, properties)
}
