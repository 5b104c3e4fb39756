//! The OpenAPI 3.1 document of the projector's API. The routes bring their own operations (see
//! `http::router`); this module holds what the whole document shares; the edge adds the bearer
//! scheme and serves it at `/openapi.json`, with Swagger UI at `/docs`
//! (`stockflow_edge::openapi`). `projector/openapi.json` is the committed copy;
//! tests/admin/openapi.rs keeps them equal.

use stockflow_edge::Scope;
use stockflow_edge::openapi::{add_missing, problem, retry_after};
use utoipa::OpenApi as _;
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::Operation;

use super::error::{FieldError, Problem};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "stockflow projector API",
        description = "The projector's operations, with the `admin` scope: the dead letters, \
            messages from its queue that it could not use, to list, read, replay or discard; \
            the projections, to see, pause, resume, retry or skip the event that stopped them; \
            and rebuilds of the read models, to start and follow. Every action is recorded in \
            the audit log. Every refusal is an RFC 9457 problem (`application/problem+json`) \
            with a stable `code`.",
        license(name = "MIT", identifier = "MIT"),
    ),
    components(schemas(Problem, FieldError)),
    tags(
        (name = "admin", description = "Operations, with the `admin` scope: dead letters, projections, rebuilds"),
        (name = "health", description = "Liveness and readiness, without a token"),
    ),
)]
struct ApiDoc;

/// What every operation of the API can meet beside the guard's refusals: an outage.
fn add_common(_path: &str, operation: &mut Operation) {
    add_missing(
        operation,
        [(
            "503",
            problem("`service_unavailable` (PostgreSQL cannot be reached) or `request_timeout`")
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
    stockflow_edge::openapi::document(api, Scope::Admin, add_common)
}
