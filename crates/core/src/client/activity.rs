//! What the client did ([`Activity`], as the API records it) and the facts kept of it
//! ([`ActivityFacts`], with the [`Fix`]es), which the score reads.

use super::Client;
use crate::ValidationError;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// A styling box sent to the client, and what came of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Fix {
    pub id: String,
    pub delivered_at: DateTime<Utc>,
    pub items_sent: u8,
    #[serde(default)]
    pub items_kept: Option<u8>,
    #[serde(default)]
    pub rating: Option<u8>,
    #[serde(default)]
    pub feedback_at: Option<DateTime<Utc>>,
}

impl Fix {
    pub fn items_returned(&self) -> Option<u8> {
        self.items_kept.map(|k| self.items_sent.saturating_sub(k))
    }
}

/// What the client has done, kept as facts the score reads. Histories are bounded so
/// the record stays small however long a client stays.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActivityFacts {
    #[serde(default)]
    pub login_count: u32,
    #[serde(default)]
    pub last_login_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub order_count: u32,
    #[serde(default)]
    pub last_order_at: Option<DateTime<Utc>>,
    /// The most recent Fixes, oldest first (at most [`ActivityFacts::MAX_FIXES`]).
    #[serde(default)]
    pub fixes: Vec<Fix>,
    #[serde(default)]
    pub email_opens: u32,
    #[serde(default)]
    pub email_clicks: u32,
    #[serde(default)]
    pub last_email_open_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_email_click_at: Option<DateTime<Utc>>,
    /// Times of the most recent activities of any kind, for the frequency component.
    #[serde(default)]
    pub recent: Vec<DateTime<Utc>>,
}

impl ActivityFacts {
    pub const MAX_FIXES: usize = 24;
    pub const MAX_RECENT: usize = 100;

    /// The latest moment the client did anything that shows interest.
    pub fn last_active_at(&self) -> Option<DateTime<Utc>> {
        [
            self.last_login_at,
            self.last_order_at,
            self.last_email_click_at,
            self.fixes.last().map(|f| f.delivered_at),
            self.fixes.iter().filter_map(|f| f.feedback_at).max(),
        ]
        .into_iter()
        .flatten()
        .max()
    }

    /// The latest activity of any kind the client is credited with: a login, an
    /// order, an email opened or clicked, a Fix delivered or its feedback. Unlike
    /// [`ActivityFacts::last_active_at`] (what the score reads as interest), an open
    /// counts: this is what lists show and sort by.
    pub fn last_activity_at(&self) -> Option<DateTime<Utc>> {
        [
            self.last_login_at,
            self.last_order_at,
            self.last_email_open_at,
            self.last_email_click_at,
            self.fixes.iter().map(|f| f.delivered_at).max(),
            self.fixes.iter().filter_map(|f| f.feedback_at).max(),
        ]
        .into_iter()
        .flatten()
        .max()
    }

    pub fn last_fix(&self) -> Option<&Fix> {
        self.fixes.last()
    }

    fn stamp(&mut self, at: DateTime<Utc>) {
        let pos = self.recent.partition_point(|t| *t <= at);
        self.recent.insert(pos, at);
        if self.recent.len() > Self::MAX_RECENT {
            self.recent.remove(0);
        }
    }
}

/// Something the client did, and when (`None`: now). [`Activity::apply`] checks it
/// against the client it is recorded for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activity {
    Login {
        at: Option<DateTime<Utc>>,
    },
    Order {
        at: Option<DateTime<Utc>>,
    },
    FixDelivered {
        at: Option<DateTime<Utc>>,
        fix_id: String,
        items_sent: u8,
    },
    FixFeedback {
        at: Option<DateTime<Utc>>,
        fix_id: String,
        items_kept: u8,
        rating: Option<u8>,
    },
    EmailOpened {
        at: Option<DateTime<Utc>>,
    },
    EmailClicked {
        at: Option<DateTime<Utc>>,
    },
}

impl Activity {
    fn at(&self) -> Option<DateTime<Utc>> {
        match self {
            Activity::Login { at }
            | Activity::Order { at }
            | Activity::FixDelivered { at, .. }
            | Activity::FixFeedback { at, .. }
            | Activity::EmailOpened { at }
            | Activity::EmailClicked { at } => *at,
        }
    }

