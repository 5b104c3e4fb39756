//! Reading a `product.replenishment_requested` CloudEvent, whether it came from the queue or
//! from the event feed (they are the same JSON).

use serde::Deserialize;
use uuid::Uuid;

use crate::{EVENT_TYPE, Replenishment};

/// The parts of the CloudEvent this notifier needs; anything else in it is ignored, so that
/// fields stockflow adds later do not break it.
#[derive(Deserialize)]
struct Message {
    id: Uuid,
    #[serde(rename = "type")]
    event_type: String,
    position: i64,
    data: serde_json::Value,
}

#[derive(Deserialize)]
struct RequestData {
    sku: String,
    order_id: Uuid,
    shortfall: i64,
    quantity: i64,
}

/// Reads a message body: a CloudEvents structured-mode JSON of type [`EVENT_TYPE`].
pub fn read(body: &[u8]) -> Result<Replenishment, String> {
    let message: Message =
        serde_json::from_slice(body).map_err(|e| format!("not a CloudEvent: {e}"))?;
    from_message(message)
}

/// The same as [`read`], for an event already parsed as JSON (an item of the feed).
pub fn read_value(event: serde_json::Value) -> Result<Replenishment, String> {
    let message: Message =
        serde_json::from_value(event).map_err(|e| format!("not a CloudEvent: {e}"))?;
    from_message(message)
}

fn from_message(message: Message) -> Result<Replenishment, String> {
    if message.event_type != EVENT_TYPE {
        return Err(format!("type `{}`", message.event_type));
    }
    let data: RequestData =
        serde_json::from_value(message.data).map_err(|e| format!("data: {e}"))?;
    Ok(Replenishment {
        event_id: message.id,
        position: message.position,
        sku: data.sku,
        quantity: data.quantity,
        shortfall: data.shortfall,
        order_id: data.order_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example stockflow publishes in its AsyncAPI document.
    fn published_example() -> serde_json::Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../contracts/asyncapi.json");
        let asyncapi: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("the contract"))
                .expect("JSON");
        asyncapi["components"]["messages"]["product.replenishment_requested.v1"]["examples"][0]
            ["payload"]
            .clone()
    }

    #[test]
    fn reads_the_published_example() {
        let example = published_example();
        let request = read(example.to_string().as_bytes()).expect("a request");
        assert_eq!(request.sku, example["data"]["sku"]);
        assert_eq!(request.quantity, example["data"]["quantity"]);
        assert_eq!(request.shortfall, example["data"]["shortfall"]);
        assert_eq!(request.order_id.to_string(), example["data"]["order_id"]);
        assert_eq!(request.event_id.to_string(), example["id"]);
        assert_eq!(request.position, example["position"]);
        assert_eq!(
            read_value(example).expect("a request from the feed"),
            request
        );
    }

    #[test]
    fn refuses_other_types_versions_and_garbage() {
        let mut placed = published_example();
        placed["type"] = "com.stockflow.order.placed.v1".into();
        assert!(read(placed.to_string().as_bytes()).is_err());
        let mut v2 = published_example();
        v2["type"] = "com.stockflow.product.replenishment_requested.v2".into();
        assert!(read(v2.to_string().as_bytes()).is_err());
        let mut no_quantity = published_example();
        no_quantity["data"]
            .as_object_mut()
            .expect("data")
            .remove("quantity");
        assert!(read(no_quantity.to_string().as_bytes()).is_err());
        assert!(read(b"not json").is_err());
    }

    #[test]
    fn tolerates_fields_it_does_not_know() {
        let mut example = published_example();
        example["data"]["priority"] = "high".into();
        example["newextension"] = 1.into();
        assert!(read(example.to_string().as_bytes()).is_ok());
    }
}
