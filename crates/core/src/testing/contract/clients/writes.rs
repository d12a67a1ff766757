//! Writes: an insert reads back, a taken address or id is a `Duplicate`, a replace
//! or delete at another version is a `VersionConflict` naming the stored one, and a
//! missing client is `NotFound`. A refused write changes nothing.

use super::ClientSupport;
use super::support::*;
use crate::StoreError;
use crate::ids::UserId;
use crate::score::Tier;
use crate::testing::contract::fixtures::{address, client, next, store_score};
use crate::testing::{Backend, t0};

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
