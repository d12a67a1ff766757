//! The `ClientStore` contract: writes with their refusals (`Duplicate`,
//! `VersionConflict`, `NotFound`), reads with the score the ledger stored, and lists
//! with every filter, order and cursor. What a backend may answer `Unsupported` for
//! ([`ClientSupport`]) is named where its runner calls [`crate::clients_contract!`],
//! and the contract then checks that it answers so, every time.

use super::fixtures::{address, client, next, store_score};
use crate::StoreError;
use crate::change::EventType;
use crate::client::Client;
use crate::ids::UserId;
use crate::ports::{ClientQuery, ClientSort, ClientWithScore, Page};
use crate::score::Tier;
use crate::testing::{Backend, Stores, t0};
use chrono::Duration;
use std::collections::HashSet;

/// What of [`crate::ports::ClientStore`] a backend does beyond what every backend
/// must: each `false` is a promise to answer `Unsupported` (with a reason) instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientSupport {
    /// `list` in the orders of [`ClientSort::NAMED`] (every backend lists by id).
    pub sorts: bool,
    /// `changes`: a client's change log.
    pub changes: bool,
    /// `stats`: the dashboard's counts.
    pub stats: bool,
}

impl ClientSupport {
    pub const ALL: ClientSupport = ClientSupport {
        sorts: true,
        changes: true,
        stats: true,
    };
}

/// One test per case of the `ClientStore` contract, against a backend: an expression
/// of a type that implements [`Backend`], and optionally the [`ClientSupport`] it
/// has (default: all of it).
///
/// ```ignore
/// engage_core::clients_contract!(SqliteBackend);
/// engage_core::clients_contract!(DynamoBackend, ClientSupport { sorts: false, .. });
/// ```
#[macro_export]
macro_rules! clients_contract {
    ($backend:expr, $support:expr $(,)?) => {
        $crate::__contract_cases!(
            clients,
            (&$backend, $support),
            [
                an_inserted_client_reads_back_and_a_missing_one_is_none,
                a_taken_address_is_a_duplicate_whatever_its_case,
                a_taken_id_is_a_duplicate_and_takes_no_address,
                a_replace_at_the_stored_version_wins_and_a_stale_one_names_the_current,
                a_replace_of_a_missing_client_is_not_found,
                of_concurrent_replaces_at_one_version_exactly_one_wins,
                changing_the_address_frees_the_old_one_and_takes_the_new,
                delete_checks_the_version_and_returns_the_client_as_deleted,
                get_with_score_shows_the_score_the_ledger_stored_and_the_suppression,
                list_is_in_id_order_with_scores_and_suppression_marks,
                list_search_is_a_case_insensitive_prefix_of_the_address_or_a_name,
                list_filters_by_tier_subscription_and_opt_in,
                list_pages_cover_every_client_once,
                a_list_limit_of_0_lists_one_and_one_over_1000_is_no_error,
                a_cursor_the_list_did_not_issue_is_invalid,
                list_sorts_by_score_with_the_unscored_first_and_ties_by_id,
                list_sorts_by_last_activity_with_the_never_active_first_and_ties_by_id,
                changes_list_a_clients_writes_newest_first_even_after_its_deletion,
                stats_count_the_clients_by_tier_and_score,
            ]
        );
    };
    ($backend:expr $(,)?) => {
        $crate::clients_contract!(
            $backend,
            $crate::testing::contract::clients::ClientSupport::ALL
        );
    };
}

/// A list query with no filter and room for every client of a case.
fn all() -> ClientQuery {
    ClientQuery {
        limit: 100,
        ..ClientQuery::default()
    }
}

fn ids(page: &Page<ClientWithScore>) -> Vec<UserId> {
    page.items.iter().map(|c| c.client.id.clone()).collect()
}

fn ids_of(clients: &[&Client]) -> Vec<UserId> {
    clients.iter().map(|c| c.id.clone()).collect()
}

async fn list(s: &Stores, q: &ClientQuery) -> Page<ClientWithScore> {
    s.clients
        .list(q)
        .await
        .unwrap_or_else(|e| panic!("list {q:?}: {e:?}"))
}

