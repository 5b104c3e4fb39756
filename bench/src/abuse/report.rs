//! The abuse run's results as Markdown: the settings, the verdict, the normal client window
//! by window, a table per attack, and every check.

use std::fmt::Write as _;

use super::attacks::Effect;
use super::results::{AbuseResults, WindowFigures};
use super::windows::Traffic;
use crate::report::number;

pub fn markdown(r: &AbuseResults) -> String {
    let mut md = String::new();
    let plan = &r.plan;
    let l = &plan.limits;
    let _ = writeln!(
        md,
        "Run on {} cores, {} builds, {} run: {} s before the attacks, each attack {} s, then {} s \
         of quiet after it.\n",
        r.cores,
        if r.debug_builds { "debug" } else { "release" },
        if plan.quick { "a quick" } else { "the full" },
        plan.before_seconds,
        plan.during_seconds,
        plan.after_seconds,
    );
    let _ = writeln!(
        md,
        "The services' limits for the run: `HTTP_HEADER_TIMEOUT_MS={}`, \
         `HTTP_MAX_CONNECTIONS={}`, `HTTP_MAX_IN_FLIGHT={}`, `AUTH_FAILURES_PER_SECOND={}`, \
         `REQUEST_TIMEOUT_MS={}`, `RATE_LIMIT_PER_SECOND={}`; a held connection may live {} s \
         (the header time and a second).\n",
        l.header_timeout_ms,
        l.max_connections,
        l.max_in_flight,
        l.auth_failures_per_second,
        l.request_timeout_ms,
        l.rate_limit_per_second,
        l.hold_limit_seconds(),
    );
    let _ = writeln!(
        md,
        "The normal client: {} requests/s from 127.0.0.1 with a valid token, alternately \
         `GET /v1/products/{{sku}}` (query service) and a place-order (command service), on \
         kept-alive connections; latency counts from when each was due. Beside it, {} \
         requests/s of the same mix on a new connection each (\"new connections\"), which \
         is not held to the pass bar: a full connection cap refuses newcomers by design. The \
         attackers come from 127.0.0.2 and up, since the limit on bad tokens is per client \
         address by design: an attacker on the normal client's address would get it turned \
         away too.\n",
        number(plan.normal_rate),
        number(plan.new_connection_rate),
    );
    let failed: Vec<&str> = r
        .checks
        .iter()
        .filter(|c| !c.met)
        .map(|c| c.what.as_str())
        .chain(r.problems.iter().map(String::as_str))
        .collect();
    let _ = writeln!(
        md,
        "**Verdict: {}.** Pass: the normal client ≥ 99 % success and p99 ≤ {} ms in every \
         window; every service ≤ {} MiB resident at its peak; no held connection past {} s; \
         no attacker connection left once an attack stopped. While the flood fills the \
         connection cap, the normal client's requests that need a new connection (its pool \
         opens one when two requests overlap) are refused, as the cap means them to be: they \
         are counted apart (\"refused by the cap\"), allowed in that window only, and the 99 % \
         is of the rest.{}\n",
        if r.passed { "pass" } else { "FAIL" },
        number(plan.p99_bound_ms),
        number(r.memory_goal_mib),
        l.hold_limit_seconds(),
        if failed.is_empty() {
            String::new()
        } else {
            format!(" Failed: {}.", failed.join("; "))
        }
    );

    md.push_str("**The normal client, window by window**\n\n");
    md.push_str(
        "| window | requests | refused by the cap | success of the rest | p50 / p99 ms | new \
         connections: success | peak RSS query / command / projector (MiB) | CPU query / \
         command / load generator (s) |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for w in &r.windows {
        window_row(&mut md, w);
    }

    for a in &r.attacks {
        let attack = &a.attack;
        let (during, after) = (&r.windows[a.during], &r.windows[a.after]);
        let _ = writeln!(md, "\n**{}**: {}.\n", attack.name, attack.sent);
        md.push_str("| | ");
        md.push_str(&join(&attack.effects, |e| e.service.clone()));
        md.push_str(" |\n| --- |");
        md.push_str(&" --- |".repeat(attack.effects.len()));
        md.push('\n');
        let row = |md: &mut String, what: &str, cell: &dyn Fn(usize, &Effect) -> String| {
            let cells: Vec<String> = attack
                .effects
                .iter()
                .enumerate()
                .map(|(i, e)| cell(i, e))
                .collect();
            let _ = writeln!(md, "| {what} | {} |", cells.join(" | "));
        };
        row(&mut md, "connections opened", &|_, e| {
            e.connections_opened.to_string()
        });
        if attack.effects.iter().any(|e| e.requests_sent > 0) {
            row(&mut md, "requests sent", &|_, e| {
                e.requests_sent.to_string()
            });
        }
        row(&mut md, "answered", &|_, e| answers(e));
        if attack.hold_limited {
            row(&mut md, "held by the server, p50 / max", &|_, e| match (
                e.held_p50_seconds,
                e.held_max_seconds,
            ) {
                (Some(p50), Some(max)) => format!("{p50:.2} / {max:.2} s"),
                _ => "–".to_owned(),
            });
            row(
                &mut md,
                &format!("held past {} s", plan.limits.hold_limit_seconds()),
                &|_, e| e.held_past_limit.to_string(),
            );
        }
        let of = |counts: &[u64], i: usize| counts.get(i).map_or("?".to_owned(), u64::to_string);
        row(
            &mut md,
            "attackers' connections open (server side): most at once / at the end of the stretch",
            &|i, _| {
                format!(
                    "{} / {}",
                    of(&a.most_attackers, i),
                    of(&a.attackers_at_end, i)
                )
            },
        );
        row(
            &mut md,
            &format!("left {} s after it stopped", number(plan.after_seconds)),
            &|i, _| {
                after
                    .connections_at_end
                    .get(i)
                    .map_or("?".to_owned(), |c| c.attackers.to_string())
            },
        );
        row(&mut md, "peak RSS during / after (MiB)", &|_, e| {
            format!("{} / {}", rss(during, &e.service), rss(after, &e.service))
        });
        let _ = writeln!(
            md,
            "\nNormal client during: {}; after: {}. New connections during: {}; after: {}. \
             Projector peak RSS during: {} MiB.",
            traffic(&during.normal),
            traffic(&after.normal),
            traffic(&during.new_connections),
            traffic(&after.new_connections),
            rss(during, "projector"),
        );
    }

    md.push_str("\n**Checks**\n\n| check | figure | met |\n| --- | ---: | --- |\n");
    for c in &r.checks {
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            c.what,
            c.figure,
            if c.met { "yes" } else { "**no**" }
        );
    }
    if !r.problems.is_empty() {
        md.push_str("\n**Problems in this run**:\n\n");
        for problem in &r.problems {
            let _ = writeln!(md, "- {problem}");
        }
    }
    md
}

