//! The DynamoDB client store against the AWS emulator (moto's server on 127.0.0.1,
//! real HTTP): the SQLite store's answers — `Duplicate`, `VersionConflict { current }`,
//! `NotFound` — from transactions over the user items and their address guards.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use engage_aws::DynamoClients;
use engage_aws::tables::Resources;
use engage_aws::testing::Moto;
use engage_core::StoreError;
use engage_core::client::{Client, EmailAddress, NewClient};
use engage_core::ids::UserId;
use engage_core::ports::{ClientImport, ClientQuery, ClientStore, ClientWrite, SuppressionStore};
use engage_core::score::Tier;

struct Env {
    _moto: Moto,
    ddb: aws_sdk_dynamodb::Client,
    store: DynamoClients,
    resources: Resources,
}

async fn env() -> Env {
    let moto = Moto::start().await;
    let config = moto.sdk_config();
    let resources = Resources::with_prefix("test");
    engage_aws::init(&config, &resources)
        .await
        .expect("init creates the resources");
    let ddb = aws_sdk_dynamodb::Client::new(&config);
    let store = DynamoClients::for_resources(ddb.clone(), &resources);
    Env {
        _moto: moto,
        ddb,
        store,
        resources,
    }
}

fn client(email: &str, first: &str, last: Option<&str>) -> Client {
    NewClient {
        email: email.into(),
        first_name: first.into(),
        last_name: last.map(str::to_string),
        time_zone: "Europe/Paris".into(),
        email_opt_in: true,
        profile: None,
    }
    .into_client(UserId::generate(), Utc::now())
    .unwrap()
}

/// The next version of `c`, as the service writes it.
fn next(mut c: Client) -> Client {
    c.version += 1;
    c.updated_at = Utc::now();
    c
}

impl Env {
    async fn guard(&self, address: &str) -> Option<String> {
        let item = self
            .ddb
            .get_item()
            .table_name(&self.resources.users_table)
            .key("pk", AttributeValue::S(format!("email#{address}")))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item?;
        Some(item.get("user_id")?.as_s().ok()?.clone())
    }

    async fn put_score(&self, id: &UserId, score: u8, tier: Tier) {
        self.ddb
            .put_item()
            .table_name(&self.resources.ledger_table)
            .item("pk", AttributeValue::S(format!("user#{id}")))
            .item("sk", AttributeValue::S("score".into()))
            .item("score", AttributeValue::N(score.to_string()))
            .item("tier", AttributeValue::S(tier.as_str().into()))
            .item("ledger_seq", AttributeValue::N("1".into()))
            .send()
            .await
            .unwrap();
    }

