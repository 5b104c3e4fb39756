//! Property tests of the event decoder: whatever arrives on the projector's queue or sits in
//! the store (any bytes, any JSON, a valid message with a part changed), decoding gives an
//! envelope or a `DecodeError` that says what is wrong; it never panics. Valid messages are
//! the published examples of every event type, taken from the AsyncAPI document.

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use stockflow_events::{CloudEvent, DecodeError, Envelope, Event};

/// What a consumer does with a message body (the projector's `decode`).
fn decode_message(bytes: &[u8]) -> Result<Envelope, String> {
    let cloud_event: CloudEvent = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    cloud_event.into_envelope().map_err(|e| e.to_string())
}

/// The example message of every event type in the published contract.
fn published_examples() -> &'static [Value] {
    static EXAMPLES: std::sync::OnceLock<Vec<Value>> = std::sync::OnceLock::new();
    EXAMPLES.get_or_init(read_examples)
}

fn read_examples() -> Vec<Value> {
    let asyncapi: Value = serde_json::from_str(include_str!("../../contracts/asyncapi.json"))
        .expect("the AsyncAPI document is JSON");
    let examples: Vec<Value> = asyncapi["components"]["messages"]
        .as_object()
        .expect("messages")
        .values()
        .flat_map(|message| message["examples"].as_array().cloned().unwrap_or_default())
        .map(|example| example["payload"].clone())
        .collect();
    assert_eq!(
        examples.len(),
        Event::CATALOGUE.len(),
        "one example per type"
    );
    examples
}

/// Any JSON value, a few levels deep, with the awkward numbers and strings.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        prop_oneof![
            Just(String::new()),
            Just("01946a2d-0000-7000-8000-000000000001".to_owned()),
            Just("2025-01-15T10:00:00Z".to_owned()),
            Just("com.stockflow.order.placed.v1".to_owned()),
            Just("'; DROP TABLE read.products;--".to_owned()),
            Just("\u{0}\u{202e}🦀".to_owned()),
            any::<String>(),
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// One change to a JSON value at a place chosen by `selector`.
#[derive(Debug, Clone)]
enum Mutation {
    Remove,
    Replace(Value),
    Duplicate,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        Just(Mutation::Remove),
        Just(Mutation::Duplicate),
        prop_oneof![
            any_json(),
            Just(json!(i64::MAX)),
            Just(json!(i64::MIN)),
            Just(json!(u64::MAX)),
            Just(json!(-1)),
            Just(json!(0)),
            Just(json!(1e300)),
            Just(json!("")),
        ]
        .prop_map(Mutation::Replace),
    ]
}

/// Applies `mutation` to the `selector`-th node (depth first) of `value`; true when applied.
fn mutate(value: &mut Value, selector: &mut usize, mutation: &Mutation) -> bool {
    let children: Vec<String> = match value {
        Value::Object(map) => map.keys().cloned().collect(),
        Value::Array(items) => (0..items.len()).map(|i| i.to_string()).collect(),
        _ => return false,
    };
    for key in children {
        if *selector == 0 {
            match (value, mutation) {
                (Value::Object(map), Mutation::Remove) => {
                    map.remove(&key);
                }
                (Value::Array(items), Mutation::Remove) => {
                    items.remove(key.parse::<usize>().expect("an index"));
                }
                (Value::Object(map), Mutation::Replace(new)) => {
                    map.insert(key, new.clone());
                }
                (Value::Array(items), Mutation::Replace(new)) => {
                    items[key.parse::<usize>().expect("an index")] = new.clone();
                }
                (Value::Object(map), Mutation::Duplicate) => {
                    let copy = map[&key].clone();
                    map.insert(format!("{key}_"), copy);
                }
                (Value::Array(items), Mutation::Duplicate) => {
                    let copy = items[key.parse::<usize>().expect("an index")].clone();
                    items.push(copy);
                }
                _ => unreachable!("only containers have children"),
            }
            return true;
        }
        *selector -= 1;
        let child = match value {
            Value::Object(map) => map.get_mut(&key),
            Value::Array(items) => items.get_mut(key.parse::<usize>().expect("an index")),
            _ => None,
        };
        if let Some(child) = child
            && mutate(child, selector, mutation)
        {
            return true;
        }
    }
    false
}

/// A refusal must say something a person can act on.
fn assert_clear(error: &str) {
    assert!(
        error.len() > 10 && !error.contains("panicked"),
        "an unhelpful error: {error:?}"
    );
}

