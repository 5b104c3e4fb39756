//! The published contract against the code: the checked-in files are what the `events` crate
//! generates, every event type has a schema, and real payloads validate against them.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use stockflow_contracts::{ContractFile, Drift, REGENERATE, contracts_dir, drift, generate};
use stockflow_events::{CloudEvent, Event};

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}; run `{REGENERATE}`", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The checked-in schema of an event type's current version.
fn committed_schema(event: &Event) -> Value {
    read_json(&contracts_dir().join(stockflow_contracts::schema_path(
        &event.event_type(),
        event.version(),
    )))
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .expect("a valid schema")
}

fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn the_committed_contract_files_are_what_the_code_generates() {
    let drift = drift(&contracts_dir()).expect("the contracts directory is readable");
    assert!(
        drift.is_empty(),
        "the published event contract is out of date with the events crate:\n{}\n\
         Regenerate it with `{REGENERATE}`, review the diff (a change that breaks a published \
         version needs a new version) and commit contracts/.",
        drift
            .iter()
            .map(|d| format!("  contracts/{d}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_catalogued_event_has_a_schema_a_channel_and_a_sample() {
    let asyncapi = read_json(&contracts_dir().join("asyncapi.json"));
    let samples = stockflow_contracts::samples();
    for (aggregate, name, version) in Event::CATALOGUE {
        let event_type = format!("{}.{name}", aggregate.as_str());
        let path = contracts_dir().join(stockflow_contracts::schema_path(&event_type, *version));
        let schema = read_json(&path);
        assert_eq!(
            schema["properties"]["type"]["const"],
            format!("com.stockflow.{event_type}.v{version}"),
            "{}",
            path.display()
        );
        assert!(
            asyncapi["channels"][&event_type]["messages"][format!("{event_type}.v{version}")]
                .is_object(),
            "no AsyncAPI channel and message for {event_type} v{version}"
        );
        assert!(
            samples.iter().any(|s| s.event.event_type() == event_type),
            "no sample of {event_type}: add one to contracts/src/samples.rs"
        );
    }
    // And nothing besides the catalogue.
    let channels = asyncapi["channels"].as_object().expect("channels");
    assert_eq!(channels.len(), Event::CATALOGUE.len());
}

#[test]
fn each_schema_is_a_valid_json_schema() {
    for sample in stockflow_contracts::samples() {
        let schema = committed_schema(&sample.event);
        if let Err(e) = jsonschema::meta::validate(&schema) {
            panic!(
                "{}: not a valid JSON Schema: {e}",
                sample.event.event_type()
            );
        }
    }
}

#[test]
fn real_events_validate_against_their_schema() {
    for sample in stockflow_contracts::samples() {
        let schema = committed_schema(&sample.event);
        let message = serde_json::to_value(CloudEvent::from(&sample)).expect("serializes");
        let found = errors(&validator(&schema), &message);
        assert!(
            found.is_empty(),
            "{} does not match its schema: {found:?}\n{message:#}",
            sample.event.event_type()
        );
    }
}

#[test]
fn events_without_the_optional_extensions_validate_too() {
    for sample in stockflow_contracts::samples() {
        let schema = committed_schema(&sample.event);
        let mut message = serde_json::to_value(CloudEvent::from(&sample)).expect("serializes");
        let object = message.as_object_mut().expect("an object");
        for extension in ["correlationid", "causationid", "traceparent"] {
            object.remove(extension);
        }
        assert!(validator(&schema).is_valid(&message));
    }
}

#[test]
fn a_message_that_breaks_the_contract_is_refused() {
    let replenishment = stockflow_contracts::samples()
        .into_iter()
        .find(|s| s.event.event_type() == "product.replenishment_requested")
        .expect("a sample replenishment");
    let schema = validator(&committed_schema(&replenishment.event));
    let good = serde_json::to_value(CloudEvent::from(&replenishment)).expect("serializes");
    assert!(schema.is_valid(&good));

    let broken = |change: &dyn Fn(&mut Value)| {
        let mut message = good.clone();
        change(&mut message);
        message
    };
    let refused = [
        (
            "a payload field missing",
            broken(&|m| {
                m["data"].as_object_mut().expect("data").remove("quantity");
            }),
        ),
        (
            "a payload field of the wrong type",
            broken(&|m| m["data"]["quantity"] = json!("4")),
        ),
        (
            "an order id that is not a UUID",
            broken(&|m| m["data"]["order_id"] = json!("order-1")),
        ),
        (
            "another event type",
            broken(&|m| m["type"] = json!("com.stockflow.order.placed.v1")),
        ),
        (
            "another version",
            broken(&|m| {
                m["type"] = json!("com.stockflow.product.replenishment_requested.v2");
            }),
        ),
        (
            "an order's stream",
            broken(&|m| m["subject"] = json!("order-1")),
        ),
        (
            "no position",
            broken(&|m| {
                m.as_object_mut().expect("an object").remove("position");
            }),
        ),
        (
            "a time that is not RFC 3339",
            broken(&|m| m["time"] = json!("yesterday")),
        ),
        (
            "a malformed traceparent",
            broken(&|m| m["traceparent"] = json!("00-xyz-01")),
        ),
    ];
    for (what, message) in refused {
        assert!(!schema.is_valid(&message), "{what} was accepted");
    }
    // New payload fields are an additive change subscribers must tolerate.
    assert!(schema.is_valid(&broken(&|m| m["data"]["note"] = json!("extra"))));
}

#[test]
fn real_events_validate_against_their_asyncapi_message() {
    let asyncapi = read_json(&contracts_dir().join("asyncapi.json"));
    for sample in stockflow_contracts::samples() {
        let event = &sample.event;
        let id = format!("{}.v{}", event.event_type(), event.version());
        let message = &asyncapi["components"]["messages"][&id];
        assert_eq!(message["contentType"], "application/cloudevents+json");
        assert_eq!(
            message["bindings"]["amqp"]["messageType"],
            event.cloud_type()
        );
        // The payload schema refers into the document's components.
        let mut schema = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "components": asyncapi["components"].clone(),
        });
        schema["allOf"] = message["payload"]["allOf"].clone();
        let validator = validator(&schema);
        let instance = serde_json::to_value(CloudEvent::from(&sample)).expect("serializes");
        let found = errors(&validator, &instance);
        assert!(found.is_empty(), "{id}: {found:?}");
        let mut wrong = instance.clone();
        wrong["data"] = json!({});
        assert!(!validator.is_valid(&wrong), "{id} accepts an empty payload");
    }
}

#[test]
fn the_asyncapi_document_describes_the_exchange_and_resolves_every_reference() {
    let asyncapi = read_json(&contracts_dir().join("asyncapi.json"));
    assert_eq!(asyncapi["asyncapi"], "3.0.0");
    assert_eq!(
        asyncapi["defaultContentType"],
        "application/cloudevents+json"
    );
    let description = asyncapi["info"]["description"]
        .as_str()
        .expect("a description");
    for extension in [
        "position",
        "streamversion",
        "correlationid",
        "causationid",
        "traceparent",
    ] {
        assert!(
            description.contains(&format!("`{extension}`")),
            "{extension} is not documented"
        );
    }
    for (key, channel) in asyncapi["channels"].as_object().expect("channels") {
        assert_eq!(channel["address"], key.as_str());
        let exchange = &channel["bindings"]["amqp"]["exchange"];
        assert_eq!(exchange["name"], "stockflow.events");
        assert_eq!(exchange["type"], "topic");
        assert_eq!(exchange["durable"], true);
        let operation = &asyncapi["operations"][format!("publish.{key}")];
        assert_eq!(operation["action"], "send");
        assert_eq!(
            operation["bindings"]["amqp"]["deliveryMode"], 2,
            "{key}: persistent"
        );
    }
    let mut refs = Vec::new();
    collect_refs(&asyncapi, &mut refs);
    assert!(refs.len() > 3 * Event::CATALOGUE.len());
    for reference in refs {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{reference} is not local"));
        assert!(
            asyncapi.pointer(pointer).is_some(),
            "{reference} resolves to nothing"
        );
    }
}

fn collect_refs(value: &Value, refs: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Value::String(reference)) => refs.push(reference.clone()),
                    _ => collect_refs(value, refs),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, refs)),
        _ => {}
    }
}

