//! What only the DynamoDB ledger has, against the AWS emulator (moto's server on
//! 127.0.0.1, real HTTP): `create_ledger_tables` (idempotent, refusing a table
//! without its indexes), the items of the key design that the CDK stack, the client
//! store and the stream reader rely on ([`engage_aws::tables`]), and the shared LLM
//! spending tally. What every ledger must answer is the contract suite
//! (`contract_ledger.rs`), run here and on SQLite.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use chrono::{DateTime, Duration, Utc};
use engage_aws::tables::Resources;
use engage_aws::testing::Moto;
use engage_aws::{DynamoLedger, create_ledger_tables};
use engage_core::change::EventType;
use engage_core::email::{Decision, DecisionOutcome, Email, EmailStatus, StatusChange};
use engage_core::ids::{DecisionId, EmailId, EventId, UserId};
use engage_core::ports::{DecisionCommit, Ledger};
use engage_core::score::{Drivers, ScoreBreakdown, Tier};
use engage_core::testing::t0;
use std::collections::HashMap;

type Item = HashMap<String, AttributeValue>;

struct Env {
    _moto: Moto,
    ddb: aws_sdk_dynamodb::Client,
    resources: Resources,
    ledger: DynamoLedger,
}

/// A fresh emulator with the Emails and Ledger tables, made by the adapter's own
/// `create_ledger_tables`.
async fn env() -> Env {
    let moto = Moto::start().await;
    let ddb = aws_sdk_dynamodb::Client::new(&moto.sdk_config());
    let resources = Resources::with_prefix("test");
    create_ledger_tables(&ddb, &resources)
        .await
        .expect("the tables are created");
    Env {
        ledger: DynamoLedger::new(ddb.clone(), &resources),
        _moto: moto,
        ddb,
        resources,
    }
}

