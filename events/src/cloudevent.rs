//! The CloudEvents 1.0 structured-mode JSON form of an [`Envelope`], as published on the
//! events exchange (docs/events.md).

use chrono::{DateTime, SecondsFormat, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{DecodeError, Envelope, Event, Metadata};

pub const CLOUDEVENTS_CONTENT_TYPE: &str = "application/cloudevents+json";
pub const EVENT_SOURCE: &str = "/stockflow";

/// A stockflow event as published: a CloudEvents 1.0 event in structured-mode JSON, with the
/// extensions `position`, `streamversion`, `correlationid`, `causationid` and `traceparent`.
/// The doc comments and `schemars` attributes here become the published JSON Schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CloudEvent {
    /// The CloudEvents specification version.
    #[schemars(extend("const" = "1.0"))]
    pub specversion: String,
    /// The event id (UUID v7), unique per event. Delivery is at least once: deduplicate on it.
    pub id: Uuid,
    /// The producer.
    #[schemars(extend("const" = "/stockflow"))]
    pub source: String,
    /// `com.stockflow.<aggregate>.<event>.v<N>`: the event type and its type version.
    #[serde(rename = "type")]
    #[schemars(regex(pattern = r"^com\.stockflow\.[a-z_]+\.[a-z_]+\.v[0-9]+$"))]
    pub event_type: String,
    /// The stream the event belongs to: `product-<sku>` or `order-<order_id>`.
    pub subject: String,
    /// When the event was recorded, RFC 3339 in UTC.
    #[schemars(extend("format" = "date-time"))]
    pub time: String,
    /// The media type of `data`.
    #[schemars(extend("const" = "application/json"))]
    pub datacontenttype: String,
    /// The event payload; its schema depends on `type`.
    pub data: serde_json::Value,
    /// Extension: the event's global position in the store, gap-free, in commit order.
    #[schemars(range(min = 1))]
    pub position: i64,
    /// Extension: the version of its stream (aggregate) this event made; the first event is 1.
    #[schemars(range(min = 1))]
    pub streamversion: i64,
    /// Extension: shared by every event one client interaction caused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlationid: Option<Uuid>,
    /// Extension: the command (request) that produced this event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causationid: Option<Uuid>,
    /// Extension: the W3C trace context of the command, when its request carried one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"))]
    pub traceparent: Option<String>,
}

impl CloudEvent {
    /// Builds the published form from stored parts, without decoding the payload.
    #[allow(clippy::too_many_arguments)]
    pub fn from_stored(
        id: Uuid,
        stream_id: &str,
        stream_version: i64,
        position: i64,
        recorded_at: DateTime<Utc>,
        event_type: &str,
        type_version: u32,
        data: serde_json::Value,
        metadata: &Metadata,
    ) -> CloudEvent {
        CloudEvent {
            specversion: "1.0".to_owned(),
            id,
            source: EVENT_SOURCE.to_owned(),
            event_type: crate::cloud_type(event_type, type_version),
            subject: stream_id.to_owned(),
            time: recorded_at.to_rfc3339_opts(SecondsFormat::Micros, true),
            datacontenttype: "application/json".to_owned(),
            data,
            position,
            streamversion: stream_version,
            correlationid: metadata.correlation_id,
            causationid: metadata.causation_id,
            traceparent: metadata.traceparent.clone(),
        }
    }

    /// The routing key: `aggregate.name`, e.g. `order.placed`.
    pub fn routing_key(&self) -> Result<&str, DecodeError> {
        self.parse_type().map(|(event_type, _)| event_type)
    }

    fn parse_type(&self) -> Result<(&str, u32), DecodeError> {
        let invalid = || DecodeError::InvalidEnvelope(format!("type `{}`", self.event_type));
        let rest = self
            .event_type
            .strip_prefix("com.stockflow.")
            .ok_or_else(invalid)?;
        let (event_type, version) = rest.rsplit_once(".v").ok_or_else(invalid)?;
        let version = version.parse().map_err(|_| invalid())?;
        Ok((event_type, version))
    }

    /// Reads the envelope back, upcasting the payload to its current version.
    pub fn into_envelope(self) -> Result<Envelope, DecodeError> {
        if self.specversion != "1.0" {
            return Err(DecodeError::InvalidEnvelope(format!(
                "specversion `{}`",
                self.specversion
            )));
        }
        let (event_type, version) = self.parse_type()?;
        let event = Event::decode(event_type, version, self.data.clone())?;
        let recorded_at = DateTime::parse_from_rfc3339(&self.time)
            .map_err(|e| DecodeError::InvalidEnvelope(format!("time: {e}")))?
            .with_timezone(&Utc);
        Ok(Envelope {
            id: self.id,
            stream_id: self.subject,
            stream_version: self.streamversion,
            position: self.position,
            recorded_at,
            metadata: Metadata {
                correlation_id: self.correlationid,
                causation_id: self.causationid,
                traceparent: self.traceparent,
            },
            event,
        })
    }
}

impl From<&Envelope> for CloudEvent {
    fn from(envelope: &Envelope) -> CloudEvent {
        CloudEvent::from_stored(
            envelope.id,
            &envelope.stream_id,
            envelope.stream_version,
            envelope.position,
            envelope.recorded_at,
            &envelope.event.event_type(),
            envelope.event.version(),
            envelope.event.data(),
            &envelope.metadata,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OrderReady;

    #[test]
    fn a_cloudevent_carries_the_contract_attributes_and_round_trips() {
        let order_id = Uuid::now_v7();
        let envelope = Envelope {
            id: Uuid::now_v7(),
            stream_id: crate::order_stream(&order_id),
            stream_version: 3,
            position: 42,
            recorded_at: Utc::now(),
            metadata: Metadata {
                correlation_id: Some(Uuid::now_v7()),
                causation_id: None,
                traceparent: None,
            },
            event: OrderReady { order_id }.into(),
        };
        let json = serde_json::to_value(CloudEvent::from(&envelope)).expect("serializes");
        assert_eq!(json["specversion"], "1.0");
        assert_eq!(json["type"], "com.stockflow.order.ready.v1");
        assert_eq!(json["subject"], format!("order-{order_id}"));
        assert_eq!(json["position"], 42);
        assert_eq!(json["streamversion"], 3);
        assert_eq!(json["data"]["order_id"], order_id.to_string());
        assert!(json.get("causationid").is_none());

        let back: CloudEvent = serde_json::from_value(json).expect("deserializes");
        assert_eq!(
            back.routing_key().expect("has a routing key"),
            "order.ready"
        );
        let decoded = back.into_envelope().expect("decodes");
        assert_eq!(decoded.event, envelope.event);
        assert_eq!(decoded.position, 42);
    }
}