/// Decoding what was decoded and published again gives the same envelope: a message that
/// is taken is taken for what it says.
fn assert_round_trips(envelope: &Envelope) {
    let again = serde_json::to_vec(&CloudEvent::from(envelope)).expect("serializes");
    let back = decode_message(&again).expect("a decoded event re-encodes to a decodable one");
    assert_eq!(back.event, envelope.event);
    assert_eq!(
        (back.id, &back.stream_id, back.position, back.stream_version),
        (
            envelope.id,
            &envelope.stream_id,
            envelope.position,
            envelope.stream_version
        )
    );
    assert_eq!(back.metadata, envelope.metadata);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_decode_or_are_refused_clearly(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        match decode_message(&bytes) {
            Ok(envelope) => assert_round_trips(&envelope),
            Err(error) => assert_clear(&error),
        }
    }

    #[test]
    fn any_json_as_a_message_decodes_or_is_refused_clearly(value in any_json()) {
        let bytes = serde_json::to_vec(&value).expect("serializes");
        match decode_message(&bytes) {
            Ok(envelope) => assert_round_trips(&envelope),
            Err(error) => assert_clear(&error),
        }
    }

    #[test]
    fn any_json_as_the_data_of_any_type_decodes_or_is_refused_clearly(
        index in 0..Event::CATALOGUE.len(),
        version in prop_oneof![Just(1u32), Just(0), Just(2), any::<u32>()],
        data in any_json(),
    ) {
        let (aggregate, name, current) = Event::CATALOGUE[index];
        let event_type = format!("{}.{name}", aggregate.as_str());
        match Event::decode(&event_type, version, data) {
            Ok(event) => {
                prop_assert_eq!(version, current);
                prop_assert_eq!(event.event_type(), event_type.clone());
                // What was read is what is written again.
                let again = Event::decode(&event_type, version, event.data()).expect("re-decodes");
                prop_assert_eq!(again, event);
            }
            Err(DecodeError::UnknownType { name: n, version: v }) => {
                prop_assert_ne!(version, current);
                prop_assert_eq!((n, v), (event_type, version));
            }
            Err(error @ DecodeError::InvalidPayload { .. }) => {
                prop_assert_eq!(version, current);
                let message = error.to_string();
                prop_assert!(message.contains(&event_type), "{}", message);
            }
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
    }

    #[test]
    fn any_type_name_is_known_or_refused_by_name(
        event_type in prop_oneof![
            "[a-z_.]{0,40}",
            any::<String>(),
            Just("order.".to_owned()),
            Just(".placed".to_owned()),
            Just("product.placed".to_owned()),
        ],
        version in any::<u32>(),
        data in any_json(),
    ) {
        let known = Event::CATALOGUE
            .iter()
            .any(|(a, n, v)| format!("{}.{n}", a.as_str()) == event_type && *v == version);
        match Event::decode(&event_type, version, data) {
            Ok(_) => prop_assert!(known),
            Err(DecodeError::UnknownType { name, .. }) => {
                prop_assert!(!known);
                prop_assert_eq!(name, event_type);
            }
            Err(DecodeError::InvalidPayload { .. }) => prop_assert!(known),
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
    }

    #[test]
    fn a_published_example_with_one_part_changed_decodes_or_is_refused_clearly(
        example in 0..Event::CATALOGUE.len(),
        selector in 0usize..64,
        change in mutation(),
    ) {
        let mut message = published_examples()[example].clone();
        let mut at = selector;
        mutate(&mut message, &mut at, &change);
        let bytes = serde_json::to_vec(&message).expect("serializes");
        match decode_message(&bytes) {
            Ok(envelope) => assert_round_trips(&envelope),
            Err(error) => assert_clear(&error),
        }
    }

    #[test]
    fn a_published_example_with_its_bytes_damaged_decodes_or_is_refused_clearly(
        example in 0..Event::CATALOGUE.len(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
        keep in any::<prop::sample::Index>(),
    ) {
        let mut bytes = serde_json::to_vec(&published_examples()[example]).expect("serializes");
        for (at, byte, kind) in edits {
            let i = at.index(bytes.len());
            match kind {
                0 => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                _ => {
                    bytes.remove(i);
                }
            }
        }
        // And perhaps cut short, as a truncated delivery would be.
        bytes.truncate(keep.index(bytes.len() + 1).max(bytes.len() / 2));
        match decode_message(&bytes) {
            Ok(envelope) => assert_round_trips(&envelope),
            Err(error) => assert_clear(&error),
        }
    }
}

#[test]
fn every_published_example_decodes_and_round_trips() {
    for example in published_examples() {
        let bytes = serde_json::to_vec(example).expect("serializes");
        let envelope = decode_message(&bytes).unwrap_or_else(|e| panic!("{e}: {example}"));
        assert_round_trips(&envelope);
    }
}

#[test]
fn deep_nesting_is_refused_or_skipped_never_a_stack_overflow() {
    let depth = 100_000;
    let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let example = serde_json::to_string(&published_examples()[0]).expect("serializes");
    // As the payload: refused, saying why.
    let deep_data = example.replacen("\"data\":{", &format!("\"data\":{nested},\"was\":{{"), 1);
    let error = decode_message(deep_data.as_bytes()).expect_err("too deep");
    assert!(error.contains("recursion limit"), "{error}");
    // As an extension attribute, which CloudEvents lets consumers ignore: skipped.
    let deep_extension =
        example.replacen("\"data\":{", &format!("\"deep\":{nested},\"data\":{{"), 1);
    let envelope =
        decode_message(deep_extension.as_bytes()).expect("an unknown extension is ignored");
    assert_eq!(envelope.position, 1);
}
