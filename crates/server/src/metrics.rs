//! `/metrics` in the OpenMetrics text format, shared by every unit.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// One metric line.
pub struct Counter {
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    value: u64,
}

impl Counter {
    /// A counter (`<name>_total`).
    pub fn total(name: &'static str, help: &'static str, value: u64) -> Self {
        Self {
            name,
            help,
            kind: "counter",
            value,
        }
    }

    /// A gauge.
    pub fn gauge(name: &'static str, help: &'static str, value: u64) -> Self {
        Self {
            name,
            help,
            kind: "gauge",
            value,
        }
    }
}

/// The metrics as an OpenMetrics response.
pub fn openmetrics(metrics: &[Counter]) -> Response {
    let mut text = String::new();
    for m in metrics {
        let suffix = if m.kind == "counter" { "_total" } else { "" };
        text.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{suffix} {value}\n",
            name = m.name,
            help = m.help,
            kind = m.kind,
            value = m.value
        ));
    }
    text.push_str("# EOF\n");
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
