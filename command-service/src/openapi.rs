//! The OpenAPI 3.1 document of the command API. The routes bring their own operations (see
//! `http::router`); this module holds what the whole document shares (its description, the
//! headers and refusals every command has); the edge adds the bearer scheme and serves it at
//! `/openapi.json`, with Swagger UI at `/docs` (`stockflow_edge::openapi`).
//! `command-service/openapi.json` is the committed copy; tests/api/openapi.rs keeps them equal.

use stockflow_edge::openapi::{add_missing, header, optional_parameter, problem, retry_after};
use utoipa::OpenApi as _;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{ObjectBuilder, OpenApi, RefOr, Required, Type};

use crate::replies::{FieldError, OrderStatus, Problem};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "stockflow command API",
        description = "The write side of stockflow: commands that register and \
            restock products and place, cancel and ship orders. Every success carries the \
            target aggregate's `version` and the global `position` of the last event written, \
            a consistency token for the query API's `min_position`. Every refusal is an RFC 9457 \
            problem (`application/problem+json`) with a stable `code`.",
        license(name = "MIT", identifier = "MIT"),
    ),
    components(schemas(Problem, FieldError, OrderStatus)),
    tags(
        (name = "products", description = "Product commands"),
        (name = "orders", description = "Order commands"),
        (name = "admin", description = "Operations, with the `admin` scope: replaying stored \
            events into a queue, and the audit log of what `admin` tokens did"),
        (name = "health", description = "Liveness and readiness, without a token"),
    ),
)]
struct ApiDoc;

fn string_header_schema() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// What every command shares, added to each operation so the annotations stay about what
/// differs: the command headers, the refusals any command can get, and the 404 of a path
/// naming a product or an order. The bearer scheme and the guard's refusals come from the
/// edge (`stockflow_edge::openapi::document`).
fn add_common(path: &str, operation: &mut Operation) {
    if path.starts_with("/v1/admin/") {
        return add_admin(operation);
    }
    // These commands take `{}` or no body at all.
    if matches!(
        operation.operation_id.as_deref(),
        Some("discontinue_product" | "cancel_order")
    ) && let Some(RefOr::T(body)) = operation.request_body.as_mut()
    {
        body.required = Some(Required::False);
    }
    operation.parameters.get_or_insert_with(Vec::new).extend([
        optional_parameter(
            "Idempotency-Key",
            ParameterIn::Header,
            "1 to 128 visible ASCII characters. The first outcome (status and body) is kept at \
             least 24 h; a retry with the same key and request gets it again with \
             `Idempotent-Replayed: true`; the same key with another request gets 422 \
             `idempotency_key_reused`.",
            string_header_schema()
                .min_length(Some(1))
                .max_length(Some(128))
                .pattern(Some("^[\\x21-\\x7E]{1,128}$")),
        ),
        optional_parameter(
            "If-Match",
            ParameterIn::Header,
            "`\"N\"`: refuse with 412 `version_mismatch` unless the target aggregate is at \
             version N. `*`: refuse unless it exists.",
            string_header_schema()
                .pattern(Some("^(\\*|\"[0-9]+\")$"))
                .examples(["\"3\""]),
        ),
    ]);

    let responses = &mut operation.responses.responses;
    // The success is documented on the handler; it can be a replay.
    for (status, response) in responses.iter_mut() {
        if let (true, RefOr::T(response)) = (status.starts_with('2'), response) {
            response.headers.insert(
                "Idempotent-Replayed".into(),
                header(
                    string_header_schema().enum_values(Some(["true"])),
                    "`true` when this is the stored outcome of an earlier request with the \
                     same Idempotency-Key.",
                )
                .into(),
            );
        }
    }
    let common = [
        (
            "400",
            problem(
                "`malformed_body`: not JSON, not an object, an unknown field or a wrong type; \
                 or `validation_failed`: a field (or the Idempotency-Key / If-Match header) \
                 breaks a rule, listed in `errors`",
            ),
        ),
        (
            "412",
            problem("`version_mismatch`: the aggregate is not at the If-Match version"),
        ),
        (
            "413",
            problem("`payload_too_large`: the body is over 64 KiB"),
        ),
        (
            "415",
            problem("`unsupported_media_type`: a non-empty body that is not `application/json`"),
        ),
        (
            "503",
            problem(
                "`service_unavailable` (the store cannot take commands) or `request_timeout` \
                 (the command may still take effect: retry with the same Idempotency-Key)",
            )
            .header("Retry-After", retry_after()),
        ),
    ];
    add_missing(operation, common);
    // A path that names a product or an order can name none.
    for (parameter, not_found) in [
        ("{sku}", "`product_not_found`: no product with this sku"),
        ("{order_id}", "`order_not_found`: no order with this id"),
    ] {
        if path.contains(parameter) {
            add_missing(operation, [("404", problem(not_found))]);
        }
    }
    // Refusals any command can get beside those of the same status its handler documents:
    // added to the handler's description, or documented alone.
    let responses = &mut operation.responses.responses;
    for (status, besides, alone) in [
        (
            "409",
            "`concurrency_conflict`: concurrent writers kept winning, retry",
            "`concurrency_conflict`: concurrent writers kept winning, retry",
        ),
        (
            "422",
            "`idempotency_key_reused`",
            "`idempotency_key_reused`: this key was used for another request",
        ),
    ] {
        match responses.get_mut(status) {
            Some(RefOr::T(documented)) => {
                documented.description = format!("{}; or {besides}", documented.description);
            }
            _ => {
                responses.insert(status.to_owned(), RefOr::T(problem(alone).build()));
            }
        }
    }
}

/// What the operators' operations share beside the guard's refusals: the outages they can
/// meet. They take none of the command headers.
fn add_admin(operation: &mut Operation) {
    // A cancel takes `{reason}`, `{}` or no body at all.
    if operation.operation_id.as_deref() == Some("cancel_replay")
        && let Some(RefOr::T(body)) = operation.request_body.as_mut()
    {
        body.required = Some(Required::False);
    }
    add_missing(
        operation,
        [(
            "503",
            problem(
                "`service_unavailable` (PostgreSQL or RabbitMQ cannot be reached) or \
                 `request_timeout`",
            )
            .header("Retry-After", retry_after()),
        )],
    );
}

/// The document's shared parts, before the routes add their operations.
pub(crate) fn base() -> OpenApi {
    ApiDoc::openapi()
}

/// The document as served and committed, from the routes' operations: pretty, in a stable
/// order.
pub(crate) fn document(api: OpenApi) -> String {
    stockflow_edge::openapi::document_by_path(api, crate::scopes::required, add_common)
}
