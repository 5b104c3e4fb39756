//! What a command answers: the success bodies, the refusals, and the rendering that puts the
//! global position in. An outcome is rendered the same way the first time and on replay (from
//! the stored template and position), so a replay is byte for byte the original.

mod bodies;
mod problem;

use serde_json::{Value, json};
use stockflow_event_store::StoredIdempotency;

pub(crate) use bodies::success;
pub(crate) use bodies::{
    OrderCancelled, OrderPlaced, OrderShipped, OrderStatus, PriceChanged, ProductDiscontinued,
    ProductRegistered, StockAdjusted, StockReceived,
};
pub(crate) use problem::Problem;
pub use problem::{FieldError, Refusal};

/// An outcome as sent: HTTP status code and body, and whether it is a stored one sent again.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub replayed: bool,
}

/// The final body: the template with its position set, when it has one.
pub(crate) fn render(template: &Value, position: Option<i64>) -> String {
    match (template, position) {
        (Value::Object(fields), Some(position)) if fields.contains_key("position") => {
            let mut fields = fields.clone();
            fields.insert("position".into(), json!(position));
            Value::Object(fields).to_string()
        }
        _ => template.to_string(),
    }
}

/// A stored outcome, sent again.
pub(crate) fn replay(record: &StoredIdempotency) -> Reply {
    let body = match serde_json::from_str::<Value>(&record.body) {
        Ok(template) => render(&template, record.position),
        Err(_) => record.body.clone(),
    };
    Reply {
        status: u16::try_from(record.status).unwrap_or(500),
        body,
        replayed: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_position_is_set_where_the_body_has_one() {
        let template = json!({"sku": "A-1", "version": 2, "position": 0});
        assert_eq!(
            render(&template, Some(41)),
            r#"{"sku":"A-1","version":2,"position":41}"#
        );
        let problem = json!({"code": "product_exists"});
        assert_eq!(render(&problem, Some(41)), r#"{"code":"product_exists"}"#);
    }
}
