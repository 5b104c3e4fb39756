//! The JSON Schema of each event type: its CloudEvents envelope, with `type` fixed to the
//! event's type and version and `data` the payload's schema, in one self-contained file.

use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value, json};
use stockflow_events::*;

use crate::EXCHANGE;

/// The schema of an event's payload (a `$ref` into the generator's definitions). The match
/// names every variant, so an event added to the `events` crate does not build until it has
/// a schema here.
pub(crate) fn data_schema(generator: &mut SchemaGenerator, event: &Event) -> Schema {
    fn of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<T>()
    }
    match event {
        Event::ProductRegistered(_) => of::<ProductRegistered>(generator),
        Event::StockReceived(_) => of::<StockReceived>(generator),
        Event::StockAdjusted(_) => of::<StockAdjusted>(generator),
        Event::PriceChanged(_) => of::<PriceChanged>(generator),
        Event::ProductDiscontinued(_) => of::<ProductDiscontinued>(generator),
        Event::StockReserved(_) => of::<StockReserved>(generator),
        Event::StockBackordered(_) => of::<StockBackordered>(generator),
        Event::ReplenishmentRequested(_) => of::<ReplenishmentRequested>(generator),
        Event::BackorderFilled(_) => of::<BackorderFilled>(generator),
        Event::StockReleased(_) => of::<StockReleased>(generator),
        Event::StockShipped(_) => of::<StockShipped>(generator),
        Event::OrderPlaced(_) => of::<OrderPlaced>(generator),
        Event::OrderLineFilled(_) => of::<OrderLineFilled>(generator),
        Event::OrderReady(_) => of::<OrderReady>(generator),
        Event::OrderCancelled(_) => of::<OrderCancelled>(generator),
        Event::OrderShipped(_) => of::<OrderShipped>(generator),
    }
}

/// Schemas describe what stockflow publishes (serialization): a field that is always written,
/// even as `null`, is required.
pub(crate) fn settings() -> SchemaSettings {
    SchemaSettings::draft2020_12()
        .for_serialize()
        .with_transform(prose as fn(&mut Schema))
}

/// Doc comments become descriptions; their line wrapping and rustdoc links do not.
pub(crate) fn prose(schema: &mut Schema) {
    if let Some(Value::String(description)) = schema.get_mut("description") {
        *description = description
            .split("\n\n")
            .map(|paragraph| paragraph.replace('\n', " "))
            .collect::<Vec<_>>()
            .join("\n\n")
            .replace("[`", "`")
            .replace("`]", "`");
    }
    schemars::transform::transform_subschemas(&mut prose, schema);
}

/// `^product-` or `^order-`: the stream ids of an aggregate.
pub(crate) fn subject_pattern(aggregate: Aggregate) -> String {
    format!("^{}-", aggregate.as_str())
}

/// The description of a payload type, from its doc comment.
pub(crate) fn description_of(definitions: &Map<String, Value>, data: &Schema) -> Option<String> {
    let name = data.get("$ref")?.as_str()?.rsplit('/').next()?;
    Some(
        definitions
            .get(name)?
            .get("description")?
            .as_str()?
            .to_owned(),
    )
}

/// The self-contained JSON Schema (draft 2020-12) of one event type's published message.
pub(crate) fn event_schema(event: &Event) -> Value {
    let mut generator = settings().into_generator();
    let envelope = generator.root_schema_for::<CloudEvent>();
    let data = data_schema(&mut generator, event);
    let definitions = generator.take_definitions(true);
    let routing_key = event.event_type();
    let cloud_type = event.cloud_type();

    let mut properties = envelope
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .expect("the envelope schema has properties");
    narrow(&mut properties, event, data.clone().to_value());

    let mut description = format!(
        "`{cloud_type}`: published on the topic exchange `{EXCHANGE}` with routing key \
         `{routing_key}`, as a CloudEvents 1.0 structured-mode JSON message \
         (`application/cloudevents+json`)."
    );
    if let Some(payload) = description_of(&definitions, &data) {
        description = format!("{payload}\n\n{description}");
    }
    json!({
        "$schema": envelope.get("$schema").cloned().unwrap_or(Value::Null),
        "title": cloud_type,
        "description": description,
        "type": "object",
        "properties": properties,
        "required": envelope.get("required").cloned().unwrap_or_else(|| json!([])),
        "$defs": definitions,
    })
}

/// Narrows the generic envelope's properties to one event type: its `type`, its stream's
/// `subject` and its payload.
pub(crate) fn narrow(properties: &mut Map<String, Value>, event: &Event, data: Value) {
    let ty = properties
        .get_mut("type")
        .and_then(Value::as_object_mut)
        .expect("the envelope has a type");
    ty.remove("pattern");
    ty.insert("const".into(), event.cloud_type().into());
    let subject = properties
        .get_mut("subject")
        .and_then(Value::as_object_mut)
        .expect("the envelope has a subject");
    subject.insert("pattern".into(), subject_pattern(event.aggregate()).into());
    properties.insert("data".into(), data);
}
