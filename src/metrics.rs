//! Prometheus metrics (`prometheus-client`), served in the OpenMetrics text
//! format on a listener of its own (`metrics_listen`, off by default; see
//! `http::health`). Nothing is recorded while it is off.
//!
//! What is recorded as it happens: HTTP requests by route (axum's
//! `MatchedPath`, never the raw path, so no id becomes a label), method and
//! status, with latency histograms (by `http::edge`); releases by outcome;
//! refused department certificates by reason; audit commit batch sizes and
//! commit latency (told by the audit writer through `CommitObserver`).
//! What is read at each scrape (a collector, no I/O): audit entries and
//! commits so far, appends queued, whether the audit writer lives, each
//! witness's state, the database pool's use; and from the readiness check
//! (`health`, remembered for a second): the checkpoint waits and readiness.
//!
//! Labels are bounded: routes are the router's patterns (plus `unmatched`),
//! methods the standard ones (plus `other`), statuses and codes finite
//! enums, witnesses the configured ones. No label holds an id, a value or a
//! name of a citizen.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::audit::log::CommitObserver;
use crate::health::Readiness;
use crate::vault::Vault;

/// The route label of requests no route matched (the fallback).
pub const UNMATCHED_ROUTE: &str = "unmatched";
/// Distinct route labels at most (the router has far fewer; a bound anyway).
const MAX_ROUTES: usize = 512;
/// Request latency buckets, seconds: 1 ms to ~16 s.
const LATENCY_BUCKETS: [f64; 15] =
    [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192, 16.384];
/// Audit commit latency buckets, seconds: 0.1 ms to ~3 s.
const COMMIT_BUCKETS: [f64; 15] = [
    0.0001, 0.0002, 0.0004, 0.0008, 0.0016, 0.0032, 0.0064, 0.0128, 0.0256, 0.0512, 0.1024, 0.2048, 0.4096, 0.8192,
    3.2768,
];
/// Audit batch size buckets, entries (the group commit takes up to 1024).
const BATCH_BUCKETS: [f64; 11] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn request_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// Every metric of the process and the registry that encodes them.
pub struct Metrics {
    enabled: AtomicBool,
    registry: Registry,
    requests: HistogramFamily<RequestLabels>,
    releases: Family<OutcomeLabels, Counter>,
    refused_certificates: Family<ReasonLabels, Counter>,
    commits: Arc<CommitMetrics>,
    /// Route patterns interned as labels (see `route_label`).
    routes: RwLock<HashMap<Box<str>, &'static str>>,
    ready: Gauge,
    unsigned_entries: Gauge,
    checkpoint_wait: Gauge<f64, std::sync::atomic::AtomicU64>,
    witness_wait: Gauge<f64, std::sync::atomic::AtomicU64>,
    readiness_failures: Family<ReasonLabels, Gauge>,
}

/// Audit commits, observed by the audit writer.
#[derive(Debug)]
struct CommitMetrics {
    batch_entries: Histogram,
    commit_seconds: Histogram,
}

impl CommitObserver for CommitMetrics {
    fn committed(&self, entries: usize, took: Duration) {
        self.batch_entries.observe(entries as f64);
        self.commit_seconds.observe(took.as_secs_f64());
    }
}

