//! The OpenAPI 3.1 document of the query API. The routes bring their own operations and the
//! schemas of the types they answer with (see `http::router`); this module holds what the
//! whole document shares (its description, the consistency wait and the refusals every query
//! has); the edge adds the bearer scheme and serves it at `/openapi.json`, with Swagger UI at
//! `/docs` (`stockflow_edge::openapi`). `query-service/openapi.json` is the committed copy;
//! tests/api/openapi.rs keeps them equal.

use stockflow_edge::openapi::{add_missing, header, optional_parameter, problem, retry_after};
use stockflow_events::Event;
use utoipa::OpenApi as _;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::AnyOf;
use utoipa::openapi::schema::ArrayBuilder;
use utoipa::openapi::{ObjectBuilder, OpenApi, RefOr, Schema, Type};

use crate::http::error::Problem;
use crate::http::events::{self, required_scope};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "stockflow query API",
        description = "The read side of stockflow: products, orders, customers, sales \
            and replenishments from the read models the projector keeps. Every answer carries \
            `X-Projection-Position`, the global position the read models reflect; \
            `min_position` (or `X-Min-Position`) waits for a position a command returned, so \
            a client reads its own writes. `/v1/events` serves the event store itself, every \
            event as it was published, paged or live, to subscribers that join late (scope \
            `events:read`). Every refusal is an RFC 9457 problem \
            (`application/problem+json`) with a stable `code`.",
        license(name = "MIT", identifier = "MIT"),
    ),
    components(schemas(Problem)),
    tags(
        (name = "products", description = "The catalogue and its stock"),
        (name = "orders", description = "Orders and their lines"),
        (name = "customers", description = "Customers' order counts and lifetime value"),
        (name = "analytics", description = "Sales over time or by sku; stock and its value at any instant"),
        (name = "replenishments", description = "Stock requested from suppliers"),
        (name = "projections", description = "How far the read models are behind"),
        (name = "events", description = "Every stored event as published, paged or live (scope `events:read`)"),
        (name = "health", description = "Liveness and readiness, without a token"),
    ),
)]
struct ApiDoc;

fn integer() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Integer).format(Some(
        utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Int64),
    ))
}

/// What every query shares, added to each operation so the annotations stay about what
/// differs: the consistency wait and the refusals any query can get. The bearer scheme and the
/// guard's refusals come from the edge (`stockflow_edge::openapi::document`).
fn add_common(_path: &str, operation: &mut Operation) {
    operation.parameters.get_or_insert_with(Vec::new).extend([
        optional_parameter(
            "min_position",
            ParameterIn::Query,
            "Wait until the read models reach this global position (a command's `position`), \
             up to 5 s by default; then 503 `projection_lagging`.",
            integer().minimum(Some(0)),
        ),
        optional_parameter(
            "X-Min-Position",
            ParameterIn::Header,
            "The same as `min_position`; when both are given the larger is waited for.",
            integer().minimum(Some(0)),
        ),
    ]);
    let common = [
        (
            "400",
            problem(
                "`invalid_parameter`: a parameter (or `X-Min-Position`) is malformed, out of \
                 range, repeated or unknown; `parameter` names it",
            ),
        ),
        (
            "503",
            problem(
                "`projection_lagging` (the read models did not reach `min_position` in time), \
                 `service_unavailable` (the database is unreachable) or `request_timeout`",
            )
            .header("Retry-After", retry_after()),
        ),
    ];
    add_missing(operation, common);
    // The consistency layer stamps every answer of the query API, refusals included; the
    // auth and rate-limit refusals come before it.
    for (status, response) in operation.responses.responses.iter_mut() {
        if let (false, RefOr::T(response)) =
            (matches!(status.as_str(), "401" | "403" | "429"), response)
        {
            response.headers.insert(
                "X-Projection-Position".into(),
                header(
                    integer().minimum(Some(0)),
                    "The global position the read models reflected when this was answered.",
                )
                .into(),
            );
        }
    }
}

/// The feed's `type` takes the routing keys of the contract, and `<aggregate>.*` for each
/// aggregate: listed from the event catalogue, so the document cannot fall behind it.
fn event_types(operation: &mut Operation) {
    let mut values: Vec<String> = Vec::new();
    for (aggregate, name, _) in Event::CATALOGUE {
        let whole = format!("{}.*", aggregate.as_str());
        if !values.contains(&whole) {
            values.push(whole);
        }
        values.push(format!("{}.{name}", aggregate.as_str()));
    }
    let items = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values));
    let schema = RefOr::T(Schema::Array(ArrayBuilder::new().items(items).build()));
    for parameter in operation.parameters.iter_mut().flatten() {
        if let RefOr::T(parameter) = parameter
            && parameter.name == "type"
        {
            parameter.schema = Some(schema.clone());
        }
    }
}

/// The document's shared parts, before the routes add their operations.
pub(crate) fn base() -> OpenApi {
    ApiDoc::openapi()
}

/// The document as served and committed, from the routes' operations: pretty, in a stable
/// order.
pub(crate) fn document(mut api: OpenApi) -> String {
    // An empty `rows` is either kind of row, so the two are `anyOf`, not serde's `oneOf`.
    let schemas = &mut api.components.get_or_insert_with(Default::default).schemas;
    if let Some(RefOr::T(Schema::OneOf(one_of))) = schemas.get_mut("SalesRows") {
        let mut any_of = AnyOf::new();
        any_of.items = std::mem::take(&mut one_of.items);
        any_of.description = one_of.description.take();
        schemas.insert("SalesRows".into(), RefOr::T(Schema::AnyOf(any_of)));
    }
    stockflow_edge::openapi::document_by_path(api, required_scope, |path, operation| {
        if path == events::PATH {
            event_types(operation);
        }
        add_common(path, operation);
    })
}
