//! What only the DynamoDB client store has, against the AWS emulator (moto's server
//! on 127.0.0.1, real HTTP): the `email#<address>` guard items that keep addresses
//! unique, written and deleted in the same transactions as their clients. What every
//! client store must do is the port's contract (`contract_clients.rs`).

use aws_sdk_dynamodb::types::AttributeValue;
use engage_aws::DynamoClients;
use engage_aws::tables::Resources;
use engage_aws::testing::Moto;
use engage_core::ports::ClientStore;
use engage_core::testing::contract::fixtures::{address, client, next};

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

impl Env {
    /// The id of the client the address's guard item names, if there is one.
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
}

#[tokio::test]
async fn an_address_guard_follows_its_client_and_a_refused_write_leaves_none() {
    let env = env().await;
    let ada = client("Ada@Example.com", "Ada");
    let grace = client("grace@example.com", "Grace");
    env.store.insert(ada.clone()).await.unwrap();
    env.store.insert(grace.clone()).await.unwrap();
    let ada_id = Some(ada.id.to_string());
    assert_eq!(
        env.guard("ada@example.com").await,
        ada_id,
        "by the lower-cased address"
    );

    // Refused: an insert with a taken id, a replace of a missing client, a move
    // onto a taken address. None leaves a guard behind or moves one.
    let mut same_id = client("free@example.com", "Free");
    same_id.id = ada.id.clone();
    env.store.insert(same_id).await.unwrap_err();
    env.store
        .replace(next(&client("ghost@example.com", "Ghost")), 1)
        .await
        .unwrap_err();
    let mut onto_grace = next(&ada);
    onto_grace.email = address("grace@example.com");
    env.store.replace(onto_grace, 1).await.unwrap_err();
    assert_eq!(env.guard("free@example.com").await, None);
    assert_eq!(env.guard("ghost@example.com").await, None);
    assert_eq!(env.guard("ada@example.com").await, ada_id);
    assert_eq!(
        env.guard("grace@example.com").await,
        Some(grace.id.to_string())
    );

    // A change of case keeps the guard; a move deletes it and puts the new one.
    let mut upper = next(&ada);
    upper.email = address("ADA@example.com");
    env.store.replace(upper.clone(), 1).await.unwrap();
    assert_eq!(env.guard("ada@example.com").await, ada_id);
    let mut moved = next(&upper);
    moved.email = address("countess@example.com");
    env.store.replace(moved, 2).await.unwrap();
    assert_eq!(env.guard("ada@example.com").await, None);
    assert_eq!(env.guard("countess@example.com").await, ada_id);

    env.store.delete(&ada.id, None).await.unwrap();
    assert_eq!(
        env.guard("countess@example.com").await,
        None,
        "deleted with it"
    );
}