impl Metrics {
    /// The metrics of `vault`'s process; recording only when `enabled`
    /// (`metrics_listen` is configured).
    pub fn new(vault: &Vault, enabled: bool) -> Arc<Self> {
        let mut registry = Registry::default();
        let requests: HistogramFamily<RequestLabels> = Family::new_with_constructor(request_histogram);
        registry.register(
            "tresor_http_request_duration_seconds",
            "HTTP requests by route pattern, method and status, with their latency",
            requests.clone(),
        );
        let releases = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "tresor_releases",
            "Department release calls by outcome: released, or the refusal's stable code",
            releases.clone(),
        );
        let refused_certificates = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "tresor_department_certificates_refused",
            "Department calls refused at authentication, by the stable code of the reason",
            refused_certificates.clone(),
        );
        let commits = Arc::new(CommitMetrics {
            batch_entries: Histogram::new(BATCH_BUCKETS),
            commit_seconds: Histogram::new(COMMIT_BUCKETS),
        });
        registry.register(
            "tresor_audit_commit_batch_entries",
            "Entries per audit group commit transaction",
            commits.batch_entries.clone(),
        );
        registry.register(
            "tresor_audit_commit_duration_seconds",
            "Time one audit group commit transaction took",
            commits.commit_seconds.clone(),
        );
        let ready = Gauge::default();
        registry.register("tresor_ready", "1 when the last readiness check passed, else 0", ready.clone());
        let unsigned_entries = Gauge::default();
        registry.register(
            "tresor_audit_unsigned_entries",
            "Audit entries no signed checkpoint covers yet (at the last readiness check)",
            unsigned_entries.clone(),
        );
        let checkpoint_wait = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "tresor_audit_checkpoint_wait_seconds",
            "How long the oldest audit entry no checkpoint covers has waited (0: all covered)",
            checkpoint_wait.clone(),
        );
        let witness_wait = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "tresor_audit_witness_wait_seconds",
            "How long the oldest signed checkpoint past the newest witnessed one has waited for cosignatures",
            witness_wait.clone(),
        );
        let readiness_failures = Family::<ReasonLabels, Gauge>::default();
        registry.register(
            "tresor_readiness_failure",
            "1 for each readiness check that failed at the last check, by its stable code",
            readiness_failures.clone(),
        );
        registry.register_collector(Box::new(ProcessCollector { vault: vault.clone() }));
        let metrics = Arc::new(Self {
            enabled: AtomicBool::new(enabled),
            registry,
            requests,
            releases,
            refused_certificates,
            commits,
            routes: RwLock::new(HashMap::new()),
            ready,
            unsigned_entries,
            checkpoint_wait,
            witness_wait,
            readiness_failures,
        });
        vault.audit().observe_commits(metrics.commit_observer());
        metrics
    }

    fn commit_observer(self: &Arc<Self>) -> Arc<dyn CommitObserver> {
        Arc::new(GatedCommits(self.clone()))
    }

    /// Whether anything is recorded.
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Turn recording on or off (the release benchmark compares both in one run).
    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::Relaxed);
    }

    /// The label of a route pattern: the same `&'static str` for every
    /// request of a route, so recording a request allocates nothing.
    /// Patterns are the router's (bounded); past `MAX_ROUTES`, `other`.
    pub fn route_label(&self, pattern: Option<&str>) -> &'static str {
        let Some(pattern) = pattern else {
            return UNMATCHED_ROUTE;
        };
        if let Some(label) = self.routes.read().unwrap_or_else(|poisoned| poisoned.into_inner()).get(pattern) {
            return label;
        }
        let mut routes = self.routes.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(label) = routes.get(pattern) {
            return label;
        }
        if routes.len() >= MAX_ROUTES {
            return "other";
        }
        // Leaked once per route pattern of the router: a bounded set.
        let label: &'static str = Box::leak(pattern.to_owned().into_boxed_str());
        routes.insert(pattern.into(), label);
        label
    }

    /// One HTTP request answered with `status` after `took`.
    pub fn request(&self, route: &'static str, method: &'static str, status: u16, took: Duration) {
        let labels = RequestLabels { route, method, status };
        self.requests.get_or_create(&labels).observe(took.as_secs_f64());
    }

    /// One release call: `released`, or the refusal's stable code.
    pub fn release(&self, outcome: &'static str) {
        if self.enabled() {
            self.releases.get_or_create(&OutcomeLabels { outcome }).inc();
        }
    }

    /// A department call refused at authentication, by the code of the reason.
    pub fn certificate_refused(&self, reason: &'static str) {
        if self.enabled() {
            self.refused_certificates.get_or_create(&ReasonLabels { reason }).inc();
        }
    }

    /// The figures of a readiness check.
    pub fn readiness(&self, readiness: &Readiness) {
        self.ready.set(i64::from(readiness.is_ready()));
        if let Some(entries) = readiness.unsigned_entries {
            self.unsigned_entries.set(i64::try_from(entries).unwrap_or(i64::MAX));
        }
        if let Some(wait) = readiness.checkpoint_wait {
            self.checkpoint_wait.set(wait.as_secs_f64());
        }
        if let Some(wait) = readiness.witness_wait {
            self.witness_wait.set(wait.as_secs_f64());
        }
        self.readiness_failures.clear();
        for (_, outcome) in readiness.checks() {
            if let crate::health::Outcome::Failed(problem) = outcome {
                self.readiness_failures.get_or_create(&ReasonLabels { reason: problem.code() }).set(1);
            }
        }
    }

    /// Everything in the OpenMetrics text format.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// Commits are counted only while metrics are enabled.
