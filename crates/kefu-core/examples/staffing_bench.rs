//! The staffing benchmark of issue 5 (run by `scripts/bench/staffing.sh`):
//! Erlang C required agents for many varied intervals, parameters generated
//! deterministically from a seed. Writes a subset of the intervals, with
//! kefu's answers, as CSV for the pyworkforce side of the comparison, and a
//! JSON summary of the timing.
//!
//! Usage: staffing_bench [--intervals N] [--seed S] [--subset K] [--out DIR]

use std::fmt::Write as _;
use std::time::Instant;

use kefu_core::staffing::{Model, Shrinkage, Targets, Traffic, required_agents};

/// SplitMix64: the parameters depend on the seed only.
struct Params(u64);

impl Params {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * ((self.next() >> 11) as f64 / (1u64 << 53) as f64)
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

/// One half-hour interval of a hotline: offered calls, AHT (s), threshold (s),
/// target SL, max occupancy (1 = none), shrinkage. Values are rounded the way
/// a planner would type them, so both sides read the same numbers.
#[derive(Clone, Copy)]
struct Interval {
    calls: f64,
    aht: f64,
    threshold: f64,
    sl: f64,
    occupancy: f64,
    shrinkage: f64,
}

fn generate(seed: u64, n: usize) -> Vec<Interval> {
    let mut p = Params(seed);
    (0..n)
        .map(|_| Interval {
            calls: p.uniform(1.0, 2000.0).round(),
            aht: p.uniform(60.0, 600.0).round(),
            threshold: p.pick(&[10.0, 15.0, 20.0, 30.0, 60.0]),
            sl: p.pick(&[0.7, 0.75, 0.8, 0.85, 0.9, 0.95]),
            occupancy: p.pick(&[0.85, 0.9, 1.0]),
            shrinkage: p.pick(&[0.0, 0.15, 0.3, 0.35]),
        })
        .collect()
}

fn solve(iv: &Interval) -> (u32, u32) {
    let traffic = Traffic::from_calls(iv.calls, 1800.0, iv.aht).expect("valid traffic");
    let mut targets = Targets::default()
        .service_level(iv.sl, iv.threshold)
        .expect("valid target");
    if iv.occupancy < 1.0 {
        targets = targets.max_occupancy(iv.occupancy).expect("valid target");
    }
    let s = Shrinkage::new(iv.shrinkage).expect("valid shrinkage");
    let r = required_agents(&Model::ErlangC, &traffic, &targets, s).expect("reachable");
    (
        r.required_agents.unwrap_or(0),
        r.required_agents_with_shrinkage.unwrap_or(0),
    )
}

fn main() {
    let mut intervals = 1_000_000usize;
    let mut seed = 20_260_101u64;
    let mut subset = 2_000usize;
    let mut out = String::from("/var/tmp/kefu-staffing-bench");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--intervals" => intervals = value.parse().expect("--intervals N"),
            "--seed" => seed = value.parse().expect("--seed S"),
            "--subset" => subset = value.parse().expect("--subset K"),
            "--out" => out = value,
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    let ivs = generate(seed, intervals);
    let mut erlangs = 0.0;
    for iv in &ivs {
        erlangs += iv.calls * iv.aht / 1800.0;
    }
    let started = Instant::now();
    let mut total_agents = 0u64;
    let mut total_scheduled = 0u64;
    for iv in &ivs {
        let (raw, scheduled) = solve(iv);
        total_agents += u64::from(raw);
        total_scheduled += u64::from(scheduled);
    }
    let elapsed = started.elapsed();
    let ns_per = elapsed.as_nanos() as f64 / intervals as f64;

    std::fs::create_dir_all(&out).expect("output folder");
    let mut csv = String::from(
        "calls,interval_seconds,aht_seconds,threshold_seconds,target_sl,max_occupancy,shrinkage,kefu_raw,kefu_positions\n",
    );
    for iv in ivs.iter().take(subset) {
        let (raw, scheduled) = solve(iv);
        let _ = writeln!(
            csv,
            "{},1800,{},{},{},{},{},{raw},{scheduled}",
            iv.calls, iv.aht, iv.threshold, iv.sl, iv.occupancy, iv.shrinkage
        );
    }
    std::fs::write(format!("{out}/subset.csv"), csv).expect("write subset");
    let summary = serde_json::json!({
        "intervals": intervals,
        "seed": seed,
        "mean_traffic_erlangs": erlangs / intervals as f64,
        "total_required_agents": total_agents,
        "total_scheduled_agents": total_scheduled,
        "seconds": elapsed.as_secs_f64(),
        "ns_per_interval": ns_per,
    });
    std::fs::write(format!("{out}/kefu.json"), summary.to_string()).expect("write summary");
    println!(
        "kefu: {intervals} intervals (mean {:.1} erlangs) in {:.3} s = {:.2} µs per interval; {total_agents} agents, {total_scheduled} to schedule",
        erlangs / intervals as f64,
        elapsed.as_secs_f64(),
        ns_per / 1000.0
    );
}