fn window_row(md: &mut String, w: &WindowFigures) {
    let n = &w.normal;
    let by = |name: &str| {
        w.usage
            .services
            .iter()
            .find(|s| s.service == name)
            .cloned()
            .unwrap_or_default()
    };
    let (q, c, p) = (by("query-service"), by("command-service"), by("projector"));
    let _ = writeln!(
        md,
        "| {} | {} | {} | {} | {} / {} | {} | {} / {} / {} | {} / {} / {} |",
        w.window.name,
        n.sent,
        n.refused_by_cap,
        admitted(n),
        number(n.p50_ms),
        number(n.p99_ms),
        percent(&w.new_connections),
        number(q.peak_rss_mib),
        number(c.peak_rss_mib),
        number(p.peak_rss_mib),
        number(q.cpu_seconds),
        number(c.cpu_seconds),
        number(w.usage.load_generator_cpu_seconds),
    );
}

/// The share of all requests that succeeded.
fn percent(t: &Traffic) -> String {
    share(t.succeeded, t.sent, t.success_percent)
}

/// The share of the requests the listener let in that succeeded.
fn admitted(t: &Traffic) -> String {
    share(
        t.succeeded,
        t.sent - t.refused_by_cap,
        t.admitted_success_percent,
    )
}

fn share(succeeded: u64, of: u64, percent: f64) -> String {
    if of == 0 {
        "–".to_owned()
    } else if succeeded == of {
        "100 %".to_owned()
    } else {
        format!("{percent:.1} %")
    }
}

/// `99.3 % of 300, p50 / p99 3.1 / 12 ms (failed: 2 × 503 overloaded)`.
fn traffic(t: &Traffic) -> String {
    let mut text = format!(
        "{} of {}, p50 / p99 {} / {} ms",
        percent(t),
        t.sent,
        number(t.p50_ms),
        number(t.p99_ms)
    );
    if !t.failures.is_empty() {
        let failures: Vec<String> = t
            .failures
            .iter()
            .map(|(why, n)| format!("{n} × {why}"))
            .collect();
        let _ = write!(text, " (failed: {})", failures.join(", "));
    }
    text
}

/// Answers by count, most first: `1,204 × 503 overloaded, 18 × closed without an answer`.
fn answers(e: &Effect) -> String {
    let mut answers: Vec<(&String, &u64)> = e.answers.iter().collect();
    answers.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let text: Vec<String> = answers
        .iter()
        .map(|(answer, n)| format!("{n} × {answer}"))
        .collect();
    if text.is_empty() {
        "–".to_owned()
    } else {
        text.join(", ")
    }
}

fn rss(w: &WindowFigures, service: &str) -> String {
    w.usage
        .services
        .iter()
        .find(|s| s.service == service)
        .map_or("?".to_owned(), |s| number(s.peak_rss_mib))
}

fn join<T>(items: &[T], f: impl Fn(&T) -> String) -> String {
    items.iter().map(f).collect::<Vec<_>>().join(" | ")
}
