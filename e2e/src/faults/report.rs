//! The report of a fault run: what was injected, how the commands were answered and what the
//! checker found, as `report.md` and `report.json`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::checker::{Counts, Findings};
use super::inject::Fault;
use super::workload::Attempt;

/// One fault injected, and when.
#[derive(Debug, Serialize)]
pub struct Injection {
    pub fault: Fault,
    /// Seconds since the workload began.
    pub at: f64,
    pub took: f64,
    pub detail: String,
    /// The longest stretch, in seconds, without a successful command that ended between this
    /// fault's start and the next one's (`None`: none ended there).
    pub commands_stalled: Option<f64>,
    /// The same for the read models' position: how long the projection stood still.
    pub projection_stalled: Option<f64>,
}

/// What a fault run did and found.
#[derive(Debug, Serialize)]
pub struct Report {
    pub counts: Counts,
    pub faults: BTreeMap<String, usize>,
    pub injections: Vec<Injection>,
    /// Services that died without being killed.
    pub crashes: Vec<String>,
    /// How the commands were answered: status and code, or why the outcome is unknown.
    pub outcomes: BTreeMap<String, usize>,
    pub workload_seconds: f64,
    pub quiescence_seconds: f64,
    pub problems: Vec<String>,
}

impl Report {
    /// The report of a run: the checker's findings, the faults injected and how each
    /// command was answered.
    pub(super) fn new(
        findings: Findings,
        injections: Vec<Injection>,
        attempts: &[Attempt],
        crashes: Vec<String>,
        workload_seconds: f64,
        quiescence_seconds: f64,
    ) -> Result<Report, serde_json::Error> {
        let mut faults: BTreeMap<String, usize> = BTreeMap::new();
        for injection in &injections {
            let name = serde_json::to_value(injection.fault)?
                .as_str()
                .unwrap_or("")
                .to_owned();
            *faults.entry(name).or_default() += 1;
        }
        let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
        for attempt in attempts {
            *outcomes.entry(attempt.outcome.summary()).or_default() += 1;
        }
        Ok(Report {
            outcomes,
            counts: findings.counts,
            faults,
            injections,
            crashes,
            workload_seconds,
            quiescence_seconds,
            problems: findings.problems,
        })
    }

    /// Whether every promise held: no violation found and no service crashed.
    pub fn passed(&self) -> bool {
        self.counts.violations() == 0 && self.crashes.is_empty()
    }

    /// The report as Markdown, as `report.md` holds it.
    pub fn markdown(&self) -> String {
        let c = &self.counts;
        let mut out = String::from("# Fault run\n\n");
        let _ = writeln!(
            out,
            "{} commands over {:.0} s: {} succeeded, {} refused, {} not sent, {} unknown ({} found wholly in, {} wholly out). {} events in the store.\n",
            c.commands,
            self.workload_seconds,
            c.succeeded,
            c.refused,
            c.not_sent,
            c.unknown,
            c.unknown_in,
            c.unknown_out,
            c.events
        );
        out.push_str("| fault | injected |\n| --- | --- |\n");
        for (fault, n) in &self.faults {
            let _ = writeln!(out, "| {fault} | {n} |");
        }
        out.push_str(
            "\n| at (s) | fault | what was done | took (s) | no successful command for (s) | projection still for (s) |\n| ---: | --- | --- | ---: | ---: | ---: |\n",
        );
        let seconds = |s: Option<f64>| s.map_or("-".to_owned(), |s| format!("{s:.2}"));
        for injection in &self.injections {
            let _ = writeln!(
                out,
                "| {:.1} | {:?} | {} | {:.1} | {} | {} |",
                injection.at,
                injection.fault,
                injection.detail,
                injection.took,
                seconds(injection.commands_stalled),
                seconds(injection.projection_stalled)
            );
        }
        out.push_str("\n| answer | commands |\n| --- | --- |\n");
        for (answer, n) in &self.outcomes {
            let _ = writeln!(out, "| {answer} | {n} |");
        }
        out.push_str("\n| finding | count |\n| --- | --- |\n");
        for (name, value) in [
            ("lost", c.lost),
            ("unexpected", c.unexpected),
            ("duplicated", c.duplicated),
            ("mismatched", c.mismatched),
            ("partial (not all-or-nothing)", c.partial),
            ("invariant violations", c.invariant_violations),
            ("unexpected refusals", c.unexpected_refusals),
            ("dead-letter mismatches", c.dead_letter_mismatches),
            ("retry mismatches", c.retry_mismatches),
            ("services crashed", self.crashes.len()),
        ] {
            let _ = writeln!(out, "| {name} | {value} |");
        }
        let _ = writeln!(
            out,
            "\nPoison published: {}; dead letters: {}. Redeliveries to the subscriber (allowed): {}. Quiescence took {:.1} s.",
            c.poison_published, c.dead_letters, c.redeliveries, self.quiescence_seconds
        );
        if !self.problems.is_empty() {
            out.push_str("\n## Problems\n\n");
            for problem in self.problems.iter().chain(&self.crashes) {
                let _ = writeln!(out, "- {problem}");
            }
        }
        out
    }

    /// Writes `report.md` and `report.json` into `out`.
    pub fn write(&self, out: &Path) -> std::io::Result<()> {
        std::fs::write(out.join("report.md"), self.markdown())?;
        std::fs::write(
            out.join("report.json"),
            serde_json::to_vec_pretty(self).unwrap_or_default(),
        )
    }
}