    async fn score_exists(&self, id: &UserId) -> bool {
        self.ddb
            .get_item()
            .table_name(&self.resources.ledger_table)
            .key("pk", AttributeValue::S(format!("user#{id}")))
            .key("sk", AttributeValue::S("score".into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .is_some()
    }
}

#[tokio::test]
async fn an_inserted_client_reads_back_with_its_score() {
    let env = env().await;
    let ada = client("Ada@Example.com", "Ada", Some("Lovelace"));
    env.store.insert(ada.clone()).await.unwrap();

    assert_eq!(env.store.get(&ada.id).await.unwrap(), Some(ada.clone()));
    assert_eq!(
        env.guard("ada@example.com").await.as_deref(),
        Some(ada.id.as_str())
    );
    let missing = UserId::from_string("usr_missing");
    assert_eq!(env.store.get(&missing).await.unwrap(), None);

    let plain = env.store.get_with_score(&ada.id).await.unwrap().unwrap();
    assert_eq!(
        (plain.client, plain.score, plain.tier),
        (ada.clone(), None, None)
    );
    env.put_score(&ada.id, 83, Tier::Champion).await;
    let scored = env.store.get_with_score(&ada.id).await.unwrap().unwrap();
    assert_eq!(
        (scored.score, scored.tier),
        (Some(83), Some(Tier::Champion))
    );
    assert!(env.store.get_with_score(&missing).await.unwrap().is_none());

    let many = env
        .store
        .get_many(&[missing.clone(), ada.id.clone(), ada.id.clone()])
        .await
        .unwrap();
    assert_eq!(many, vec![None, Some(ada.clone()), Some(ada)]);
}

#[tokio::test]
async fn a_taken_address_is_a_duplicate_and_writes_nothing() {
    let env = env().await;
    let ada = client("ada@example.com", "Ada", None);
    env.store.insert(ada.clone()).await.unwrap();

    // The same address in another case is the same address.
    let twin = client("ADA@example.COM", "Other", None);
    let e = env.store.insert(twin.clone()).await.unwrap_err();
    assert!(matches!(e, StoreError::Duplicate(_)), "{e:?}");
    assert_eq!(
        env.store.get(&twin.id).await.unwrap(),
        None,
        "nothing written"
    );

    // The same id with a free address is refused too, as SQLite's primary key does.
    let mut same_id = client("grace@example.com", "Grace", None);
    same_id.id = ada.id.clone();
    let e = env.store.insert(same_id).await.unwrap_err();
    assert!(matches!(e, StoreError::Duplicate(_)), "{e:?}");
    assert_eq!(
        env.guard("grace@example.com").await,
        None,
        "no guard left behind"
    );
    assert_eq!(env.store.get(&ada.id).await.unwrap(), Some(ada));
}

#[tokio::test]
async fn a_stale_version_is_a_conflict_naming_the_current_one() {
    let env = env().await;
    let ada = client("ada@example.com", "Ada", None);
    env.store.insert(ada.clone()).await.unwrap();

    let mut v2 = next(ada.clone());
    v2.first_name = "Augusta".into();
    env.store.replace(v2.clone(), 1).await.unwrap();
    assert_eq!(env.store.get(&ada.id).await.unwrap(), Some(v2.clone()));

    let mut stale = next(ada.clone());
    stale.first_name = "Stale".into();
    let e = env.store.replace(stale, 1).await.unwrap_err();
    assert!(
        matches!(e, StoreError::VersionConflict { current: 2 }),
        "{e:?}"
    );
    assert_eq!(env.store.get(&ada.id).await.unwrap(), Some(v2.clone()));

    let ghost = client("ghost@example.com", "Ghost", None);
    let e = env.store.replace(next(ghost), 1).await.unwrap_err();
    assert!(matches!(e, StoreError::NotFound), "{e:?}");
    assert_eq!(env.guard("ghost@example.com").await, None);
}

#[tokio::test]
async fn of_concurrent_replaces_at_one_version_exactly_one_wins() {
    let env = env().await;
    let ada = client("ada@example.com", "Ada", None);
    env.store.insert(ada.clone()).await.unwrap();

    let attempts = (0..6).map(|i| {
        let mut c = next(ada.clone());
        c.first_name = format!("Writer {i}");
        let store = env.store.clone();
        tokio::spawn(async move { store.replace(c, 1).await })
    });
    let results: Vec<_> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(won, 1, "{results:?}");
    for r in results.iter().filter(|r| r.is_err()) {
        assert!(
            matches!(r, Err(StoreError::VersionConflict { current: 2 })),
            "{r:?}"
        );
    }
    assert_eq!(env.store.get(&ada.id).await.unwrap().unwrap().version, 2);
}

#[tokio::test]
async fn changing_the_address_frees_the_old_one() {
    let env = env().await;
    let ada = client("ada@example.com", "Ada", None);
    let grace = client("grace@example.com", "Grace", None);
    env.store.insert(ada.clone()).await.unwrap();
    env.store.insert(grace.clone()).await.unwrap();

    // Moving onto a taken address is a duplicate, and changes nothing.
    let mut onto_grace = next(ada.clone());
    onto_grace.email = EmailAddress::parse("Grace@example.com").unwrap();
    let e = env.store.replace(onto_grace, 1).await.unwrap_err();
    assert!(matches!(e, StoreError::Duplicate(_)), "{e:?}");
    assert_eq!(env.store.get(&ada.id).await.unwrap(), Some(ada.clone()));
    assert_eq!(
        env.guard("ada@example.com").await.as_deref(),
        Some(ada.id.as_str())
    );

    // A change of case only keeps the guard.
    let mut upper = next(ada.clone());
    upper.email = EmailAddress::parse("ADA@example.com").unwrap();
    env.store.replace(upper.clone(), 1).await.unwrap();
    assert_eq!(
        env.guard("ada@example.com").await.as_deref(),
        Some(ada.id.as_str())
    );

    let mut moved = next(upper);
    moved.email = EmailAddress::parse("countess@example.com").unwrap();
    env.store.replace(moved.clone(), 2).await.unwrap();
    assert_eq!(env.guard("ada@example.com").await, None);
    assert_eq!(
        env.guard("countess@example.com").await.as_deref(),
        Some(ada.id.as_str())
    );

    // The old address is free for another client; the new one is not.
    env.store
        .insert(client("ada@example.com", "New Ada", None))
        .await
        .unwrap();
    let e = env
        .store
        .insert(client("countess@example.com", "Impostor", None))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Duplicate(_)), "{e:?}");
}

