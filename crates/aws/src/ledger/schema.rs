//! The Emails and Ledger tables' creation (`engage aws init`, the tests): their
//! keys and indexes as [`crate::tables`] describes them.

use super::build_error;
use crate::tables::{Resources, keys};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, IndexStatus, KeySchemaElement, KeyType,
    Projection, ProjectionType, ScalarAttributeType, TableStatus,
};
use engage_core::StoreError;

fn key_schema(hash: &str, range: &str) -> Result<Vec<KeySchemaElement>, StoreError> {
    Ok(vec![
        KeySchemaElement::builder()
            .attribute_name(hash)
            .key_type(KeyType::Hash)
            .build()
            .map_err(build_error)?,
        KeySchemaElement::builder()
            .attribute_name(range)
            .key_type(KeyType::Range)
            .build()
            .map_err(build_error)?,
    ])
}

/// A global secondary index; `include` lists the projected attributes besides the
/// keys (`None`: all of them).
fn index(
    name: &str,
    hash: &str,
    range: &str,
    include: Option<&[&str]>,
) -> Result<GlobalSecondaryIndex, StoreError> {
    let projection = match include {
        None => Projection::builder()
            .projection_type(ProjectionType::All)
            .build(),
        Some([]) => Projection::builder()
            .projection_type(ProjectionType::KeysOnly)
            .build(),
        Some(attributes) => Projection::builder()
            .projection_type(ProjectionType::Include)
            .set_non_key_attributes(Some(attributes.iter().map(|a| a.to_string()).collect()))
            .build(),
    };
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .set_key_schema(Some(key_schema(hash, range)?))
        .projection(projection)
        .build()
        .map_err(build_error)
}

/// Creates the Emails and Ledger tables with their indexes (on demand) unless they
/// exist, and waits until both and their indexes are active. A table that exists
/// without one of the indexes is an error (the adapters need every one).
pub async fn create_ledger_tables(client: &Client, resources: &Resources) -> anyhow::Result<()> {
    let emails = [
        index(
            keys::BY_USER,
            "user_id",
            "created_key",
            Some(&["campaign", "status"]),
        )?,
        index(keys::BY_STATUS, "status", "due_at", Some(&[]))?,
        index(
            keys::BY_STATUS_CREATED,
            "status",
            "created_key",
            Some(&["campaign"]),
        )?,
        index(
            keys::BY_CREATED,
            "email_shard",
            "created_key",
            Some(&["campaign"]),
        )?,
    ];
    let ledger = [
        index(
            keys::BY_RESCORE,
            "rescore_shard",
            "next_rescore_at",
            Some(&[]),
        )?,
        index(keys::BY_SUPPRESSION, "list_shard", keys::PK, None)?,
    ];
    let tables = [
        (
            &resources.emails_table,
            &[
                keys::PK,
                keys::SK,
                "user_id",
                "created_key",
                "status",
                "due_at",
                "email_shard",
            ][..],
            &emails[..],
        ),
        (
            &resources.ledger_table,
            &[
                keys::PK,
                keys::SK,
                "rescore_shard",
                "next_rescore_at",
                "list_shard",
            ][..],
            &ledger[..],
        ),
    ];
    for (table, attributes, indexes) in tables {
        let definitions = attributes
            .iter()
            .map(|a| {
                AttributeDefinition::builder()
                    .attribute_name(*a)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let created = client
            .create_table()
            .table_name(table.as_str())
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(definitions))
            .set_key_schema(Some(key_schema(keys::PK, keys::SK)?))
            .set_global_secondary_indexes(Some(indexes.to_vec()))
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(SdkError::ServiceError(e)) if e.err().is_resource_in_use_exception() => {}
            Err(e) => {
                return Err(anyhow::anyhow!(
                    "creating table {table}: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(&e)
                ));
            }
        }
        wait_until_active(client, table, indexes).await?;
    }
    Ok(())
}

/// Polls `DescribeTable` until the table and its indexes are `ACTIVE` (5 minutes at most).
async fn wait_until_active(
    client: &Client,
    table: &str,
    indexes: &[GlobalSecondaryIndex],
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(300);
    loop {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "describing table {table}: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(&e)
                )
            })?;
        let t = described
            .table
            .ok_or_else(|| anyhow::anyhow!("table {table}: no description"))?;
        let present = t.global_secondary_indexes();
        let missing: Vec<&str> = indexes
            .iter()
            .map(GlobalSecondaryIndex::index_name)
            .filter(|name| !present.iter().any(|p| p.index_name() == Some(*name)))
            .collect();
        if !missing.is_empty() {
            anyhow::bail!(
                "table {table} exists without the index(es) {}: it was created by another version of engage",
                missing.join(", ")
            );
        }
        let active = t.table_status() == Some(&TableStatus::Active)
            && present
                .iter()
                .all(|p| p.index_status().is_none_or(|s| *s == IndexStatus::Active));
        if active {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("table {table} is not active after 5 minutes");
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}
