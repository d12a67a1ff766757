//! `GET /health`: one entry per dependency and the worst of them overall.

use crate::state::Shared;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use engage_core::ports::{DependencyHealth, HealthStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HealthReport {
    /// The worst status of the checks (`up` when there are none).
    pub status: HealthStatus,
    pub checks: Vec<DependencyHealth>,
}

fn rank(s: HealthStatus) -> u8 {
    match s {
        HealthStatus::Up => 0,
        HealthStatus::Degraded => 1,
        HealthStatus::Down => 2,
    }
}

/// The worst of `checks`.
pub fn overall(checks: &[DependencyHealth]) -> HealthStatus {
    checks
        .iter()
        .map(|c| c.status)
        .max_by_key(|s| rank(*s))
        .unwrap_or(HealthStatus::Up)
}

/// Get the service's health.
///
/// One entry per dependency. Public; 503 when something is down.
#[utoipa::path(
    get,
    path = "/health",
    tag = "health",
    responses(
        (status = 200, description = "Up or degraded.", body = HealthReport),
        (status = 503, description = "A dependency is down.", body = HealthReport),
    )
)]
pub(crate) async fn health(State(state): State<Shared>) -> (StatusCode, Json<HealthReport>) {
    let checks = state.health.check().await;
    let status = overall(&checks);
    let code = if status == HealthStatus::Down {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, Json(HealthReport { status, checks }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(status: HealthStatus) -> DependencyHealth {
        DependencyHealth {
            name: "x".into(),
            status,
            detail: serde_json::Value::Null,
        }
    }

    #[test]
    fn overall_is_the_worst_check() {
        use HealthStatus::*;
        assert_eq!(overall(&[]), Up);
        assert_eq!(overall(&[dep(Up), dep(Up)]), Up);
        assert_eq!(overall(&[dep(Up), dep(Degraded)]), Degraded);
        assert_eq!(overall(&[dep(Down), dep(Degraded), dep(Up)]), Down);
    }
}
