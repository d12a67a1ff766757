//! What the cases share: the query that lists everything, the ids of a page, and a
//! walk through every page of a list that checks the pages hold together.

use crate::StoreError;
use crate::client::Client;
use crate::ids::UserId;
use crate::ports::{ClientQuery, ClientWithScore, Page};
use crate::testing::Stores;
use std::collections::HashSet;

/// A list query with no filter and room for every client of a case.
pub(super) fn all() -> ClientQuery {
    ClientQuery {
        limit: 100,
        ..ClientQuery::default()
    }
}

pub(super) fn ids(page: &Page<ClientWithScore>) -> Vec<UserId> {
    page.items.iter().map(|c| c.client.id.clone()).collect()
}

pub(super) fn ids_of(clients: &[&Client]) -> Vec<UserId> {
    clients.iter().map(|c| c.id.clone()).collect()
}

pub(super) async fn list(s: &Stores, q: &ClientQuery) -> Page<ClientWithScore> {
    s.clients
        .list(q)
        .await
        .unwrap_or_else(|e| panic!("list {q:?}: {e:?}"))
}

/// Every client `q` lists, page by page (`q.limit` a page) from the first: each page
/// with a cursor full, the last without one, no client twice.
pub(super) async fn walk(s: &Stores, q: &ClientQuery) -> Vec<UserId> {
    let mut seen = Vec::new();
    let mut q = q.clone();
    q.cursor = None;
    for _ in 0..1000 {
        let page = list(s, &q).await;
        assert!(page.items.len() <= q.limit as usize, "{q:?}: page too long");
        seen.extend(ids(&page));
        match page.next_cursor {
            Some(c) => {
                assert_eq!(
                    page.items.len(),
                    q.limit as usize,
                    "{q:?}: a page with a next cursor is full"
                );
                q.cursor = Some(c);
            }
            None => {
                let distinct: HashSet<_> = seen.iter().collect();
                assert_eq!(distinct.len(), seen.len(), "{q:?}: a client listed twice");
                return seen;
            }
        }
    }
    panic!("{q:?}: the cursors never end");
}

pub(super) fn assert_unsupported<T: std::fmt::Debug>(r: Result<T, StoreError>, what: &str) {
    match r {
        Err(StoreError::Unsupported(why)) => assert!(!why.is_empty(), "{what}: say why"),
        other => panic!("{what}: expected Unsupported (declared so), got {other:?}"),
    }
}

pub(super) async fn insert_all(s: &Stores, clients: &[&Client]) {
    for c in clients {
        s.clients
            .insert((*c).clone())
            .await
            .expect("the client is stored");
    }
}
