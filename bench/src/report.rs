//! The run's results as a Markdown report: each figure against its goal of
//! docs/performance.md, then where the CPU went.

use std::fmt::Write as _;

use crate::results::{Results, Stockflow};
use crate::system::CpuUse;

pub fn number(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// CPU milliseconds per operation, by part, largest first.
fn cpu_per(cpu: &CpuUse, operations: f64) -> String {
    let mut parts: Vec<(&String, &f64)> = cpu.parts.iter().filter(|(_, s)| **s > 0.0).collect();
    parts.sort_by(|a, b| b.1.total_cmp(a.1));
    let per = |seconds: f64| seconds * 1e3 / operations.max(1.0);
    let mut text = format!("{} ms:", number(per(cpu.total())));
    for (name, seconds) in parts {
        let _ = write!(text, " {name} {},", number(per(*seconds)));
    }
    text.pop();
    let _ = write!(
        text,
        " (machine {:.0} % busy)",
        cpu.machine_busy_fraction * 100.0
    );
    text
}

pub fn markdown(results: &Results) -> String {
    let (s, b) = (&results.stockflow, &results.baselines);
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Run on {} cores, PostgreSQL {}, RabbitMQ {}; {} in flight, {} s per stretch{}.\n",
        results.machine.cores,
        results.machine.postgresql,
        results.machine.rabbitmq,
        results.plan.concurrency,
        results.plan.seconds,
        if results.plan.quick {
            " (a quick smoke run: figures not comparable)"
        } else {
            ""
        }
    );
    md.push_str("| What | stockflow | Baseline | Ratio | Goal | Met |\n");
    md.push_str("| --- | ---: | ---: | ---: | --- | --- |\n");
    for goal in &results.goals {
        let baseline = goal.baseline.as_ref().map_or("".into(), |(name, v)| {
            format!("{name}: {} {}", number(*v), goal.unit)
        });
        let ratio = goal.ratio.map_or("".into(), |r| format!("{r:.2}×"));
        let _ = writeln!(
            md,
            "| {} | {} {} | {} | {} | {} | {} |",
            goal.what,
            number(goal.value),
            goal.unit,
            baseline,
            ratio,
            goal.goal,
            if goal.met { "yes" } else { "**no**" }
        );
    }

    let m = &s.max_rate;
    let _ = writeln!(
        md,
        "\n**Place-order, closed loop** ({} in flight):",
        results.plan.concurrency
    );
    let _ = writeln!(
        md,
        "{} commands/s, p50 {} ms, p99 {} ms; {} events/s appended and published \
         (B2, raw confirmed publishes: {} messages/s).",
        number(m.commands.per_second),
        number(m.commands.p50_ms),
        number(m.commands.p99_ms),
        number(m.events_per_second),
        number(b.b2_publish.messages_per_second),
    );
    let k = &m.keeps_up;
    let _ = writeln!(
        md,
        "Relay lag max {} events (end {}); projector lag max {} events (end {}), growing \
         {:.1} events/s; both caught up {:.2} s after the load stopped: {}.",
        k.relay_lag_max_events,
        k.relay_lag_end_events,
        k.projector_lag_max_events,
        k.projector_lag_end_events,
        k.projector_lag_growth_per_second,
        k.catch_up_seconds,
        if k.verdict {
            "they keep up"
        } else {
            "**they fall behind**"
        }
    );
    let h = &s.half_rate;
    let _ = writeln!(
        md,
        "\n**Half rate, open loop** ({} commands/s): command p50 {} ms, p99 {} ms; visibility \
         lag p50 {} ms, p99 {} ms.",
        number(h.rate),
        number(h.commands.p50_ms),
        number(h.commands.p99_ms),
        number(h.visibility_lag.p50_ms),
        number(h.visibility_lag.p99_ms),
    );
    md.push_str(
        "\n| hop (the services' histograms over the stretch) | measured | p50 ms | p99 ms |\n| --- | ---: | ---: | ---: |\n",
    );
    let figure = |ms: Option<f64>| ms.map_or("-".to_owned(), number);
    for hop in &h.hops {
        let _ = writeln!(
            md,
            "| {} (`{}`) | {} | {} | {} |",
            hop.hop,
            hop.metric,
            hop.count,
            figure(hop.p50_ms),
            figure(hop.p99_ms)
        );
    }
    let _ = writeln!(
        md,
        "| at the client: command answered | | {} | {} |\n| at the client: answer → read back with min_position | | {} | {} |",
        number(h.commands.p50_ms),
        number(h.commands.p99_ms),
        number(h.visibility_lag.p50_ms),
        number(h.visibility_lag.p99_ms),
    );
    let hot = &s.hot_product;
    let _ = writeln!(
        md,
        "\n**Long streams**: the hot product got {} events ({} receipts/s through the API); \
         at {} orders/s alternating, p50/p99 {} / {} ms on it against {} / {} ms on a new one.",
        hot.seeded_events,
        number(hot.seed_receipts_per_second),
        number(hot.rate),
        number(hot.hot.p50_ms),
        number(hot.hot.p99_ms),
        number(hot.new.p50_ms),
        number(hot.new.p99_ms),
    );
    let _ = writeln!(
        md,
        "\n**Rebuild**: {} events in {} s; B4 built one table from {} events in {} s.",
        s.rebuild["events"],
        number(s.rebuild["seconds"].as_f64().unwrap_or(0.0)),
        b.b4_insert_select.events,
        number(b.b4_insert_select.seconds),
    );
    stock_and_replay(&mut md, s);

    md.push_str("\n**CPU per place-order** (CPU time over the stretch / commands):\n\n");
    let _ = writeln!(
        md,
        "- stockflow: {}",
        cpu_per(&m.cpu, m.commands.per_second * results.plan.seconds as f64)
    );
    let b1 = &b.b1_place_order_sql;
    let _ = writeln!(
        md,
        "- B1: {}",
        cpu_per(&b.b1_cpu, b1.transactions_per_second * b1.seconds as f64)
    );
    if let Some(peer) = &results.peer {
        let _ = writeln!(
            md,
            "- peer: {}",
            cpu_per(
                &peer.cpu,
                peer.max_rate.per_second * results.plan.seconds as f64
            )
        );
    }
    let commands = m.commands.per_second * results.plan.seconds as f64;
    let events_per_command = m.events_per_second / m.commands.per_second.max(1e-9);
    let b1_cpu = b.b1_cpu.total() / (b1.transactions_per_second * b1.seconds as f64).max(1.0);
    let broker_cpu = b.b2_cpu.parts.get("rabbitmq").copied().unwrap_or(0.0)
        / (b.b2_publish.messages as f64).max(1.0);
    let floor = b1_cpu + events_per_command * broker_cpu;
    let cores = results.machine.cores as f64;
    let _ = writeln!(
        md,
        "\n**The ceiling on this box.** Each place-order writes {events_per_command:.2} events. \
         Were the services free, each would still cost B1's CPU ({} ms: the same SQL) plus \
         RabbitMQ's CPU for publishing its events as measured in B2 ({} ms a message, before \
         any consumer): {} ms of CPU, so {} cores could not pass {} commands/s, {:.2}× B1. \
         stockflow used {} ms a command.",
        number(b1_cpu * 1e3),
        number(broker_cpu * 1e3),
        number(floor * 1e3),
        results.machine.cores,
        number(cores / floor.max(1e-9)),
        cores / floor.max(1e-9) / b1.transactions_per_second.max(1e-9),
        number(m.cpu.total() * 1e3 / commands.max(1.0)),
    );
    let reads = s.product_reads.per_second * results.plan.seconds as f64;
    let b3 = &b.b3_primary_key_select;
    let _ = writeln!(
        md,
        "\n**CPU per product read**: GET {}; B3 {}.",
        cpu_per(&s.reads_cpu, reads),
        cpu_per(&b.b3_cpu, b3.transactions_per_second * b3.seconds as f64),
    );
    if let Some(peer) = &results.peer {
        let _ = writeln!(
            md,
            "\n**Peer** (cqrs-es + postgres-es, same PlaceOrder, same load):\n\n\
             | | stockflow | peer | stockflow / peer |\n| --- | ---: | ---: | ---: |\n\
             | place-order/s, closed loop | {} | {} | {:.2}× |\n\
             | p99 at the most (ms) | {} | {} | {:.2}× |\n\
             | p99 at half its own max rate (ms) | {} | {} | {:.2}× |\n\
             | peak resident memory (MiB) | {} | {} | |",
            number(m.commands.per_second),
            number(peer.max_rate.per_second),
            m.commands.per_second / peer.max_rate.per_second.max(1e-9),
            number(m.commands.p99_ms),
            number(peer.max_rate.p99_ms),
            m.commands.p99_ms / peer.max_rate.p99_ms.max(1e-9),
            number(h.commands.p99_ms),
            number(peer.half_rate.p99_ms),
            h.commands.p99_ms / peer.half_rate.p99_ms.max(1e-9),
            number(
                s.peak_rss_mib
                    .iter()
                    .find(|(n, _)| n == "command-service")
                    .map_or(0.0, |(_, v)| *v)
            ),
            number(peer.peak_rss_mib),
        );
    }
    let _ = writeln!(
        md,
        "\nThe load generator used {} CPU seconds in all.",
        number(s.load_generator_cpu_seconds)
    );
    if !results.problems.is_empty() {
        md.push_str("\n**Problems in this run** (its figures are not to be trusted):\n\n");
        for problem in &results.problems {
            let _ = writeln!(md, "- {problem}");
        }
    }
    md
}