    /// Folds the activity into the client's facts. Times default to `now`; a time in
    /// the future (beyond a small clock skew) is refused.
    pub fn apply(self, mut c: Client, now: DateTime<Utc>) -> Result<Client, ValidationError> {
        let at = self.at().unwrap_or(now);
        if at > now + Duration::minutes(5) {
            return Err(ValidationError::new("at", "is in the future"));
        }
        let a = &mut c.activity;
        let max = |o: Option<DateTime<Utc>>| Some(o.map_or(at, |t| t.max(at)));
        match self {
            Activity::Login { .. } => {
                a.login_count += 1;
                a.last_login_at = max(a.last_login_at);
            }
            Activity::Order { .. } => {
                a.order_count += 1;
                a.last_order_at = max(a.last_order_at);
            }
            Activity::FixDelivered {
                fix_id, items_sent, ..
            } => {
                let fix_id = fix_id.trim().to_string();
                if fix_id.is_empty() || fix_id.len() > 64 {
                    return Err(ValidationError::new("fix_id", "1 to 64 characters"));
                }
                if !(1..=20).contains(&items_sent) {
                    return Err(ValidationError::new("items_sent", "between 1 and 20"));
                }
                if a.fixes.iter().any(|f| f.id == fix_id) {
                    return Err(ValidationError::new(
                        "fix_id",
                        "this Fix was already delivered",
                    ));
                }
                let pos = a.fixes.partition_point(|f| f.delivered_at <= at);
                a.fixes.insert(
                    pos,
                    Fix {
                        id: fix_id,
                        delivered_at: at,
                        items_sent,
                        items_kept: None,
                        rating: None,
                        feedback_at: None,
                    },
                );
                if a.fixes.len() > ActivityFacts::MAX_FIXES {
                    a.fixes.remove(0);
                }
            }
            Activity::FixFeedback {
                fix_id,
                items_kept,
                rating,
                ..
            } => {
                let fix = a.fixes.iter_mut().find(|f| f.id == fix_id).ok_or_else(|| {
                    ValidationError::new("fix_id", "no delivered Fix has this id")
                })?;
                if items_kept > fix.items_sent {
                    return Err(ValidationError::new(
                        "items_kept",
                        format!("at most the {} items sent", fix.items_sent),
                    ));
                }
                if let Some(r) = rating
                    && !(1..=5).contains(&r)
                {
                    return Err(ValidationError::new("rating", "between 1 and 5"));
                }
                fix.items_kept = Some(items_kept);
                fix.rating = rating;
                fix.feedback_at = Some(at);
            }
            Activity::EmailOpened { .. } => {
                a.email_opens += 1;
                a.last_email_open_at = max(a.last_email_open_at);
            }
            Activity::EmailClicked { .. } => {
                a.email_clicks += 1;
                a.last_email_click_at = max(a.last_email_click_at);
            }
        }
        a.stamp(at);
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::super::new_client;
    use super::*;
    use chrono::TimeZone as _;

    #[test]
    fn last_activity_is_the_latest_of_every_kind_of_activity() {
        let t = |h: u32| Utc.with_ymd_and_hms(2026, 3, 2, h, 0, 0).unwrap();
        let mut f = ActivityFacts::default();
        assert_eq!(f.last_activity_at(), None);
        f.last_login_at = Some(t(1));
        f.last_email_open_at = Some(t(3));
        f.last_order_at = Some(t(2));
        assert_eq!(f.last_activity_at(), Some(t(3)));
        f.fixes.push(Fix {
            id: "f1".into(),
            delivered_at: t(4),
            items_sent: 5,
            items_kept: Some(2),
            rating: None,
            feedback_at: Some(t(6)),
        });
        assert_eq!(f.last_activity_at(), Some(t(6)));
        f.last_email_click_at = Some(t(7));
        assert_eq!(f.last_activity_at(), Some(t(7)));
    }

    #[test]
    fn feedback_needs_a_delivered_fix_and_sane_counts() {
        let now = Utc::now();
        let c = new_client();
        let err = Activity::FixFeedback {
            at: None,
            fix_id: "f1".into(),
            items_kept: 1,
            rating: None,
        }
        .apply(c.clone(), now)
        .unwrap_err();
        assert_eq!(err.field, "fix_id");
        let c = Activity::FixDelivered {
            at: None,
            fix_id: "f1".into(),
            items_sent: 5,
        }
        .apply(c, now)
        .unwrap();
        assert!(
            Activity::FixFeedback {
                at: None,
                fix_id: "f1".into(),
                items_kept: 6,
                rating: None
            }
            .apply(c.clone(), now)
            .is_err()
        );
        let c = Activity::FixFeedback {
            at: None,
            fix_id: "f1".into(),
            items_kept: 2,
            rating: Some(4),
        }
        .apply(c, now)
        .unwrap();
        assert_eq!(c.activity.fixes[0].items_returned(), Some(3));
    }

    #[test]
    fn activity_in_the_future_is_refused() {
        let now = Utc::now();
        let err = Activity::Login {
            at: Some(now + Duration::days(1)),
        }
        .apply(new_client(), now)
        .unwrap_err();
        assert_eq!(err.field, "at");
    }
}
