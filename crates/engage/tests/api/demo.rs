//! Demo data through the real pipeline: synthetic clients are ordinary inserts, and
//! the email processor decides on each as on any client.

use crate::helpers::*;
use engage_core::clock::Clock as _;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The lines of an NDJSON export.
async fn export(app: &TestApp, path: &str) -> Vec<Value> {
    let r = app.get(path).await;
    assert_eq!(r.status(), 200, "GET {path}");
    r.text()
        .await
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn demo_clients_flow_through_the_pipeline_into_varied_decisions_and_emails() {
    let app = spawn_app().await;
    let mut seen = 0;
    let report = engage::demo::load(&app.store, 300, 42, app.clock.now(), 100, |n| seen = n)
        .await
        .unwrap();
    assert_eq!((report.created, seen), (300, 300));
    app.settle().await;

    let clients = export(&app, "/api/v1/users/export").await;
    assert_eq!(clients.len(), 300);
    let tiers: BTreeSet<&str> = clients
        .iter()
        .map(|c| c["tier"].as_str().expect("every client was scored"))
        .collect();
    assert!(tiers.len() >= 4, "{tiers:?}");

    let mut outcomes: BTreeMap<String, u32> = BTreeMap::new();
    for c in &clients {
        for d in app.decisions(c["id"].as_str().unwrap()).await {
            let key = match d["reason"].as_str() {
                Some(reason) => format!("skip:{reason}"),
                None => d["outcome"].as_str().unwrap().to_string(),
            };
            *outcomes.entry(key).or_default() += 1;
        }
    }
    for expected in ["send", "schedule", "skip:not_opted_in"] {
        assert!(outcomes.contains_key(expected), "{expected}: {outcomes:?}");
    }

    let emails = export(&app, "/api/v1/emails/export").await;
    let campaigns: BTreeSet<&str> = emails
        .iter()
        .map(|e| e["campaign"].as_str().unwrap())
        .collect();
    assert!(campaigns.len() >= 3, "{campaigns:?}");
    assert!(!app.outbox_files().is_empty());
}