/// Every client `q` lists, page by page (`q.limit` a page) from the first: each page
/// with a cursor full, the last without one, no client twice.
async fn walk(s: &Stores, q: &ClientQuery) -> Vec<UserId> {
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

fn assert_unsupported<T: std::fmt::Debug>(r: Result<T, StoreError>, what: &str) {
    match r {
        Err(StoreError::Unsupported(why)) => assert!(!why.is_empty(), "{what}: say why"),
        other => panic!("{what}: expected Unsupported (declared so), got {other:?}"),
    }
}

async fn insert_all(s: &Stores, clients: &[&Client]) {
    for c in clients {
        s.clients
            .insert((*c).clone())
            .await
            .expect("the client is stored");
    }
}

pub async fn an_inserted_client_reads_back_and_a_missing_one_is_none(
    b: &dyn Backend,
    _: ClientSupport,
) {
    let s = b.fresh().await;
    let mut ada = client("Ada@Example.com", "Ada");
    ada.last_name = Some("Lovelace".into());
    let grace = client("grace@example.com", "Grace");
    insert_all(&s, &[&ada, &grace]).await;

    assert_eq!(s.clients.get(&ada.id).await.unwrap(), Some(ada.clone()));
    let missing = UserId::from_string("usr_missing");
    assert_eq!(s.clients.get(&missing).await.unwrap(), None);

    // In the order asked, a missing one as None, one asked twice twice.
    let many = s
        .clients
        .get_many(&[
            grace.id.clone(),
            missing.clone(),
            ada.id.clone(),
            grace.id.clone(),
        ])
        .await
        .unwrap();
    assert_eq!(
        many,
        vec![Some(grace.clone()), None, Some(ada), Some(grace)]
    );
    assert!(s.clients.get_many(&[]).await.unwrap().is_empty());
}

pub async fn a_taken_address_is_a_duplicate_whatever_its_case(b: &dyn Backend, _: ClientSupport) {
    let s = b.fresh().await;
    let ada = client("ada@example.com", "Ada");
    s.clients.insert(ada.clone()).await.unwrap();

    let twin = client("ADA@Example.COM", "Twin");
    let e = s.clients.insert(twin.clone()).await.unwrap_err();
    assert!(matches!(e, StoreError::Duplicate(_)), "{e:?}");
    assert_eq!(
        s.clients.get(&twin.id).await.unwrap(),
        None,
        "nothing written"
    );
    assert_eq!(ids(&list(&s, &all()).await), std::slice::from_ref(&ada.id));
    assert_eq!(s.clients.get(&ada.id).await.unwrap(), Some(ada));
}

pub async fn a_taken_id_is_a_duplicate_and_takes_no_address(b: &dyn Backend, _: ClientSupport) {
    let s = b.fresh().await;
    let ada = client("ada@example.com", "Ada");
    s.clients.insert(ada.clone()).await.unwrap();

    let mut same_id = client("grace@example.com", "Grace");
    same_id.id = ada.id.clone();
    let e = s.clients.insert(same_id).await.unwrap_err();
    assert!(matches!(e, StoreError::Duplicate(_)), "{e:?}");
    assert_eq!(s.clients.get(&ada.id).await.unwrap(), Some(ada));
    // The refused client's address is still free.
    s.clients
        .insert(client("grace@example.com", "Grace"))
        .await
        .expect("the address was left free");
}

pub async fn a_replace_at_the_stored_version_wins_and_a_stale_one_names_the_current(
    b: &dyn Backend,
    _: ClientSupport,
) {
    let s = b.fresh().await;
    let ada = client("ada@example.com", "Ada");
    s.clients.insert(ada.clone()).await.unwrap();

    let mut v2 = next(&ada);
    v2.first_name = "Augusta".into();
    v2.last_name = Some("King".into());
    s.clients.replace(v2.clone(), 1).await.unwrap();
    assert_eq!(s.clients.get(&ada.id).await.unwrap(), Some(v2.clone()));

    // Behind the stored version, and ahead of it: both name the stored one.
    for expected in [1, 5] {
        let mut stale = next(&ada);
        stale.first_name = "Stale".into();
        stale.version = expected + 1;
        let e = s.clients.replace(stale, expected).await.unwrap_err();
        assert!(
            matches!(e, StoreError::VersionConflict { current: 2 }),
            "expected version {expected}: {e:?}"
        );
    }
    assert_eq!(
        s.clients.get(&ada.id).await.unwrap(),
        Some(v2.clone()),
        "a refused replace changes nothing"
    );

    let mut v3 = next(&v2);
    v3.consent.unsubscribed = true;
    v3.consent.unsubscribed_at = Some(t0());
    s.clients.replace(v3.clone(), 2).await.unwrap();
    assert_eq!(s.clients.get(&ada.id).await.unwrap(), Some(v3));
}

pub async fn a_replace_of_a_missing_client_is_not_found(b: &dyn Backend, _: ClientSupport) {
    let s = b.fresh().await;
    let ghost = client("ghost@example.com", "Ghost");
    let e = s.clients.replace(next(&ghost), 1).await.unwrap_err();
    assert!(matches!(e, StoreError::NotFound), "{e:?}");
    assert_eq!(s.clients.get(&ghost.id).await.unwrap(), None);
    // Nor did it take the address.
    s.clients
        .insert(client("ghost@example.com", "Casper"))
        .await
        .expect("the address is free");
}

pub async fn of_concurrent_replaces_at_one_version_exactly_one_wins(
    b: &dyn Backend,
    _: ClientSupport,
) {
    let s = b.fresh().await;
    let ada = client("ada@example.com", "Ada");
    s.clients.insert(ada.clone()).await.unwrap();

    let mut writers = tokio::task::JoinSet::new();
    for i in 0..6 {
        let mut c = next(&ada);
        c.first_name = format!("Writer {i}");
        let store = s.clients.clone();
        writers.spawn(async move {
            let r = store.replace(c.clone(), 1).await;
            (c, r)
        });
    }
    let mut won = Vec::new();
    while let Some(done) = writers.join_next().await {
        let (c, r) = done.expect("the writer ran");
        match r {
            Ok(()) => won.push(c),
            Err(StoreError::VersionConflict { current: 2 }) => {}
            Err(e) => panic!("a losing writer: {e:?}"),
        }
    }
    assert_eq!(won.len(), 1, "exactly one writer wins");
    assert_eq!(
        s.clients.get(&ada.id).await.unwrap().as_ref(),
        won.first(),
        "the winner's write is stored"
    );
}

pub async fn changing_the_address_frees_the_old_one_and_takes_the_new(
    b: &dyn Backend,
    _: ClientSupport,
) {
    let s = b.fresh().await;
    let ada = client("ada@example.com", "Ada");
    let grace = client("grace@example.com", "Grace");
    insert_all(&s, &[&ada, &grace]).await;

    // Onto a taken address (in another case): a duplicate, and nothing changes.
    let mut onto_grace = next(&ada);
    onto_grace.email = address("Grace@Example.com");
    let e = s.clients.replace(onto_grace, 1).await.unwrap_err();
    assert!(matches!(e, StoreError::Duplicate(_)), "{e:?}");
    assert_eq!(s.clients.get(&ada.id).await.unwrap(), Some(ada.clone()));

    // A change of case only is no move: the address stays the client's.
    let mut upper = next(&ada);
    upper.email = address("ADA@example.com");
    s.clients.replace(upper.clone(), 1).await.unwrap();
    let e = s
        .clients
        .insert(client("ada@example.com", "Twin"))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Duplicate(_)), "{e:?}");

    let mut moved = next(&upper);
    moved.email = address("countess@example.com");
    s.clients.replace(moved.clone(), 2).await.unwrap();
    assert_eq!(s.clients.get(&ada.id).await.unwrap(), Some(moved));
    // The old address is free for another client; the new one is not.
    s.clients
        .insert(client("ada@example.com", "New Ada"))
        .await
        .expect("the old address is free");
    let e = s
        .clients
        .insert(client("Countess@example.com", "Impostor"))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Duplicate(_)), "{e:?}");
}

