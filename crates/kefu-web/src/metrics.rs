//! Prometheus text exposition of the server's own figures: requests by method, route and
//! status, and their durations. Routes are the router's patterns (`/api/v1/calls/{id}`), never
//! raw paths, so the series stay few; requests that match no route count as `unmatched`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Upper bounds of the duration histogram, in seconds.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

type Key = (String, String, u16);

pub struct Metrics {
    started: Instant,
    requests: Mutex<BTreeMap<Key, Histogram>>,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics {
            started: Instant::now(),
            requests: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn record(&self, method: &str, route: &str, status: u16, took: Duration) {
        let secs = took.as_secs_f64();
        if let Ok(mut map) = self.requests.lock() {
            let h = map
                .entry((method.to_owned(), route.to_owned(), status))
                .or_default();
            h.count += 1;
            h.sum += secs;
            for (i, le) in BUCKETS.iter().enumerate() {
                if secs <= *le {
                    h.counts[i] += 1;
                }
            }
        }
    }

    /// The text format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP kefu_build_info The running kefu's version.\n# TYPE kefu_build_info gauge\nkefu_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        let _ = writeln!(
            out,
            "# HELP kefu_uptime_seconds Seconds since the server started.\n# TYPE kefu_uptime_seconds gauge\nkefu_uptime_seconds {:.3}",
            self.started.elapsed().as_secs_f64()
        );
        let Ok(map) = self.requests.lock() else {
            return out;
        };
        out.push_str("# HELP kefu_http_requests_total HTTP requests served, by method, route and status.\n# TYPE kefu_http_requests_total counter\n");
        for ((m, r, s), h) in map.iter() {
            let _ = writeln!(
                out,
                "kefu_http_requests_total{{method=\"{m}\",route=\"{}\",status=\"{s}\"}} {}",
                escape(r),
                h.count
            );
        }
        out.push_str("# HELP kefu_http_request_duration_seconds Time to answer, by method, route and status.\n# TYPE kefu_http_request_duration_seconds histogram\n");
        for ((m, r, s), h) in map.iter() {
            let labels = format!("method=\"{m}\",route=\"{}\",status=\"{s}\"", escape(r));
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "kefu_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "kefu_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "kefu_http_request_duration_seconds_sum{{{labels}}} {:.6}",
                h.sum
            );
            let _ = writeln!(
                out,
                "kefu_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// A label value as the text format wants it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_per_series_and_bucketed_cumulatively() {
        let m = Metrics::new();
        m.record("GET", "/healthz", 200, Duration::from_millis(3));
        m.record("GET", "/healthz", 200, Duration::from_millis(30));
        m.record("GET", "unmatched", 404, Duration::from_millis(1));
        let text = m.render();
        assert!(text.contains(
            "kefu_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "kefu_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",status=\"200\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "kefu_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",status=\"200\",le=\"0.05\"} 2"
        ));
        assert!(text.contains("route=\"unmatched\",status=\"404\"} 1"));
        assert_eq!(escape("a\"b\\c"), "a\\\"b\\\\c");
    }
}
