//! Logs (tracing) and metrics (Prometheus), set up once per process.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines, coloured only on a terminal.
    #[default]
    Text,
    /// One JSON object a line (for log shippers).
    Json,
}

/// Starts logging to stderr with `filter` (`RUST_LOG` wins when set): colours only when stderr
/// is a terminal.
pub fn init_logs(filter: &str, format: LogFormat) {
    use std::io::IsTerminal;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(filter));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // A second initialisation (tests build many apps) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
}

/// The process-wide Prometheus recorder, installed on first use.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            // Latencies are histograms (buckets add up across nodes; quantiles would not).
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .map_or_else(|_| PrometheusBuilder::new().build_recorder(), PrometheusBuilder::build_recorder);
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
            }
            describe();
            process_collector().describe();
            metrics::gauge!("clicktrail_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            handle
        })
        .clone()
}

/// The standard `process_*` metrics (CPU seconds, resident and virtual memory, open and
/// maximum file descriptors, threads, start time), read from `/proc` at each scrape.
fn process_collector() -> &'static metrics_process::Collector {
    static COLLECTOR: OnceLock<metrics_process::Collector> = OnceLock::new();
    COLLECTOR.get_or_init(metrics_process::Collector::default)
}

/// Brings the process metrics up to date (before `/metrics` renders).
pub fn collect_process_metrics() {
    process_collector().collect();
}

/// Bucket bounds of every latency histogram, in seconds: from 50 µs (a click answered from
/// memory) to 10 s (a report on a large range).
const LATENCY_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The `# HELP` line of every metric this process writes.
fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!("clicktrail_http_requests_total", "API requests answered, by route, method and status.");
    describe_histogram!(
        "clicktrail_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an API request, by route, method and status."
    );
    describe_counter!("clicktrail_clicks_total", "Clicks on tracking links, by outcome (accepted or the refusal).");
    describe_histogram!(
        "clicktrail_click_duration_seconds",
        Unit::Seconds,
        "Time to answer a click on a tracking link."
    );
    describe_counter!("clicktrail_impressions_total", "Impressions, by outcome (accepted or the refusal).");
    describe_counter!(
        "clicktrail_unique_check_failures_total",
        "Clicks whose uniqueness the shared counters could not tell (counted as not unique)."
    );
    describe_counter!("clicktrail_conversions_total", "Conversions recorded, by status.");
    describe_counter!("clicktrail_conversions_duplicate_total", "Conversions refused as duplicates of a txid.");
    describe_counter!("clicktrail_postback_attempts_total", "Affiliate postback delivery attempts, by outcome.");
    describe_counter!("clicktrail_rate_limited_total", "API requests refused with 429 by the rate limits.");
    describe_gauge!("clicktrail_event_buffer_queued", "Events waiting in the write buffer.");
    describe_histogram!("clicktrail_event_batch_seconds", Unit::Seconds, "Time to write one batch of events.");
    describe_counter!("clicktrail_events_written_total", "Clicks and impressions written to the event store.");
    describe_counter!("clicktrail_event_write_errors_total", "Event batches that failed to write (and were retried).");
    describe_gauge!("clicktrail_build_info", "Always 1; the labels say which build is running.");
}
