//! Dead letters: the messages from the projector's queue that it cannot use, kept in
//! `ops.dead_letters` where operators list, read, replay or discard them (docs/operations.md,
//! "Dead letters"). This module holds what is pure: why a message is refused, the key that
//! makes a redelivery the same dead letter, and how a body is shown.

pub mod amqp;
pub mod drain;
pub mod replay;
pub mod store;

use sha2::{Digest, Sha256};
use stockflow_events::{CloudEvent, DecodeError, Envelope};
use uuid::Uuid;

/// Why a message is a dead letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonKind {
    /// Not a stockflow CloudEvent at all.
    Undecodable,
    /// A CloudEvent of a type or type version this projector does not know.
    UnknownType,
    /// A known type whose data does not fit it.
    BadPayload,
    /// It decodes, but a replay could not apply it (ahead of the checkpoint, or refused by
    /// the read models).
    Unapplied,
    /// Set aside by an operator.
    Skipped,
}

impl ReasonKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonKind::Undecodable => "undecodable",
            ReasonKind::UnknownType => "unknown_type",
            ReasonKind::BadPayload => "bad_payload",
            ReasonKind::Unapplied => "unapplied",
            ReasonKind::Skipped => "skipped",
        }
    }
}

/// Why a message cannot be used, with what it says of its event when it could be read
/// that far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub kind: ReasonKind,
    pub text: String,
    pub event_id: Option<Uuid>,
    pub position: Option<i64>,
}

/// Reads a message body as the projector does: a stockflow CloudEvent, upcast to its current
/// version; or why not.
pub fn decode(body: &[u8]) -> Result<Envelope, Rejection> {
    let cloud_event: CloudEvent = serde_json::from_slice(body).map_err(|e| Rejection {
        kind: ReasonKind::Undecodable,
        text: format!("not a CloudEvent: {e}"),
        event_id: None,
        position: None,
    })?;
    let (event_id, position) = (cloud_event.id, cloud_event.position);
    cloud_event.into_envelope().map_err(|e| {
        let kind = match &e {
            DecodeError::UnknownType { .. } => ReasonKind::UnknownType,
            DecodeError::InvalidPayload { .. } => ReasonKind::BadPayload,
            DecodeError::InvalidEnvelope(_) => ReasonKind::Undecodable,
        };
        Rejection {
            kind,
            text: e.to_string(),
            event_id: Some(event_id),
            position: Some(position),
        }
    })
}

/// What makes two deliveries the same dead letter: the event id the body names, else the
/// AMQP message id, else the hash of the routing key and the body.
pub fn dedupe_key(
    event_id: Option<Uuid>,
    message_id: Option<&str>,
    routing_key: &str,
    body: &[u8],
) -> String {
    if let Some(id) = event_id {
        return format!("event:{id}");
    }
    if let Some(id) = message_id.filter(|id| !id.is_empty()) {
        return format!("message:{}", storable(id));
    }
    let mut hash = Sha256::new();
    hash.update((routing_key.len() as u64).to_be_bytes());
    hash.update(routing_key.as_bytes());
    hash.update(body);
    let hex: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Characters of a body shown in a listing.
pub const PREVIEW_CHARS: usize = 200;
/// Bytes read from the database for a preview: enough for its characters, however wide.
pub const PREVIEW_BYTES: i32 = 4 * PREVIEW_CHARS as i32;

/// The start of a body, as text (bytes that are not UTF-8 shown as U+FFFD).
pub fn preview(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .chars()
        .take(PREVIEW_CHARS)
        .collect()
}

/// Text PostgreSQL can store (in `text` and in `jsonb`): it takes no NUL character.
pub fn storable(text: &str) -> String {
    text.replace('\0', "\u{FFFD}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_poison_is_told_apart() {
        let undecodable = decode(b"\x00\xffnot json").expect_err("poison");
        assert_eq!(undecodable.kind, ReasonKind::Undecodable);
        assert_eq!(undecodable.event_id, None);

        let id = Uuid::now_v7();
        let event = |event_type: &str, data: &str| {
            format!(
                r#"{{"specversion":"1.0","id":"{id}","source":"/stockflow","type":"{event_type}",
                "subject":"product-A","time":"2026-01-01T00:00:00Z","datacontenttype":"application/json",
                "data":{data},"position":7,"streamversion":1}}"#
            )
        };
        let unknown = decode(event("com.stockflow.order.teleported.v1", "{}").as_bytes())
            .expect_err("poison");
        assert_eq!(unknown.kind, ReasonKind::UnknownType);
        assert_eq!((unknown.event_id, unknown.position), (Some(id), Some(7)));

        let bad = decode(event("com.stockflow.product.registered.v1", r#"{"sku":42}"#).as_bytes())
            .expect_err("poison");
        assert_eq!(bad.kind, ReasonKind::BadPayload);

        let foreign = decode(event("org.example.thing.v1", "{}").as_bytes()).expect_err("poison");
        assert_eq!(foreign.kind, ReasonKind::Undecodable);
    }

    #[test]
    fn a_redelivery_has_the_same_key_and_another_message_another() {
        let id = Uuid::now_v7();
        assert_eq!(
            dedupe_key(Some(id), Some("m"), "a", b"x"),
            format!("event:{id}")
        );
        assert_eq!(dedupe_key(None, Some("m-1"), "a", b"x"), "message:m-1");
        let hashed = dedupe_key(None, None, "a", b"x");
        assert_eq!(hashed, dedupe_key(None, Some(""), "a", b"x"));
        assert!(hashed.starts_with("sha256:") && hashed.len() == 7 + 64);
        assert_ne!(hashed, dedupe_key(None, None, "a", b"y"));
        // The routing key and the body cannot trade bytes.
        assert_ne!(
            dedupe_key(None, None, "ab", b"c"),
            dedupe_key(None, None, "a", b"bc")
        );
    }

    #[test]
    fn a_preview_is_the_first_200_characters_of_lossy_text() {
        assert_eq!(preview(b"short"), "short");
        assert_eq!(preview("é".repeat(300).as_bytes()).chars().count(), 200);
        assert_eq!(preview(b"a\xffb"), "a\u{FFFD}b");
        assert_eq!(storable("a\0b"), "a\u{FFFD}b");
    }
}