#[tokio::test]
async fn delete_checks_the_version_and_removes_guard_and_score() {
    let env = env().await;
    let ada = client("ada@example.com", "Ada", None);
    env.store.insert(ada.clone()).await.unwrap();
    env.put_score(&ada.id, 40, Tier::AtRisk).await;

    let e = env.store.delete(&ada.id, Some(7)).await.unwrap_err();
    assert!(
        matches!(e, StoreError::VersionConflict { current: 1 }),
        "{e:?}"
    );
    assert!(env.store.get(&ada.id).await.unwrap().is_some());

    let deleted = env.store.delete(&ada.id, Some(1)).await.unwrap();
    assert_eq!(deleted, ada);
    assert_eq!(env.store.get(&ada.id).await.unwrap(), None);
    assert_eq!(env.guard("ada@example.com").await, None);
    assert!(
        !env.score_exists(&ada.id).await,
        "the score goes with the client"
    );
    let e = env.store.delete(&ada.id, None).await.unwrap_err();
    assert!(matches!(e, StoreError::NotFound), "{e:?}");

    // Without a version, delete takes whatever is stored.
    let grace = client("grace@example.com", "Grace", None);
    env.store.insert(grace.clone()).await.unwrap();
    let v2 = next(grace.clone());
    env.store.replace(v2.clone(), 1).await.unwrap();
    assert_eq!(env.store.delete(&grace.id, None).await.unwrap(), v2);
    // The address is free again.
    env.store
        .insert(client("ada@example.com", "Ada again", None))
        .await
        .unwrap();
}

#[tokio::test]
async fn list_filters_by_prefix_and_tier_and_pages_by_id() {
    let env = env().await;
    let people = [
        ("ada@example.com", "Ada", Some("Lovelace")),
        ("grace@example.com", "Grace", Some("Hopper")),
        ("alan@example.org", "Alan", Some("Turing")),
        ("edsger@example.com", "Edsger", None),
        ("lovelace.fan@example.net", "Fan", Some("Of Ada")),
    ];
    let mut ids = Vec::new();
    for (email, first, last) in people {
        let c = client(email, first, last);
        ids.push(c.id.clone());
        env.store.insert(c).await.unwrap();
    }
    env.put_score(&ids[0], 90, Tier::Champion).await;
    env.put_score(&ids[2], 88, Tier::Champion).await;
    env.put_score(&ids[3], 10, Tier::Dormant).await;

    let list = |search: Option<&str>, tier: Option<Tier>, cursor: Option<String>, limit| {
        let q = ClientQuery {
            search: search.map(str::to_string),
            tier,
            cursor,
            limit,
            ..ClientQuery::default()
        };
        let store = env.store.clone();
        async move { store.list(&q).await }
    };
    let emails = |page: &engage_core::ports::Page<engage_core::ports::ClientWithScore>| {
        page.items
            .iter()
            .map(|c| c.client.email.as_str().to_string())
            .collect::<Vec<_>>()
    };

    // Everything, in id (creation) order, with scores where stored.
    let all = list(None, None, None, 50).await.unwrap();
    assert_eq!(
        all.items
            .iter()
            .map(|c| c.client.id.clone())
            .collect::<Vec<_>>(),
        ids
    );
    assert_eq!(all.next_cursor, None);
    assert_eq!(all.items[0].score, Some(90));
    assert_eq!(all.items[1].score, None);

    // A case-insensitive prefix of the address, the first or the last name.
    let a = list(Some("  A"), None, None, 50).await.unwrap();
    assert_eq!(emails(&a), ["ada@example.com", "alan@example.org"]);
    let love = list(Some("LOVE"), None, None, 50).await.unwrap();
    assert_eq!(
        emails(&love),
        ["ada@example.com", "lovelace.fan@example.net"]
    );
    let of = list(Some("of"), None, None, 50).await.unwrap();
    assert_eq!(emails(&of), ["lovelace.fan@example.net"]);
    assert!(
        list(Some("zz"), None, None, 50)
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // A tier: only clients with that stored tier.
    let champions = list(None, Some(Tier::Champion), None, 50).await.unwrap();
    assert_eq!(emails(&champions), ["ada@example.com", "alan@example.org"]);
    let champion_a = list(Some("al"), Some(Tier::Champion), None, 50)
        .await
        .unwrap();
    assert_eq!(emails(&champion_a), ["alan@example.org"]);

    // Pages of two, the cursor after the last id of each.
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = list(None, None, cursor.take(), 2).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|c| c.client.id.clone()));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    assert_eq!(pages, 3);
    // A tier filter pages too.
    let first = list(None, Some(Tier::Champion), None, 1).await.unwrap();
    assert_eq!(emails(&first), ["ada@example.com"]);
    let second = list(None, Some(Tier::Champion), first.next_cursor, 1)
        .await
        .unwrap();
    assert_eq!(emails(&second), ["alan@example.org"]);
    assert_eq!(second.next_cursor, None);

    let e = list(None, None, Some("not a cursor!".into()), 2)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::InvalidCursor), "{e:?}");
}

