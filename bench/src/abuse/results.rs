//! What an abuse run found, as written to results.json: the plan, each window's figures,
//! each attack's effect, and the checks that decide whether the run passed.

use serde::Serialize;

use super::attacks::Attack;
use super::plan::AbusePlan;
use super::windows::{BoxUse, Connections, Traffic, Window};

#[derive(Debug, Serialize)]
pub struct AbuseResults {
    pub plan: AbusePlan,
    pub cores: usize,
    /// Whether the services were debug builds (as this binary is).
    pub debug_builds: bool,
    pub memory_goal_mib: f64,
    pub windows: Vec<WindowFigures>,
    pub attacks: Vec<AttackFigures>,
    /// Each service's peak resident memory over the whole run (`VmHWM`).
    pub peak_rss_mib: Vec<(String, f64)>,
    pub checks: Vec<Check>,
    /// What went wrong with the run itself (a service that did not stop cleanly).
    pub problems: Vec<String>,
    pub passed: bool,
}

/// One window: the normal client (kept-alive connections), the new-connection probe, the
/// box, and the connections open to each attacked listener at its end.
#[derive(Debug, Serialize)]
pub struct WindowFigures {
    pub window: Window,
    pub normal: Traffic,
    pub new_connections: Traffic,
    pub usage: BoxUse,
    /// Query service, then command service.
    pub connections_at_end: Vec<Connections>,
}

/// One attack, with the windows during and after it (indexes into `windows`), and the
/// attackers' connections each listener had: the most at once, and at the end of the
/// stretch (just before the attackers let go).
#[derive(Debug, Serialize)]
pub struct AttackFigures {
    pub attack: Attack,
    pub during: usize,
    pub after: usize,
    pub most_attackers: Vec<u64>,
    pub attackers_at_end: Vec<u64>,
}

/// One pass criterion and how this run fared.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub what: String,
    pub figure: String,
    pub met: bool,
}
