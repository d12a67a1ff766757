//! Lists a page at a time: every client once whatever the page size, the limit
//! clamped, and a cursor the list did not make refused.

use super::ClientSupport;
use super::support::*;
use crate::StoreError;
use crate::client::Client;
use crate::ports::{ClientQuery, ClientSort};
use crate::testing::Backend;
use crate::testing::contract::fixtures::client;

pub async fn list_pages_cover_every_client_once(b: &dyn Backend, _: ClientSupport) {
    let s = b.fresh().await;
    let clients: Vec<Client> = (0..7)
        .map(|i| client(&format!("c{i}@example.com"), &format!("C{i}")))
        .collect();
    insert_all(&s, &clients.iter().collect::<Vec<_>>()).await;
    let every = ids_of(&clients.iter().collect::<Vec<_>>());

    for limit in [1, 2, 3, 6, 7, 8] {
        let q = ClientQuery { limit, ..all() };
        assert_eq!(walk(&s, &q).await, every, "pages of {limit}");
    }
    // Pages of 3: 3, 3, then the last one, without a cursor.
    let q = ClientQuery { limit: 3, ..all() };
    let first = list(&s, &q).await;
    assert_eq!(ids(&first), every[..3]);
    let second = list(
        &s,
        &ClientQuery {
            cursor: first.next_cursor.clone(),
            ..q.clone()
        },
    )
    .await;
    assert_eq!(ids(&second), every[3..6]);
    let third = list(
        &s,
        &ClientQuery {
            cursor: second.next_cursor.clone(),
            ..q.clone()
        },
    )
    .await;
    assert_eq!(
        (ids(&third), third.next_cursor),
        (every[6..].to_vec(), None)
    );

    // A cursor stays good when clients come and go: the next page starts after
    // where the last one ended.
    s.clients.delete(&clients[3].id, None).await.unwrap();
    let late = client("late@example.com", "Late");
    s.clients.insert(late.clone()).await.unwrap();
    let resumed = list(
        &s,
        &ClientQuery {
            cursor: first.next_cursor,
            limit: 100,
            ..all()
        },
    )
    .await;
    let mut expected = every[4..].to_vec();
    expected.push(late.id);
    assert_eq!(ids(&resumed), expected);
}

/// The limit's ceiling (1000) is the suppression contract's to show: 1001 clients
/// take minutes to write in the emulator, whose transactions copy the whole table.
pub async fn a_list_limit_of_0_lists_one_and_one_over_1000_is_no_error(
    b: &dyn Backend,
    _: ClientSupport,
) {
    let s = b.fresh().await;
    let clients: Vec<Client> = (0..3)
        .map(|i| client(&format!("c{i}@example.com"), "C"))
        .collect();
    insert_all(&s, &clients.iter().collect::<Vec<_>>()).await;
    let every = ids_of(&clients.iter().collect::<Vec<_>>());

    let zero = ClientQuery { limit: 0, ..all() };
    let first = list(&s, &zero).await;
    assert_eq!(ids(&first), every[..1], "a limit of 0 lists one");
    assert!(first.next_cursor.is_some());
    assert_eq!(walk(&s, &ClientQuery { limit: 1, ..all() }).await, every);

    let huge = list(
        &s,
        &ClientQuery {
            limit: u32::MAX,
            ..all()
        },
    )
    .await;
    assert_eq!((ids(&huge), huge.next_cursor), (every, None));
}

pub async fn a_cursor_the_list_did_not_issue_is_invalid(b: &dyn Backend, support: ClientSupport) {
    let s = b.fresh().await;
    for c in ["ada", "grace", "alan"] {
        s.clients
            .insert(client(&format!("{c}@example.com"), c))
            .await
            .unwrap();
    }
    let listed = |sort, cursor: Option<String>| ClientQuery {
        sort,
        cursor,
        limit: 1,
        ..all()
    };
    for garbage in ["not a cursor!", "%%%", ""] {
        let e = s
            .clients
            .list(&listed(ClientSort::Id, Some(garbage.into())))
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::InvalidCursor), "{garbage:?}: {e:?}");
    }
    if !support.sorts {
        return;
    }
    // A cursor of one order is no cursor of another.
    let mut cursors = vec![(
        ClientSort::Id,
        list(&s, &listed(ClientSort::Id, None)).await.next_cursor,
    )];
    for sort in ClientSort::NAMED {
        cursors.push((sort, list(&s, &listed(sort, None)).await.next_cursor));
    }
    for (from, cursor) in &cursors {
        let cursor = cursor.clone().expect("three clients, pages of one");
        for (to, _) in cursors.iter().filter(|(to, _)| to != from) {
            let e = s
                .clients
                .list(&listed(*to, Some(cursor.clone())))
                .await
                .unwrap_err();
            assert!(
                matches!(e, StoreError::InvalidCursor),
                "a {from:?} cursor in a {to:?} list: {e:?}"
            );
        }
    }
}