#[tokio::test]
async fn list_filters_by_consent_marks_suppressed_clients_and_refuses_sorts() {
    let env = env().await;
    let ada = client("ada@example.com", "Ada", None);
    let mut grace = client("grace@example.com", "Grace", None);
    grace.consent.unsubscribed = true;
    grace.consent.email_opt_in = false;
    env.store.insert(ada.clone()).await.unwrap();
    env.store.insert(grace.clone()).await.unwrap();
    let suppressions = engage_aws::DynamoSuppressions::new(env.ddb.clone(), &env.resources);
    suppressions
        .add(&grace.email, "bounce", chrono::Utc::now())
        .await
        .unwrap();

    let list = |q: ClientQuery| {
        let store = env.store.clone();
        async move { store.list(&ClientQuery { limit: 50, ..q }).await }
    };
    let emails = |page: &engage_core::ports::Page<engage_core::ports::ClientWithScore>| {
        page.items
            .iter()
            .map(|c| (c.client.email.as_str().to_string(), c.suppressed))
            .collect::<Vec<_>>()
    };
    let subscribed = list(ClientQuery {
        subscribed: Some(true),
        ..ClientQuery::default()
    })
    .await
    .unwrap();
    assert_eq!(
        emails(&subscribed),
        [("ada@example.com".to_string(), false)]
    );
    let not_opted_in = list(ClientQuery {
        email_opt_in: Some(false),
        ..ClientQuery::default()
    })
    .await
    .unwrap();
    assert_eq!(
        emails(&not_opted_in),
        [("grace@example.com".to_string(), true)]
    );
    let got = env.store.get_with_score(&grace.id).await.unwrap().unwrap();
    assert!(got.suppressed);

    let sorted = list(ClientQuery {
        sort: engage_core::ports::ClientSort::ScoreDesc,
        ..ClientQuery::default()
    })
    .await
    .unwrap_err();
    assert!(matches!(sorted, StoreError::Unsupported(_)), "{sorted:?}");
    let changes = env.store.changes(&ada.id, None, 10).await.unwrap_err();
    assert!(matches!(changes, StoreError::Unsupported(_)), "{changes:?}");
    let stats = env.store.stats().await.unwrap_err();
    assert!(matches!(stats, StoreError::Unsupported(_)), "{stats:?}");
}

#[tokio::test]
async fn import_reads_by_address_and_writes_each_row_on_its_own() {
    let env = env().await;
    let ada = client("ada@example.com", "Ada", None);
    env.store.insert(ada.clone()).await.unwrap();

    let found = env
        .store
        .get_by_emails(&[
            EmailAddress::parse("nobody@example.com").unwrap(),
            EmailAddress::parse("ADA@example.com").unwrap(),
        ])
        .await
        .unwrap();
    assert_eq!(found, vec![None, Some(ada.clone())]);

    let grace = client("grace@example.com", "Grace", None);
    let grace_twin = client("Grace@example.com", "Twin", None);
    let mut ada_v2 = next(ada.clone());
    ada_v2.first_name = "Augusta".into();
    let results = env
        .store
        .write_batch(vec![
            ClientWrite::Insert(grace.clone()),
            ClientWrite::Replace {
                client: ada_v2.clone(),
                expected_version: 1,
            },
            ClientWrite::Insert(grace_twin.clone()),
            ClientWrite::Replace {
                client: next(ada.clone()),
                expected_version: 1,
            },
        ])
        .await
        .unwrap();
    assert!(results[0].is_ok() && results[1].is_ok(), "{results:?}");
    assert!(
        matches!(results[2], Err(StoreError::Duplicate(_))),
        "{results:?}"
    );
    assert!(
        matches!(results[3], Err(StoreError::VersionConflict { current: 2 })),
        "{results:?}"
    );
    assert_eq!(env.store.get(&grace.id).await.unwrap(), Some(grace));
    assert_eq!(env.store.get(&grace_twin.id).await.unwrap(), None);
    assert_eq!(env.store.get(&ada.id).await.unwrap(), Some(ada_v2));
}