pub async fn delete_checks_the_version_and_returns_the_client_as_deleted(
    b: &dyn Backend,
    _: ClientSupport,
) {
    let s = b.fresh().await;
    let ada = client("ada@example.com", "Ada");
    s.clients.insert(ada.clone()).await.unwrap();
    store_score(&s, &ada, 40, Tier::AtRisk).await;

    let e = s.clients.delete(&ada.id, Some(7)).await.unwrap_err();
    assert!(
        matches!(e, StoreError::VersionConflict { current: 1 }),
        "{e:?}"
    );
    assert_eq!(s.clients.get(&ada.id).await.unwrap(), Some(ada.clone()));

    assert_eq!(s.clients.delete(&ada.id, Some(1)).await.unwrap(), ada);
    assert_eq!(s.clients.get(&ada.id).await.unwrap(), None);
    assert_eq!(s.clients.get_with_score(&ada.id).await.unwrap(), None);
    assert!(ids(&list(&s, &all()).await).is_empty());
    assert_eq!(
        s.history.stored_score(&ada.id).await.unwrap(),
        None,
        "the score goes with the client"
    );
    for expected in [None, Some(1)] {
        let e = s.clients.delete(&ada.id, expected).await.unwrap_err();
        assert!(matches!(e, StoreError::NotFound), "{expected:?}: {e:?}");
    }

    // Without a version, delete takes whatever is stored.
    let grace = client("grace@example.com", "Grace");
    s.clients.insert(grace.clone()).await.unwrap();
    let v2 = next(&grace);
    s.clients.replace(v2.clone(), 1).await.unwrap();
    assert_eq!(s.clients.delete(&grace.id, None).await.unwrap(), v2);
    // Both addresses are free again.
    for email in ["ada@example.com", "grace@example.com"] {
        s.clients
            .insert(client(email, "Again"))
            .await
            .expect("a deleted client's address is free");
    }
}