#[test]
fn drift_is_reported_file_by_file() {
    let dir = std::env::temp_dir().join(format!("stockflow-contracts-{}", uuid::Uuid::now_v7()));
    stockflow_contracts::write(&dir).expect("writes");
    assert_eq!(drift(&dir).expect("readable"), vec![]);

    let files: Vec<ContractFile> = generate();
    let changed = &files[0].path;
    let removed = &files[1].path;
    std::fs::write(dir.join(changed), "{}\n").expect("writes");
    std::fs::remove_file(dir.join(removed)).expect("removes");
    let unknown = PathBuf::from("events/order.teleported.v1.schema.json");
    std::fs::write(dir.join(&unknown), "{}\n").expect("writes");
    // A superseded version's schema stays, frozen, for readers of old events.
    std::fs::write(dir.join("events/order.placed.v0.schema.json"), "{}\n").expect("writes");

    let mut found = drift(&dir).expect("readable");
    found.sort_by_key(|d| format!("{d:?}"));
    let mut expected = vec![
        Drift::Differs(changed.clone()),
        Drift::Missing(removed.clone()),
        Drift::Unexpected(unknown),
    ];
    expected.sort_by_key(|d| format!("{d:?}"));
    assert_eq!(found, expected);

    assert_eq!(
        stockflow_contracts::write(&dir).expect("writes"),
        vec![changed.clone(), removed.clone()]
    );
    std::fs::remove_dir_all(&dir).expect("cleans up");
}
