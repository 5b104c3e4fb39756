//! The PostgreSQL notification channels stockflow's processes wake each other with. The names
//! also stand in the migrations' trigger functions, which cannot import them: change both.

/// Sent by the store on every commit, with the last position written; wakes the relay and the
/// query service's event feed.
pub const EVENTS: &str = "stockflow_events";
/// Sent by the projector when it commits a batch, with its new position; wakes the query
/// service's waits for `min_position`.
pub const PROJECTIONS: &str = "stockflow_projections";
