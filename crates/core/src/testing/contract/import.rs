//! The `ClientImport` contract: clients found by address without case, and batches
//! whose writes each succeed or fail on their own, in batch order.

use super::fixtures::{address, client, next};
use crate::StoreError;
use crate::client::Client;
use crate::ports::ClientWrite;
use crate::testing::Backend;

/// One test per case of the `ClientImport` contract, against a backend (an
/// expression of a type that implements [`Backend`]).
#[macro_export]
macro_rules! import_contract {
    ($backend:expr $(,)?) => {
        $crate::__contract_cases!(
            import,
            (&$backend),
            [
                get_by_emails_finds_clients_by_address_without_case_in_order,
                get_by_emails_follows_an_address_change,
                a_batch_answers_for_each_write_and_a_refused_one_writes_nothing,
                a_batch_runs_in_order_so_a_write_sees_the_ones_before_it,
                an_empty_batch_writes_nothing,
            ]
        );
    };
}

fn insert(c: &Client) -> ClientWrite {
    ClientWrite::Insert(c.clone())
}

fn replace(c: &Client, expected_version: u64) -> ClientWrite {
    ClientWrite::Replace {
        client: c.clone(),
        expected_version,
    }
}

pub async fn get_by_emails_finds_clients_by_address_without_case_in_order(b: &dyn Backend) {
    let s = b.fresh().await;
    let ada = client("Ada@Example.com", "Ada");
    let grace = client("grace@example.com", "Grace");
    s.clients.insert(ada.clone()).await.unwrap();
    s.clients.insert(grace.clone()).await.unwrap();

    let found = s
        .import
        .get_by_emails(&[
            address("nobody@example.com"),
            address("ADA@EXAMPLE.COM"),
            address("Grace@example.com"),
            address("ada@example.com"),
        ])
        .await
        .unwrap();
    assert_eq!(found, vec![None, Some(ada.clone()), Some(grace), Some(ada)]);
    assert!(s.import.get_by_emails(&[]).await.unwrap().is_empty());
}

pub async fn get_by_emails_follows_an_address_change(b: &dyn Backend) {
    let s = b.fresh().await;
    let ada = client("ada@example.com", "Ada");
    s.clients.insert(ada.clone()).await.unwrap();
    let mut moved = next(&ada);
    moved.email = address("countess@example.com");
    s.clients.replace(moved.clone(), 1).await.unwrap();

    let found = s
        .import
        .get_by_emails(&[address("ada@example.com"), address("countess@example.com")])
        .await
        .unwrap();
    assert_eq!(found, vec![None, Some(moved.clone())]);
    s.clients.delete(&ada.id, None).await.unwrap();
    let found = s
        .import
        .get_by_emails(&[address("countess@example.com")])
        .await
        .unwrap();
    assert_eq!(found, vec![None]);
}

pub async fn a_batch_answers_for_each_write_and_a_refused_one_writes_nothing(b: &dyn Backend) {
    let s = b.fresh().await;
    let ada = client("ada@example.com", "Ada");
    let taken = client("taken@example.com", "Tia");
    s.clients.insert(ada.clone()).await.unwrap();
    s.clients.insert(taken.clone()).await.unwrap();

    let grace = client("grace@example.com", "Grace");
    let grace_twin = client("Grace@Example.com", "Twin");
    let dup = client("TAKEN@example.com", "Dup");
    let mut same_id = client("free@example.com", "Same id");
    same_id.id = ada.id.clone();
    let mut ada_v2 = next(&ada);
    ada_v2.first_name = "Augusta".into();
    let mut ada_late = next(&ada);
    ada_late.first_name = "Late".into();
    let mut taken_stale = next(&taken);
    taken_stale.first_name = "Stale".into();
    taken_stale.version = 8;
    let ghost = client("ghost@example.com", "Ghost");
    let edsger = client("edsger@example.com", "Edsger");

    let results = s
        .import
        .write_batch(vec![
            insert(&grace),
            replace(&ada_v2, 1),
            // Its address was taken earlier in this batch.
            insert(&grace_twin),
            // Its address was taken before the batch.
            insert(&dup),
            // Its id is taken.
            insert(&same_id),
            // The version moved on earlier in this batch: the conflict names it.
            replace(&ada_late, 1),
            replace(&taken_stale, 7),
            replace(&next(&ghost), 1),
            insert(&edsger),
        ])
        .await
        .expect("the store answers for each write");
    assert_eq!(results.len(), 9, "{results:?}");
    let refusal = |r: &Result<(), StoreError>| match r {
        Ok(()) => "ok".to_string(),
        Err(StoreError::Duplicate(_)) => "duplicate".into(),
        Err(StoreError::VersionConflict { current }) => format!("conflict at {current}"),
        Err(StoreError::NotFound) => "not found".into(),
        Err(e) => format!("{e:?}"),
    };
    assert_eq!(
        results.iter().map(refusal).collect::<Vec<_>>(),
        [
            "ok",
            "ok",
            "duplicate",
            "duplicate",
            "duplicate",
            "conflict at 2",
            "conflict at 1",
            "not found",
            "ok"
        ]
    );

    // The accepted writes are stored; the refused ones left nothing.
    let got = s
        .clients
        .get_many(&[
            grace.id.clone(),
            ada.id.clone(),
            grace_twin.id.clone(),
            dup.id.clone(),
            taken.id.clone(),
            ghost.id.clone(),
            edsger.id.clone(),
        ])
        .await
        .unwrap();
    assert_eq!(
        got,
        [
            Some(grace),
            Some(ada_v2),
            None,
            None,
            Some(taken),
            None,
            Some(edsger),
        ]
    );
    s.clients
        .insert(client("free@example.com", "Free"))
        .await
        .expect("the refused same-id insert took no address");
}

pub async fn a_batch_runs_in_order_so_a_write_sees_the_ones_before_it(b: &dyn Backend) {
    let s = b.fresh().await;
    let ada = client("ada@example.com", "Ada");
    s.clients.insert(ada.clone()).await.unwrap();

    // One client written three times; a new client inserted, then changed.
    let v2 = next(&ada);
    let mut v3 = next(&v2);
    v3.first_name = "Augusta".into();
    let mut v4 = next(&v3);
    // Ada leaves her address, and a new client takes it in the same batch.
    v4.email = address("countess@example.com");
    let heir = client("Ada@example.com", "Heir");
    let grace = client("grace@example.com", "Grace");
    let mut grace_v2 = next(&grace);
    grace_v2.last_name = Some("Hopper".into());

    let results = s
        .import
        .write_batch(vec![
            replace(&v2, 1),
            insert(&grace),
            replace(&v3, 2),
            replace(&grace_v2, 1),
            replace(&v4, 3),
            insert(&heir),
        ])
        .await
        .unwrap();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let got = s
        .clients
        .get_many(&[ada.id.clone(), grace.id.clone(), heir.id.clone()])
        .await
        .unwrap();
    assert_eq!(got, [Some(v4), Some(grace_v2), Some(heir.clone())]);
    let found = s
        .import
        .get_by_emails(&[address("ada@example.com")])
        .await
        .unwrap();
    assert_eq!(found, [Some(heir)]);
}

pub async fn an_empty_batch_writes_nothing(b: &dyn Backend) {
    let s = b.fresh().await;
    assert!(s.import.write_batch(vec![]).await.unwrap().is_empty());
    let page = s
        .clients
        .list(&crate::ports::ClientQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(page.items.is_empty());
}