struct GatedCommits(Arc<Metrics>);

impl CommitObserver for GatedCommits {
    fn committed(&self, entries: usize, took: Duration) {
        if self.0.enabled() {
            self.0.commits.committed(entries, took);
        }
    }
}

/// The method as a bounded label.
pub fn method_label(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        http::Method::HEAD => "HEAD",
        http::Method::OPTIONS => "OPTIONS",
        http::Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// What is read at each scrape: counters the audit log keeps anyway, the
/// witnesses' state and the pool's use (no I/O).
#[derive(Clone)]
struct ProcessCollector {
    vault: Vault,
}

impl std::fmt::Debug for ProcessCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProcessCollector")
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WitnessLabels {
    witness: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WitnessProblemLabels {
    witness: String,
    problem: &'static str,
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let audit = self.vault.audit();
        let (batches, entries) = audit.commit_counts();
        counter(&mut encoder, "tresor_audit_entries_committed", "Audit entries committed by this process", entries)?;
        counter(&mut encoder, "tresor_audit_commits", "Audit group commit transactions of this process", batches)?;
        let seconds = ConstCounter::new(audit.commit_time().as_secs_f64());
        seconds.encode(encoder.encode_descriptor(
            "tresor_audit_commit_seconds",
            "Time spent in committed audit transactions",
            None,
            seconds.metric_type(),
        )?)?;
        gauge(
            &mut encoder,
            "tresor_audit_appends_queued",
            "Audit appends waiting for the writer",
            audit.queued_appends() as i64,
        )?;
        gauge(
            &mut encoder,
            "tresor_audit_writer_alive",
            "1 while the audit writer takes appends",
            i64::from(audit.writer_alive()),
        )?;
        if let Some(pool) = self.vault.store().pool_status() {
            gauge(&mut encoder, "tresor_db_pool_connections", "Database connections open", i64::from(pool.size))?;
            gauge(
                &mut encoder,
                "tresor_db_pool_idle_connections",
                "Database connections open and idle",
                i64::from(pool.idle),
            )?;
            gauge(
                &mut encoder,
                "tresor_db_pool_max_connections",
                "Database connections the pool opens at most",
                i64::from(pool.max),
            )?;
        }
        let witnesses = audit.witness_status();
        if witnesses.is_empty() {
            return Ok(());
        }
        gauge(
            &mut encoder,
            "tresor_witness_quorum",
            "Cosignatures a checkpoint needs before proofs use it",
            audit.witness_quorum() as i64,
        )?;
        let mut sizes = encoder.encode_descriptor(
            "tresor_witness_cosigned_size",
            "Size of the newest checkpoint each witness is known to have cosigned",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for witness in &witnesses {
            if let Some(size) = witness.cosigned_size {
                let labels = WitnessLabels { witness: witness.name.clone() };
                ConstGauge::new(i64::try_from(size).unwrap_or(i64::MAX)).encode(sizes.encode_family(&labels)?)?;
            }
        }
        let mut last = encoder.encode_descriptor(
            "tresor_witness_last_cosigned_timestamp_seconds",
            "When each witness last cosigned a checkpoint of this process (Unix time)",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for witness in &witnesses {
            if let Some(at) = witness.last_cosigned_at {
                let labels = WitnessLabels { witness: witness.name.clone() };
                ConstGauge::new(at.timestamp()).encode(last.encode_family(&labels)?)?;
            }
        }
        let mut refusals = encoder.encode_descriptor(
            "tresor_witness_security_refusals",
            "Rollbacks and forks each witness reported since start",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        for witness in &witnesses {
            let labels = WitnessLabels { witness: witness.name.clone() };
            ConstCounter::new(witness.security_refusals).encode(refusals.encode_family(&labels)?)?;
        }
        let mut problems = encoder.encode_descriptor(
            "tresor_witness_problem",
            "1 for each witness's current problem: rollback, fork, refused, bad_cosignature, unreachable",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for witness in &witnesses {
            if let Some(problem) = &witness.problem {
                let labels = WitnessProblemLabels { witness: witness.name.clone(), problem: problem.kind() };
                ConstGauge::new(1i64).encode(problems.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

fn counter(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> Result<(), std::fmt::Error> {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: i64) -> Result<(), std::fmt::Error> {
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}
