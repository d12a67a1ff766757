//! Dependency health, as `/health` reports it.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    Up,
    Degraded,
    Down,
}

/// One dependency's health, as `/health` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DependencyHealth {
    pub name: String,
    pub status: HealthStatus,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub detail: serde_json::Value,
}

impl DependencyHealth {
    pub fn new(name: &str, status: HealthStatus, detail: serde_json::Value) -> Self {
        Self {
            name: name.into(),
            status,
            detail,
        }
    }
}

#[async_trait]
pub trait HealthCheck: Send + Sync {
    async fn check(&self) -> Vec<DependencyHealth>;
}
