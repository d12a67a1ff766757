//! What a backend may decline: [`EmailHistory::email_activity`] (the dashboard's
//! counts). Each case accepts the answer the port allows a backend that cannot,
//! `Unsupported`, and nothing else. (The copy of a sent message is the sender's
//! port, `SentMessages`, tested with the outbox in engage-mail.)
//!
//! [`EmailHistory::email_activity`]: crate::ports::EmailHistory::email_activity

use super::fixtures::*;
use crate::StoreError;
use crate::email::EmailStatus;
use crate::ports::EmailActivity;
use crate::testing::{Backend, t0};
use chrono::{Duration, NaiveDate, TimeZone, Utc};

/// `Ok` with the activity, or `None` where the backend answers `Unsupported`.
async fn activity(f: &Fixture, since: chrono::DateTime<Utc>) -> Option<EmailActivity> {
    match f.history().email_activity(since).await {
        Ok(a) => Some(a),
        Err(StoreError::Unsupported(_)) => None,
        Err(e) => panic!("{}: email_activity: {e}", f.name),
    }
}

/// The emails created at or after `since`, per UTC day of creation and current
/// status, the model's and the template's counted apart and the models' costs added
/// up; or `Unsupported`, every time, where the backend cannot count without a scan.
pub async fn email_activity_counts_by_day_status_and_generator(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    let u = user(1);
    let since = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    let e = |event, status, at| email(&u, event, "welcome", status, at);
    let cancelled = e("evt_a", EmailStatus::Pending, t0() - Duration::days(1));
    for x in [
        cancelled.clone(),
        by_model(e("evt_b", EmailStatus::Sent, since), Some(0.002)),
        by_model(e("evt_c", EmailStatus::Sent, t0()), Some(0.001)),
        by_model(
            e("evt_d", EmailStatus::Sent, t0() + Duration::hours(1)),
            None,
        ),
        e("evt_e", EmailStatus::Failed, t0() + Duration::hours(2)),
        by_model(
            e("evt_f", EmailStatus::Sent, t0() - Duration::days(3)),
            Some(0.5),
        ),
        e("evt_g", EmailStatus::Pending, since - Duration::seconds(1)),
    ] {
        f.record(&x).await;
    }
    let n = f.name;
    assert!(
        f.transition(
            &cancelled.id,
            EmailStatus::Pending,
            EmailStatus::Cancelled,
            t0()
        )
        .await,
        "{n}"
    );

    let Some(mut got) = activity(&f, since).await else {
        assert!(
            activity(&f, t0()).await.is_none(),
            "{n}: Unsupported for one period, Unsupported for every one"
        );
        return;
    };
    let day = |d| NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
    got.per_day.sort_by_key(|(d, s, _)| (*d, s.as_str()));
    assert_eq!(
        got.per_day,
        [
            (day(1), EmailStatus::Cancelled, 1),
            (day(1), EmailStatus::Sent, 1),
            (day(2), EmailStatus::Failed, 1),
            (day(2), EmailStatus::Sent, 2),
        ],
        "{n}: per UTC day and current status, from `since` (included)"
    );
    assert_eq!((got.llm, got.template), (3, 2), "{n}: (llm, template)");
    let cost = got.llm_cost_usd.expect("two emails reported a cost");
    assert!(
        (cost - 0.003).abs() < 1e-9,
        "{n}: the costs reported, added: {cost}"
    );

    let quiet = activity(&f, t0() + Duration::days(1))
        .await
        .expect("supported");
    assert_eq!(
        quiet,
        EmailActivity::default(),
        "{n}: nothing created since: no days, no counts, no cost"
    );
}
