//! `/api/v1/campaigns`: the campaigns the engine is configured with, in the priority
//! order a decision considers them, with their triggers in plain words.

use crate::state::Shared;
use axum::Json;
use axum::extract::State;
use engage_core::campaign::{Campaign, Trigger};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn router() -> OpenApiRouter<Shared> {
    OpenApiRouter::new().routes(routes!(list_campaigns))
}

/// A configured campaign.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CampaignView {
    pub name: String,
    /// When it applies: its trigger in plain words.
    pub description: String,
    /// Days before the same campaign may go to the same client again; null: once ever.
    #[schema(required = true)]
    pub cooldown_days: Option<i64>,
    /// A disabled campaign is never chosen.
    pub enabled: bool,
    /// Its place in the priority order, from 1: of the campaigns whose trigger
    /// matches and whose cooldown has passed, a decision considers the first.
    pub priority: u32,
    /// The trigger as configured.
    pub trigger: Trigger,
    /// What the model is asked to write.
    pub instructions: String,
}

impl CampaignView {
    fn new(priority: u32, c: &Campaign) -> Self {
        Self {
            name: c.name.clone(),
            description: c.trigger.describe(),
            cooldown_days: c.cooldown_days,
            enabled: c.enabled,
            priority,
            trigger: c.trigger.clone(),
            instructions: c.instructions.clone(),
        }
    }
}

/// The configured campaigns.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CampaignList {
    pub items: Vec<CampaignView>,
}

/// List the campaigns.
///
/// Every configured campaign, disabled ones included, in priority order.
#[utoipa::path(
    get,
    path = "/campaigns",
    tag = "campaigns",
    responses(
        (status = 200, description = "The campaigns, in priority order.", body = CampaignList),
    )
)]
async fn list_campaigns(State(state): State<Shared>) -> Json<CampaignList> {
    let items = (1..)
        .zip(&state.engine.config.campaigns)
        .map(|(i, c)| CampaignView::new(i, c))
        .collect();
    Json(CampaignList { items })
}
