//! The run itself: the system started, a seeded workload under one fault after another,
//! quiescence, unknown outcomes retried, the checks, and the system taken down.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use stockflow_event_store::StoredEvent;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::checker::{self, Findings};
use super::inject::Fault;
use super::options::Options;
use super::report::{Injection, Report};
use super::services::BoxError;
use super::subscriber;
use super::system::{Names, System};
use super::timeline::{ProjectionSampler, longest_gap};
use super::workload::{self, Attempt, Outcome};
use crate::Truth;

/// Runs the whole thing; the report says whether every promise held.
pub async fn run(options: Options) -> Result<Report, BoxError> {
    std::fs::create_dir_all(&options.out)?;
    let mut system = System::start(options, Names::fresh()).await?;
    let outcome = system.exercise().await;
    system.shutdown().await;
    outcome
}

impl System {
    /// The subscriber listening, the seed data, the workload under faults; then
    /// quiescence and the checks.
    async fn exercise(&mut self) -> Result<Report, BoxError> {
        let deliveries = Arc::new(Mutex::new(subscriber::Deliveries::default()));
        let stop_subscriber = CancellationToken::new();
        let subscriber = tokio::spawn(subscriber::run(
            self.direct_amqp_url.clone(),
            self.names.subscriber_queue.clone(),
            deliveries.clone(),
            stop_subscriber.clone(),
        ));

        let mut attempts = workload::seed(&self.client(Duration::from_secs(30))).await?;
        let started = Instant::now();
        let injections = self.under_faults(started, &mut attempts).await?;
        let workload_seconds = started.elapsed().as_secs_f64();
        println!(
            "{:>6.1} s  the workload stopped after {} commands; waiting for quiescence",
            workload_seconds,
            attempts.len()
        );

        // Quiescence, then the checks.
        let quiet = Instant::now();
        let mut findings = Findings::default();
        let events = self.quiesce(&deliveries).await?;
        checker::check_commands(&attempts, &events, &mut findings);
        self.retry_unknown(&attempts, &events, &mut findings).await;
        let events = self.quiesce(&deliveries).await?;
        let quiescence_seconds = quiet.elapsed().as_secs_f64();
        stop_subscriber.cancel();
        let _ = subscriber.await;
        checker::check_deliveries(
            &events,
            &deliveries.lock().expect("not poisoned"),
            &mut findings,
        );
        let dead = self.drain_dead_letters().await?;
        checker::check_dead_letters(&self.poison, &dead, &mut findings);
        let truth = Truth::from_events(&events);
        checker::check_invariants(&truth, &mut findings);
        let served = self.read_models(&truth).await?;
        checker::check_read_models(&truth, &served, &mut findings);

        Ok(Report::new(
            findings,
            injections,
            &attempts,
            self.crashes.clone(),
            workload_seconds,
            quiescence_seconds,
        )?)
    }

