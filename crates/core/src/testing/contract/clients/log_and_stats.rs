//! A client's change log (newest first, kept after a deletion) and the dashboard's
//! counts by tier and score; a backend without them answers `Unsupported`.

use super::ClientSupport;
use super::support::*;
use crate::StoreError;
use crate::change::EventType;
use crate::client::Client;
use crate::ids::UserId;
use crate::ports::Page;
use crate::score::Tier;
use crate::testing::Backend;
use crate::testing::contract::fixtures::{client, next, store_score};

pub async fn changes_list_a_clients_writes_newest_first_even_after_its_deletion(
    b: &dyn Backend,
    support: ClientSupport,
) {
    let s = b.fresh().await;
    let ada = client("ada@example.com", "Ada");
    let grace = client("grace@example.com", "Grace");
    insert_all(&s, &[&ada, &grace]).await;
    if !support.changes {
        assert_unsupported(s.clients.changes(&ada.id, None, 10).await, "changes");
        return;
    }
    let mut v2 = next(&ada);
    v2.first_name = "Augusta".into();
    s.clients.replace(v2.clone(), 1).await.unwrap();
    let mut hopper = next(&grace);
    hopper.last_name = Some("Hopper".into());
    s.clients.replace(hopper, 1).await.unwrap();
    s.clients.delete(&ada.id, Some(2)).await.unwrap();

    let log = s.clients.changes(&ada.id, None, 10).await.unwrap();
    assert_eq!(log.next_cursor, None);
    let entries: Vec<_> = log
        .items
        .iter()
        .map(|c| (c.event_type, c.version, c.changed_fields.clone()))
        .collect();
    assert_eq!(
        entries,
        [
            (Some(EventType::ClientDeleted), 2, vec![]),
            (
                Some(EventType::ContactUpdated),
                2,
                vec!["first_name".to_string()]
            ),
            (Some(EventType::ClientCreated), 1, vec![]),
        ]
    );
    assert!(
        log.items.windows(2).all(|w| w[0].seq > w[1].seq),
        "newest first: {:?}",
        log.items
    );
    assert_eq!(
        [log.items[1].at, log.items[2].at],
        [v2.updated_at, ada.updated_at],
        "a write's change is at the write's time"
    );

    // Pages of two, then the rest.
    let first = s.clients.changes(&ada.id, None, 2).await.unwrap();
    assert_eq!(first.items, log.items[..2]);
    let rest = s
        .clients
        .changes(&ada.id, first.next_cursor, 2)
        .await
        .unwrap();
    assert_eq!(
        (rest.items, rest.next_cursor),
        (log.items[2..].to_vec(), None)
    );
    // A limit of 0 is one.
    assert_eq!(
        s.clients.changes(&ada.id, None, 0).await.unwrap().items,
        log.items[..1]
    );

    let other = s.clients.changes(&grace.id, None, 10).await.unwrap();
    assert_eq!(other.items.len(), 2, "only that client's writes");
    let none = s
        .clients
        .changes(&UserId::from_string("usr_missing"), None, 10)
        .await
        .unwrap();
    assert_eq!(
        none,
        Page {
            items: vec![],
            next_cursor: None
        }
    );
    let e = s
        .clients
        .changes(&ada.id, Some("not a cursor!".into()), 10)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::InvalidCursor), "{e:?}");
}

pub async fn stats_count_the_clients_by_tier_and_score(b: &dyn Backend, support: ClientSupport) {
    let s = b.fresh().await;
    let c: Vec<Client> = (1..=5)
        .map(|i| client(&format!("c{i}@example.com"), &format!("C{i}")))
        .collect();
    insert_all(&s, &c.iter().collect::<Vec<_>>()).await;
    if !support.stats {
        assert_unsupported(s.clients.stats().await, "stats");
        return;
    }
    store_score(&s, &c[0], 5, Tier::Dormant).await;
    store_score(&s, &c[1], 95, Tier::Champion).await;
    store_score(&s, &c[2], 100, Tier::Champion).await;
    store_score(&s, &c[3], 19, Tier::Lapsing).await;

    let stats = s.clients.stats().await.unwrap();
    assert_eq!((stats.total, stats.unscored), (5, 1));
    let tiers = |stats: &crate::ports::ClientStats| {
        assert_eq!(stats.by_tier.len(), Tier::ALL.len(), "every tier listed");
        Tier::ALL.map(|t| {
            stats
                .by_tier
                .iter()
                .find(|(x, _)| *x == t)
                .map(|(_, n)| *n)
                .unwrap_or_else(|| panic!("{t:?} listed"))
        })
    };
    // Tier::ALL: new, champion, engaged, at risk, lapsing, dormant.
    assert_eq!(tiers(&stats), [0, 2, 0, 0, 1, 1]);
    // 0–9, 10–19, …, 90–100.
    assert_eq!(stats.score_histogram, [1, 1, 0, 0, 0, 0, 0, 0, 0, 2]);

    // A rescore moves the counts, a deletion takes the client out.
    store_score(&s, &c[1], 55, Tier::Engaged).await;
    s.clients.delete(&c[2].id, None).await.unwrap();
    s.clients.delete(&c[4].id, None).await.unwrap();
    let stats = s.clients.stats().await.unwrap();
    assert_eq!((stats.total, stats.unscored), (3, 0));
    assert_eq!(tiers(&stats), [0, 0, 1, 0, 1, 1]);
    assert_eq!(stats.score_histogram, [1, 1, 0, 0, 0, 1, 0, 0, 0, 0]);
}
