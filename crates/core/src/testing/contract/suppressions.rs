//! The `SuppressionStore` contract: one suppression per address whatever its case,
//! added again as an update, removed once, listed in address order.

use super::fixtures::address;
use crate::StoreError;
use crate::ports::{Page, Suppression};
use crate::testing::{Backend, Stores, t0};
use chrono::Duration;

/// One test per case of the `SuppressionStore` contract, against a backend (an
/// expression of a type that implements [`Backend`]).
#[macro_export]
macro_rules! suppressions_contract {
    ($backend:expr $(,)?) => {
        $crate::__contract_cases!(
            suppressions,
            (&$backend),
            [
                an_added_address_is_found_in_any_case,
                adding_again_updates_the_reason_and_keeps_the_first_time,
                a_removed_address_is_gone_and_a_second_remove_is_not_found,
                the_list_pages_in_address_order_without_loss_or_repetition,
                a_list_cursor_the_store_did_not_issue_is_invalid,
                a_list_limit_is_clamped_between_1_and_1000,
            ]
        );
    };
}

fn suppression(
    email: &str,
    reason: &str,
    created_at: chrono::DateTime<chrono::Utc>,
) -> Suppression {
    Suppression {
        email: email.into(),
        reason: reason.into(),
        created_at,
    }
}

async fn list(s: &Stores, cursor: Option<String>, limit: u32) -> Page<Suppression> {
    s.suppressions
        .list(cursor, limit)
        .await
        .expect("the list reads")
}

pub async fn an_added_address_is_found_in_any_case(b: &dyn Backend) {
    let s = b.fresh().await;
    let added = s
        .suppressions
        .add(&address("Ada@Example.com"), "bounce", t0())
        .await
        .unwrap();
    let expected = suppression("ada@example.com", "bounce", t0());
    assert_eq!(added, expected, "stored under the lower-cased address");
    for asked in ["ada@example.com", "ADA@EXAMPLE.COM", "Ada@Example.com"] {
        assert_eq!(
            s.suppressions.get(&address(asked)).await.unwrap(),
            Some(expected.clone()),
            "{asked}"
        );
    }
    assert_eq!(
        s.suppressions
            .get(&address("grace@example.com"))
            .await
            .unwrap(),
        None
    );
}

pub async fn adding_again_updates_the_reason_and_keeps_the_first_time(b: &dyn Backend) {
    let s = b.fresh().await;
    s.suppressions
        .add(&address("ada@example.com"), "bounce", t0())
        .await
        .unwrap();
    let later = t0() + Duration::hours(5);
    let again = s
        .suppressions
        .add(&address("ADA@example.com"), "complaint", later)
        .await
        .unwrap();
    let expected = suppression("ada@example.com", "complaint", t0());
    assert_eq!(again, expected, "add answers what is stored");
    assert_eq!(
        s.suppressions
            .get(&address("ada@example.com"))
            .await
            .unwrap(),
        Some(expected.clone())
    );
    assert_eq!(list(&s, None, 10).await.items, [expected], "still one");
}

pub async fn a_removed_address_is_gone_and_a_second_remove_is_not_found(b: &dyn Backend) {
    let s = b.fresh().await;
    s.suppressions
        .add(&address("ada@example.com"), "unsubscribe", t0())
        .await
        .unwrap();
    s.suppressions
        .add(&address("grace@example.com"), "bounce", t0())
        .await
        .unwrap();

    s.suppressions
        .remove(&address("ADA@Example.com"))
        .await
        .expect("removed in any case");
    assert_eq!(
        s.suppressions
            .get(&address("ada@example.com"))
            .await
            .unwrap(),
        None
    );
    for absent in ["ada@example.com", "nobody@example.com"] {
        let e = s.suppressions.remove(&address(absent)).await.unwrap_err();
        assert!(matches!(e, StoreError::NotFound), "{absent}: {e:?}");
    }
    assert_eq!(
        list(&s, None, 10).await.items,
        [suppression("grace@example.com", "bounce", t0())],
        "the other address stays"
    );

    // Suppressed again later: a new suppression, from then.
    let later = t0() + Duration::days(1);
    let back = s
        .suppressions
        .add(&address("ada@example.com"), "complaint", later)
        .await
        .unwrap();
    assert_eq!(back, suppression("ada@example.com", "complaint", later));
}

pub async fn the_list_pages_in_address_order_without_loss_or_repetition(b: &dyn Backend) {
    let s = b.fresh().await;
    let addresses = [
        "mallory@example.com",
        "Ada@example.com",
        "zed@example.org",
        "bob@example.com",
        "carol@example.net",
        "ada.two@example.com",
    ];
    for (i, a) in addresses.iter().enumerate() {
        s.suppressions
            .add(&address(a), "bounce", t0() + Duration::minutes(i as i64))
            .await
            .unwrap();
    }
    let mut expected: Vec<String> = addresses.iter().map(|a| a.to_lowercase()).collect();
    expected.sort();

    let all = list(&s, None, 100).await;
    assert_eq!(all.next_cursor, None);
    assert_eq!(
        all.items
            .iter()
            .map(|x| x.email.clone())
            .collect::<Vec<_>>(),
        expected
    );
    for limit in [1, 2, 3, 4, 6] {
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = list(&s, cursor.take(), limit).await;
            assert!(page.items.len() <= limit as usize);
            seen.extend(page.items.iter().cloned());
            match page.next_cursor {
                Some(c) => {
                    assert_eq!(
                        page.items.len(),
                        limit as usize,
                        "a page with a cursor is full"
                    );
                    cursor = Some(c);
                }
                None => break,
            }
        }
        assert_eq!(seen, all.items, "pages of {limit}");
    }
    // A removal between pages loses nothing after the cursor.
    let first = list(&s, None, 2).await;
    s.suppressions.remove(&address(&expected[2])).await.unwrap();
    let rest = list(&s, first.next_cursor, 100).await;
    assert_eq!(
        rest.items
            .iter()
            .map(|x| x.email.clone())
            .collect::<Vec<_>>(),
        expected[3..]
    );
}

pub async fn a_list_cursor_the_store_did_not_issue_is_invalid(b: &dyn Backend) {
    let s = b.fresh().await;
    s.suppressions
        .add(&address("ada@example.com"), "bounce", t0())
        .await
        .unwrap();
    for garbage in ["not a cursor!", "%%%", ""] {
        let e = s
            .suppressions
            .list(Some(garbage.into()), 10)
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::InvalidCursor), "{garbage:?}: {e:?}");
    }
}

pub async fn a_list_limit_is_clamped_between_1_and_1000(b: &dyn Backend) {
    let s = b.fresh().await;
    let addresses: Vec<String> = (0..1001).map(|i| format!("s{i:04}@example.com")).collect();
    for chunk in addresses.chunks(50) {
        let adds = chunk
            .iter()
            .map(|a| async { s.suppressions.add(&address(a), "bounce", t0()).await });
        for added in futures_util::future::join_all(adds).await {
            added.expect("the address is suppressed");
        }
    }

    let zero = list(&s, None, 0).await;
    assert_eq!(zero.items.len(), 1, "a limit of 0 lists one");
    assert!(zero.next_cursor.is_some());
    for limit in [1001, u32::MAX] {
        let page = list(&s, None, limit).await;
        assert_eq!(page.items.len(), 1000, "a limit of {limit} lists 1000");
        let rest = list(&s, page.next_cursor, limit).await;
        let emails: Vec<_> = rest.items.iter().map(|x| x.email.as_str()).collect();
        assert_eq!(
            (emails, rest.next_cursor),
            (vec!["s1000@example.com"], None)
        );
    }
}