    /// The workload, while the faults come one after another in a seeded order, each round
    /// every kind once; adds the workers' attempts to `attempts` and returns what was
    /// injected, timed from `started`.
    async fn under_faults(
        &mut self,
        started: Instant,
        attempts: &mut Vec<Attempt>,
    ) -> Result<Vec<Injection>, BoxError> {
        let stop = Arc::new(AtomicBool::new(false));
        let orders = Arc::new(Mutex::new(Vec::new()));
        let workers: Vec<_> = (0..self.options.workers)
            .map(|w| {
                tokio::spawn(workload::worker(
                    // Spread over the command services, as a load balancer would.
                    Arc::new(self.client_of(w, Duration::from_secs(10))),
                    self.options.seed * 1000 + w as u64,
                    orders.clone(),
                    stop.clone(),
                    Duration::from_millis(15),
                ))
            })
            .collect();
        let sampler = ProjectionSampler::start(self.direct_database_url.clone());
        let kinds: &[Fault] = if self.options.cluster.is_some() {
            &Fault::CLUSTER
        } else {
            &Fault::ALL
        };
        let mut schedule: Vec<Fault> = (0..self.options.rounds)
            .flat_map(|_| kinds.iter().copied())
            .collect();
        schedule.shuffle(&mut StdRng::seed_from_u64(self.options.seed));
        if self.options.cluster.is_some() {
            schedule.push(Fault::PrimaryPromoted);
        }
        let mut injections = Vec::new();
        let mut instants = Vec::new();
        tokio::time::sleep(self.options.gap).await;
        for (i, fault) in schedule.into_iter().enumerate() {
            let at = started.elapsed();
            instants.push(std::time::Instant::now());
            let detail = self.inject(fault, i).await?;
            println!("{:>6.1} s  {fault:?}: {detail}", at.as_secs_f64());
            injections.push(Injection {
                fault,
                at: at.as_secs_f64(),
                took: (started.elapsed() - at).as_secs_f64(),
                detail,
                commands_stalled: None,
                projection_stalled: None,
            });
            self.revive_crashed().await?;
            // The promotion comes last: a longer wait shows the services' recovery from it.
            let after = if fault == Fault::PrimaryPromoted {
                3
            } else {
                1
            };
            tokio::time::sleep(self.options.gap * after).await;
        }
        stop.store(true, Ordering::Relaxed);
        for worker in workers {
            attempts.extend(worker.await?);
        }
        let ended = std::time::Instant::now();
        let projection_moves = sampler.moves().await;
        let mut successes: Vec<std::time::Instant> = attempts
            .iter()
            .filter(|a| matches!(a.outcome, Outcome::Succeeded { .. }))
            .map(|a| a.answered_at)
            .collect();
        successes.sort();
        // Each fault's window runs from its start to the next one's (or the workload's end).
        for (k, injection) in injections.iter_mut().enumerate() {
            let from = instants[k];
            let to = instants.get(k + 1).copied().unwrap_or(ended);
            let seconds = |gap: Option<Duration>| gap.map(|g| g.as_secs_f64());
            injection.commands_stalled = seconds(longest_gap(&successes, from, to));
            injection.projection_stalled = seconds(longest_gap(&projection_moves, from, to));
        }
        Ok(injections)
    }

    /// Sends each command whose outcome was unknown once more, with its key: one that went in
    /// must be answered from the idempotency record with the position its events end at; one
    /// that did not may be decided now.
    async fn retry_unknown(
        &self,
        attempts: &[Attempt],
        events: &[StoredEvent],
        findings: &mut Findings,
    ) {
        let mut last_position: BTreeMap<Uuid, i64> = BTreeMap::new();
        for event in events {
            if let Some(c) = checker::correlation_of(event) {
                last_position.insert(c, event.position);
            }
        }
        let client = self.client(Duration::from_secs(30));
        for attempt in attempts
            .iter()
            .filter(|a| matches!(a.outcome, Outcome::Unknown { .. }))
        {
            let (outcome, answer) = client
                .send(
                    &attempt.path,
                    &attempt.body,
                    &attempt.idempotency_key,
                    attempt.correlation_id,
                )
                .await;
            let replayed = answer.as_ref().is_some_and(|(headers, _)| {
                headers
                    .get("idempotent-replayed")
                    .is_some_and(|v| v.as_bytes() == b"true")
            });
            let succeeded = matches!(outcome, Outcome::Succeeded { .. });
            let problem = match (last_position.get(&attempt.correlation_id), &outcome) {
                // It went in: the retry must be answered from its record.
                (Some(in_store), Outcome::Succeeded { position, .. })
                    if replayed && position == in_store =>
                {
                    None
                }
                (Some(in_store), _) => Some(format!(
                    "went in (its events end at {in_store}); the retry got {outcome:?}, replayed: {replayed}"
                )),
                // It did not: the retry is decided afresh, or replays a stored refusal; a
                // replayed success would be one with no events.
                (None, Outcome::Succeeded { .. }) if !replayed => None,
                (None, Outcome::Refused { .. }) => None,
                (None, _) => Some(format!(
                    "left nothing in the store; the retry got {outcome:?}, replayed: {replayed} (a success: {succeeded})"
                )),
            };
            if let Some(problem) = problem {
                findings.counts.retry_mismatches += 1;
                findings.problems.push(format!(
                    "{} {} (unknown outcome) {problem}",
                    attempt.kind, attempt.path
                ));
            }
        }
    }
}