impl Env {
    async fn item(&self, table: &str, pk: &str, sk: &str) -> Item {
        self.ddb
            .get_item()
            .table_name(table)
            .key("pk", AttributeValue::S(pk.into()))
            .key("sk", AttributeValue::S(sk.into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .unwrap_or_else(|| panic!("an item {pk} / {sk} in {table}"))
    }

    /// The names of a table's global secondary indexes, sorted.
    async fn indexes(&self, table: &str) -> Vec<String> {
        let t = self
            .ddb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .unwrap()
            .table
            .unwrap();
        let mut names: Vec<String> = t
            .global_secondary_indexes()
            .iter()
            .filter_map(|i| i.index_name().map(str::to_string))
            .collect();
        names.sort();
        names
    }
}

fn text(item: &Item, name: &str) -> String {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .unwrap_or_else(|| panic!("a string `{name}` in {item:?}"))
        .clone()
}

fn number(item: &Item, name: &str) -> String {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .unwrap_or_else(|| panic!("a number `{name}` in {item:?}"))
        .clone()
}

/// An email of the welcome campaign that `event` triggered, created at `at`.
fn email(user: &UserId, event: &str, at: DateTime<Utc>) -> Email {
    let event = EventId::from_string(event);
    Email {
        id: EmailId::from_string(format!("eml_{event}")),
        user_id: user.clone(),
        campaign: "welcome".into(),
        status: EmailStatus::Pending,
        subject: "Welcome".into(),
        preheader: "Picked for you".into(),
        body_text: "Hi".into(),
        body_html: "<p>Hi</p>".into(),
        generator: "template".into(),
        generation: None,
        fallback_reason: None,
        decision_id: DecisionId::for_event(&event),
        trigger_event_id: event,
        created_at: at,
        scheduled_for: None,
        sent_at: None,
        message_id: None,
        status_history: vec![StatusChange {
            status: EmailStatus::Pending,
            at,
            note: None,
        }],
    }
}

/// The decision on `e`'s trigger event that sent it, with a score of 50, on client
/// version `version` having read `seq`.
fn commit(e: &Email, version: u64, seq: u64) -> DecisionCommit {
    let at = e.created_at;
    DecisionCommit {
        event_id: e.trigger_event_id.clone(),
        decision: Some(Decision {
            id: e.decision_id.clone(),
            user_id: e.user_id.clone(),
            event_id: e.trigger_event_id.clone(),
            event_type: EventType::ClientCreated,
            user_version: version,
            at,
            outcome: DecisionOutcome::Send,
            campaign: Some(e.campaign.clone()),
            reason: None,
            explanation: "sent welcome".into(),
            score: Some(50),
            tier: Some(Tier::Engaged),
            email_id: Some(e.id.clone()),
            scheduled_for: None,
        }),
        email: Some(e.clone()),
        score: Some(ScoreBreakdown {
            score: 50,
            tier: Tier::Engaged,
            components: vec![],
            drivers: Drivers::default(),
            computed_at: at,
        }),
        user_id: e.user_id.clone(),
        processed_version: version,
        next_rescore_at: at + Duration::days(1),
        expected_ledger_seq: seq,
    }
}

#[tokio::test]
async fn creating_the_ledger_tables_again_is_a_no_op() {
    let env = env().await;
    create_ledger_tables(&env.ddb, &env.resources)
        .await
        .expect("creating them again is a no-op");
    assert_eq!(
        env.indexes(&env.resources.emails_table).await,
        ["byCreated", "byStatus", "byStatusCreated", "byUser"]
    );
    assert_eq!(
        env.indexes(&env.resources.ledger_table).await,
        ["byRescore", "bySuppression"]
    );
}

#[tokio::test]
async fn a_table_made_without_the_indexes_is_refused() {
    let moto = Moto::start().await;
    let ddb = aws_sdk_dynamodb::Client::new(&moto.sdk_config());
    let resources = Resources::with_prefix("old");
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .unwrap()
    };
    ddb.create_table()
        .table_name(&resources.emails_table)
        .attribute_definitions(attribute("pk"))
        .attribute_definitions(attribute("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    let err = create_ledger_tables(&ddb, &resources)
        .await
        .expect_err("an Emails table without its indexes");
    let message = err.to_string();
    assert!(
        message.contains("byUser") && message.contains("another version of engage"),
        "{message}"
    );
}

#[tokio::test]
async fn a_commit_writes_the_items_of_the_key_design() {
    let env = env().await;
    let u = UserId::from_string("usr_0001");
    let first = email(&u, "evt_1", t0() - Duration::days(120));
    let second = email(&u, "evt_2", t0());
    env.ledger.commit(commit(&first, 1, 0)).await.unwrap();
    env.ledger.commit(commit(&second, 2, 1)).await.unwrap();
    let (emails, ledger) = (
        env.resources.emails_table.as_str(),
        env.resources.ledger_table.as_str(),
    );
    let at = "2026-03-02T12:00:00.000000Z";

    let e = env.item(emails, "eml_evt_2", "email").await;
    for (name, value) in [
        ("user_id", "usr_0001"),
        ("campaign", "welcome"),
        ("status", "pending"),
        ("created_at", at),
        ("created_key", &format!("{at}#eml_evt_2")),
        ("email_shard", "emails"),
        ("due_at", at),
    ] {
        assert_eq!(text(&e, name), value, "the email's `{name}`");
    }

    let claim = env.item(ledger, "event#evt_2", "claim").await;
    assert_eq!(text(&claim, "decision_id"), "dec_2");
    assert_eq!(text(&claim, "email_id"), "eml_evt_2");
    env.item(ledger, "user#usr_0001", &format!("decision#{at}#dec_2"))
        .await;

    let score = env.item(ledger, "user#usr_0001", "score").await;
    assert_eq!(number(&score, "ledger_seq"), "2");
    assert_eq!(number(&score, "last_processed_version"), "2");
    assert_eq!(number(&score, "score"), "50");
    assert_eq!(text(&score, "tier"), "engaged");
    assert_eq!(text(&score, "rescore_shard"), "rescore");
    assert_eq!(
        text(&score, "next_rescore_at"),
        "2026-03-03T12:00:00.000000Z"
    );
    let recent = score
        .get("recent_emails")
        .and_then(|v| v.as_m().ok())
        .expect("the recent emails");
    assert_eq!(
        recent.keys().collect::<Vec<_>>(),
        ["eml_evt_2"],
        "an email more than 100 days older than the newest is forgotten"
    );

    // A status move rewrites the status and the due time, not the creation keys.
    assert!(
        env.ledger
            .transition(
                &second.id,
                EmailStatus::Pending,
                StatusChange {
                    status: EmailStatus::Sending,
                    at: t0() + Duration::seconds(1),
                    note: None,
                },
                None,
            )
            .await
            .unwrap()
    );
    let e = env.item(emails, "eml_evt_2", "email").await;
    assert_eq!(text(&e, "status"), "sending");
    assert_eq!(text(&e, "due_at"), "2026-03-02T12:00:01.000000Z");
    assert_eq!(text(&e, "created_key"), format!("{at}#eml_evt_2"));
}

#[tokio::test]
async fn the_llm_spending_is_one_tally_for_every_writer() {
    use engage_aws::DynamoSpendTally;
    use engage_core::ports::SpendTally;
    let env = env().await;
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
    // Two writers (two Lambda environments) on the same table.
    let a = DynamoSpendTally::new(env.ddb.clone(), &env.resources.ledger_table);
    let b = DynamoSpendTally::new(env.ddb.clone(), &env.resources.ledger_table);
    assert_eq!(
        a.add(day, 0, 0.0).await.unwrap(),
        (0, 0.0),
        "nothing spent yet"
    );
    assert_eq!(
        a.add(day, 1_200, 0.000_75).await.unwrap(),
        (1_200, 0.000_75)
    );
    assert_eq!(b.add(day, 800, 0.000_5).await.unwrap(), (2_000, 0.001_25));
    assert_eq!(
        a.add(day, 0, 0.0).await.unwrap(),
        (2_000, 0.001_25),
        "a sees b's"
    );
    // Concurrent adds are all counted.
    let adds = (0..10).map(|_| a.add(day, 10, 0.0));
    futures_util::future::join_all(adds).await;
    assert_eq!(b.add(day, 0, 0.0).await.unwrap().0, 2_100);
    // Another day starts at nothing.
    let next = day.succ_opt().unwrap();
    assert_eq!(b.add(next, 0, 0.0).await.unwrap(), (0, 0.0));
}