/// The stock-as-of-an-instant and replay paragraphs.
fn stock_and_replay(md: &mut String, s: &Stockflow) {
    let st = &s.stock_as_of;
    let _ = writeln!(
        md,
        "\n**Stock as of an instant** (`GET /v1/analytics/stock`, pages of {}): {} products in \
         {} pages as of {}; all pages in {} ms (median of {} readings), {} ms at the slowest; \
         a page p50/p99 {} / {} ms. One page as the stock stands now: p50/p99 {} / {} ms.",
        st.page_limit,
        st.products,
        st.pages,
        st.as_of,
        number(st.all_pages_p50_ms),
        st.repetitions,
        number(st.all_pages_max_ms),
        number(st.page.p50_ms),
        number(st.page.p99_ms),
        number(st.now_page.p50_ms),
        number(st.now_page.p99_ms),
    );
    let r = &s.replay;
    let run = &r.replay;
    let _ = writeln!(
        md,
        "\n**Live latency during a replay** ({} place-orders/s, open loop): alone ({} s) \
         p50/p99 {} / {} ms; while a replay of the whole store ({} events) into a queue an \
         ack-only subscriber drained ran ({} s), p50/p99 {} / {} ms, p99 {:.2}× alone. The \
         replay (REPLAY_RATE {}/s) published {} events meanwhile, {} events/s; once the \
         commands stopped, {} events/s over {} s. It ended {} with {} published; the \
         subscriber took {}.",
        number(r.rate),
        number(r.alone_seconds),
        number(r.alone.p50_ms),
        number(r.alone.p99_ms),
        run.to,
        number(r.during_seconds),
        number(r.during.p50_ms),
        number(r.during.p99_ms),
        r.during.p99_ms / r.alone.p99_ms.max(1e-9),
        run.rate_limit,
        run.with_commands,
        number(run.with_commands_per_second),
        number(run.quiet_per_second),
        number(run.quiet_seconds),
        run.status,
        run.published,
        run.delivered,
    );
}
