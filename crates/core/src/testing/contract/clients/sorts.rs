//! The orders other than by id (by score, by last activity, each both ways), with
//! ties by id; a backend without them answers `Unsupported`.

use super::ClientSupport;
use super::support::*;
use crate::client::Client;
use crate::ports::{ClientQuery, ClientSort};
use crate::score::Tier;
use crate::testing::contract::fixtures::{client, next, store_score};
use crate::testing::{Backend, Stores, t0};
use chrono::Duration;

/// The sorted lists of `q` in both directions (`asc`, then its reverse), walked in
/// pages of every size that splits them differently.
async fn assert_sorted(
    s: &Stores,
    asc: ClientSort,
    desc: ClientSort,
    q: &ClientQuery,
    expected: &[&Client],
) {
    let expected = ids_of(expected);
    let mut reversed = expected.clone();
    reversed.reverse();
    for (sort, expected) in [(asc, &expected), (desc, &reversed)] {
        for limit in [1, 2, 4, 100] {
            let q = ClientQuery {
                sort,
                limit,
                ..q.clone()
            };
            assert_eq!(&walk(s, &q).await, expected, "{q:?}");
        }
    }
}

pub async fn list_sorts_by_score_with_the_unscored_first_and_ties_by_id(
    b: &dyn Backend,
    support: ClientSupport,
) {
    let s = b.fresh().await;
    let c: Vec<Client> = (1..=6)
        .map(|i| client(&format!("c{i}@example.com"), &format!("C{i}")))
        .collect();
    insert_all(&s, &c.iter().collect::<Vec<_>>()).await;
    if !support.sorts {
        for sort in [ClientSort::Score, ClientSort::ScoreDesc] {
            assert_unsupported(
                s.clients.list(&ClientQuery { sort, ..all() }).await,
                sort.as_str(),
            );
        }
        return;
    }
    let [c1, c2, c3, c4, c5, c6] = [&c[0], &c[1], &c[2], &c[3], &c[4], &c[5]];
    store_score(&s, c1, 50, Tier::Engaged).await;
    store_score(&s, c3, 80, Tier::Champion).await;
    store_score(&s, c4, 50, Tier::Engaged).await;
    store_score(&s, c6, 10, Tier::Dormant).await;

    // Lowest first, the unscored before any score; ties by id, in the same direction.
    let order = [c2, c5, c6, c1, c4, c3];
    assert_sorted(&s, ClientSort::Score, ClientSort::ScoreDesc, &all(), &order).await;
    let engaged = ClientQuery {
        tier: Some(Tier::Engaged),
        ..all()
    };
    assert_sorted(
        &s,
        ClientSort::Score,
        ClientSort::ScoreDesc,
        &engaged,
        &[c1, c4],
    )
    .await;
    let first = list(
        &s,
        &ClientQuery {
            sort: ClientSort::ScoreDesc,
            limit: 2,
            ..all()
        },
    )
    .await;
    assert_eq!(
        first.items.iter().map(|c| c.score).collect::<Vec<_>>(),
        [Some(80), Some(50)]
    );

    // A new score moves the client.
    store_score(&s, c5, 95, Tier::Champion).await;
    let order = [c2, c6, c1, c4, c3, c5];
    assert_sorted(&s, ClientSort::Score, ClientSort::ScoreDesc, &all(), &order).await;
}

pub async fn list_sorts_by_last_activity_with_the_never_active_first_and_ties_by_id(
    b: &dyn Backend,
    support: ClientSupport,
) {
    let s = b.fresh().await;
    let c: Vec<Client> = (1..=6)
        .map(|i| client(&format!("c{i}@example.com"), &format!("C{i}")))
        .collect();
    let mut c = c;
    c[0].activity.last_login_at = Some(t0() - Duration::days(2));
    c[2].activity.email_opens = 1;
    c[2].activity.last_email_open_at = Some(t0() - Duration::days(1));
    c[3].activity.last_login_at = Some(t0() - Duration::days(2));
    c[5].activity.order_count = 1;
    c[5].activity.last_order_at = Some(t0() - Duration::days(3));
    insert_all(&s, &c.iter().collect::<Vec<_>>()).await;
    if !support.sorts {
        for sort in [ClientSort::LastActivity, ClientSort::LastActivityDesc] {
            assert_unsupported(
                s.clients.list(&ClientQuery { sort, ..all() }).await,
                sort.as_str(),
            );
        }
        return;
    }
    let [c1, c2, c3, c4, c5, c6] = [&c[0], &c[1], &c[2], &c[3], &c[4], &c[5]];

    // Oldest first, the never active before anyone; ties by id, in the same direction.
    let order = [c2, c5, c6, c1, c4, c3];
    let (asc, desc) = (ClientSort::LastActivity, ClientSort::LastActivityDesc);
    assert_sorted(&s, asc, desc, &all(), &order).await;
    store_score(&s, c1, 70, Tier::Engaged).await;
    store_score(&s, c5, 70, Tier::Engaged).await;
    let engaged = ClientQuery {
        tier: Some(Tier::Engaged),
        ..all()
    };
    assert_sorted(&s, asc, desc, &engaged, &[c5, c1]).await;

    // New activity moves the client.
    let mut active = next(c2);
    active.activity.login_count = 1;
    active.activity.last_login_at = Some(t0());
    s.clients.replace(active, 1).await.unwrap();
    let order = [c5, c6, c1, c4, c3, c2];
    assert_sorted(&s, asc, desc, &all(), &order).await;
}
