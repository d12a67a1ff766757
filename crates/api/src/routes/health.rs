//! `GET /health`: one entry per dependency and the worst of them overall.

use crate::error::ApiError;
use crate::state::Shared;
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use engage_core::ports::{DependencyHealth, HealthStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HealthReport {
    /// The worst status of the checks (`up` when there are none).
    pub status: HealthStatus,
    /// One entry per dependency; only with a bearer token (they name versions, paths
    /// and queue depths, which are nobody else's business).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<DependencyHealth>>,
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
/// Public, for load balancers: `{"status": "up" | "degraded" | "down"}`, 503 when
/// something is down. With a bearer token, also one entry per dependency (`checks`);
/// a wrong token is a 401, braked like any other.
#[utoipa::path(
    get,
    path = "/health",
    tag = "health",
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Up or degraded.", body = HealthReport),
        (status = 401, description = "A bearer token was sent and is not valid.",
            body = crate::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed tokens from this address.",
            body = crate::Problem, content_type = "application/problem+json"),
        (status = 503, description = "A dependency is down.", body = HealthReport),
    )
)]
pub(crate) async fn health(
    State(state): State<Shared>,
    req: Request,
) -> Result<(StatusCode, Json<HealthReport>), ApiError> {
    let detailed = if req.headers().contains_key(header::AUTHORIZATION) {
        state.auth.authorize(&req)?;
        true
    } else {
        false
    };
    let checks = state.health.check().await;
    let status = overall(&checks);
    let code = if status == HealthStatus::Down {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    Ok((
        code,
        Json(HealthReport {
            status,
            checks: detailed.then_some(checks),
        }),
    ))
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