pub async fn get_with_score_shows_the_score_the_ledger_stored_and_the_suppression(
    b: &dyn Backend,
    _: ClientSupport,
) {
    let s = b.fresh().await;
    let ada = client("ada@example.com", "Ada");
    s.clients.insert(ada.clone()).await.unwrap();
    let got = s.clients.get_with_score(&ada.id).await.unwrap();
    assert_eq!(
        got,
        Some(ClientWithScore {
            client: ada.clone(),
            score: None,
            tier: None,
            suppressed: false,
        }),
        "not scored yet"
    );

    store_score(&s, &ada, 83, Tier::Champion).await;
    let got = s.clients.get_with_score(&ada.id).await.unwrap().unwrap();
    assert_eq!((got.score, got.tier), (Some(83), Some(Tier::Champion)));
    store_score(&s, &ada, 41, Tier::AtRisk).await;
    let got = s.clients.get_with_score(&ada.id).await.unwrap().unwrap();
    assert_eq!((got.score, got.tier), (Some(41), Some(Tier::AtRisk)));

    // A client write keeps the score; the suppression is the address's, in any case.
    let mut v2 = next(&ada);
    v2.first_name = "Augusta".into();
    s.clients.replace(v2.clone(), 1).await.unwrap();
    s.suppressions
        .add(&address("ADA@EXAMPLE.COM"), "bounce", t0())
        .await
        .unwrap();
    let got = s.clients.get_with_score(&ada.id).await.unwrap();
    assert_eq!(
        got,
        Some(ClientWithScore {
            client: v2,
            score: Some(41),
            tier: Some(Tier::AtRisk),
            suppressed: true,
        })
    );

    let missing = UserId::from_string("usr_missing");
    assert_eq!(s.clients.get_with_score(&missing).await.unwrap(), None);
}

pub async fn list_is_in_id_order_with_scores_and_suppression_marks(
    b: &dyn Backend,
    _: ClientSupport,
) {
    let s = b.fresh().await;
    let ada = client("ada@example.com", "Ada");
    let grace = client("Grace@example.com", "Grace");
    let alan = client("alan@example.org", "Alan");
    // Stored out of creation order: the list is in id (creation) order all the same.
    insert_all(&s, &[&alan, &ada, &grace]).await;
    store_score(&s, &ada, 90, Tier::Champion).await;
    s.suppressions
        .add(&address("grace@example.com"), "complaint", t0())
        .await
        .unwrap();

    let page = list(&s, &all()).await;
    assert_eq!(page.next_cursor, None);
    let marks: Vec<_> = page
        .items
        .iter()
        .map(|c| (c.client.clone(), c.score, c.tier, c.suppressed))
        .collect();
    assert_eq!(
        marks,
        [
            (ada, Some(90), Some(Tier::Champion), false),
            (grace, None, None, true),
            (alan, None, None, false),
        ]
    );
    let s2 = b.fresh().await;
    assert_eq!(
        list(&s2, &all()).await,
        Page {
            items: vec![],
            next_cursor: None
        }
    );
}

pub async fn list_search_is_a_case_insensitive_prefix_of_the_address_or_a_name(
    b: &dyn Backend,
    _: ClientSupport,
) {
    let s = b.fresh().await;
    let named = |email: &str, first: &str, last: Option<&str>| {
        let mut c = client(email, first);
        c.last_name = last.map(str::to_string);
        c
    };
    let ada = named("ada@example.com", "Ada", Some("Lovelace"));
    let grace = named("grace@example.com", "Grace", Some("Hopper"));
    let alan = named("Alan@Example.org", "Alan", Some("Turing"));
    let edsger = named("edsger@example.com", "Edsger", None);
    let fan = named("lovelace.fan@example.net", "Fan", Some("Of Ada"));
    insert_all(&s, &[&ada, &grace, &alan, &edsger, &fan]).await;

    let search = |term: &str| ClientQuery {
        search: Some(term.into()),
        ..all()
    };
    let cases: [(&str, Vec<&Client>); 9] = [
        // A prefix of the address or the first name, trimmed, in any case.
        ("  A", vec![&ada, &alan]),
        ("alan@EXAMPLE", vec![&alan]),
        // Of the last name.
        ("LOVE", vec![&ada, &fan]),
        ("of", vec![&fan]),
        ("hopper", vec![&grace]),
        ("Edsger@example.com", vec![&edsger]),
        // A prefix, not a part.
        ("example", vec![]),
        ("zz", vec![]),
        // No search at all.
        ("   ", vec![&ada, &grace, &alan, &edsger, &fan]),
    ];
    for (term, expected) in cases {
        assert_eq!(
            ids(&list(&s, &search(term)).await),
            ids_of(&expected),
            "search {term:?}"
        );
    }
    // A search pages like any list.
    let paged = ClientQuery {
        limit: 1,
        ..search("a")
    };
    assert_eq!(walk(&s, &paged).await, ids_of(&[&ada, &alan]));
}

pub async fn list_filters_by_tier_subscription_and_opt_in(b: &dyn Backend, _: ClientSupport) {
    let s = b.fresh().await;
    let ada = client("ada@example.com", "Ada");
    let mut grace = client("grace@example.com", "Grace");
    grace.consent.unsubscribed = true;
    grace.consent.unsubscribed_at = Some(t0());
    let mut alan = client("alan@example.com", "Alan");
    alan.consent.email_opt_in = false;
    let edsger = client("edsger@example.com", "Edsger");
    let barbara = client("barbara@example.com", "Barbara");
    insert_all(&s, &[&ada, &grace, &alan, &edsger, &barbara]).await;
    store_score(&s, &ada, 90, Tier::Champion).await;
    store_score(&s, &grace, 88, Tier::Champion).await;
    store_score(&s, &alan, 12, Tier::Dormant).await;
    store_score(&s, &barbara, 85, Tier::Champion).await;

    let q = |tier, subscribed, email_opt_in| ClientQuery {
        tier,
        subscribed,
        email_opt_in,
        ..all()
    };
    let cases: [(ClientQuery, Vec<&Client>); 8] = [
        (
            q(Some(Tier::Champion), None, None),
            vec![&ada, &grace, &barbara],
        ),
        (q(Some(Tier::Dormant), None, None), vec![&alan]),
        // A tier only scored clients have.
        (q(Some(Tier::New), None, None), vec![]),
        (
            q(None, Some(true), None),
            vec![&ada, &alan, &edsger, &barbara],
        ),
        (q(None, Some(false), None), vec![&grace]),
        (q(None, None, Some(false)), vec![&alan]),
        (
            q(None, None, Some(true)),
            vec![&ada, &grace, &edsger, &barbara],
        ),
        // Filters together: all of them hold.
        (
            q(Some(Tier::Champion), Some(true), Some(true)),
            vec![&ada, &barbara],
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(ids(&list(&s, &query).await), ids_of(&expected), "{query:?}");
    }

    // A filtered list pages over the clients that pass.
    let champions = ClientQuery {
        limit: 1,
        ..q(Some(Tier::Champion), None, None)
    };
    assert_eq!(
        walk(&s, &champions).await,
        ids_of(&[&ada, &grace, &barbara])
    );

    // The filters read the stored state: a resubscribed client, a new tier.
    let mut back = next(&grace);
    back.consent.unsubscribed = false;
    back.consent.unsubscribed_at = None;
    s.clients.replace(back, 1).await.unwrap();
    store_score(&s, &ada, 60, Tier::Engaged).await;
    assert_eq!(
        ids(&list(&s, &q(Some(Tier::Champion), Some(true), None)).await),
        ids_of(&[&grace, &barbara])
    );
}

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
