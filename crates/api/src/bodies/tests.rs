//! The bodies as the routes read them: parsed by [`parse_json`], refused as the API
//! refuses them, checked into domain values, and named in the OpenAPI document.

use super::clients::StyleProfileBody;
use super::*;
use crate::ApiError;
use crate::extract::parse_json;
use chrono::Utc;
use engage_core::client::{Activity, Client};
use engage_core::ids::UserId;
use utoipa::PartialSchema;

fn refused_field<T: serde::de::DeserializeOwned + std::fmt::Debug>(json: &str) -> String {
    match parse_json::<T>(json.as_bytes()) {
        Err(ApiError::Validation { field, .. }) => field.unwrap_or_default(),
        other => panic!("{json}: {other:?}"),
    }
}

fn ada() -> NewClientBody {
    parse_json(
        br#"{"email":" ada@example.com ","first_name":" Ada ","last_name":"Lovelace",
            "time_zone":"Europe/Paris","email_opt_in":true,
            "profile":{"preferences":[" boho "],"top_size":" M "}}"#,
    )
    .unwrap()
}

fn created(body: NewClientBody) -> Client {
    body.try_into_domain()
        .unwrap()
        .into_client(UserId::from_string("usr_1"), Utc::now())
}

#[test]
fn bodies_with_a_field_they_do_not_know_are_refused_naming_it() {
    let new = r#"{"email":"a@example.com","first_name":"A","time_zone":"UTC",
        "email_opt_in":true,"nickname":"x"}"#;
    assert_eq!(refused_field::<NewClientBody>(new), "nickname");
    assert_eq!(
        refused_field::<ClientPatchBody>(r#"{"nickname":"x"}"#),
        "nickname"
    );
    assert!(matches!(
        parse_json::<ActivityBody>(br#"{"type":"login","where":"app"}"#),
        Err(ApiError::Validation { .. })
    ));
    assert!(matches!(
        parse_json::<ActivityBody>(br#"{"type":"dance"}"#),
        Err(ApiError::Validation { .. })
    ));
    // Serde's messages name the type as they always did.
    let detail = |json: &str| match parse_json::<NewClientBody>(json.as_bytes()) {
        Err(ApiError::Validation { detail, .. }) => detail,
        other => panic!("{json}: {other:?}"),
    };
    assert!(detail("3").contains("expected struct NewClient"));
    let tall = r#"{"email":"a@example.com","first_name":"A","time_zone":"UTC",
        "email_opt_in":true,"profile":"tall"}"#;
    assert!(detail(tall).contains("expected struct StyleProfile"));
    assert_eq!(refused_field::<NewClientBody>(tall), "profile");
    match parse_json::<ActivityBody>(b"3") {
        Err(ApiError::Validation { detail, .. }) => {
            assert!(
                detail.contains("expected internally tagged enum Activity"),
                "{detail}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_new_clients_fields_arrive_checked_in_the_domain_value() {
    let c = created(ada());
    assert_eq!(c.email.as_str(), "ada@example.com");
    assert_eq!(c.first_name, "Ada");
    assert_eq!(c.last_name.as_deref(), Some("Lovelace"));
    assert_eq!(c.time_zone.name(), "Europe/Paris");
    assert!(c.consent.email_opt_in && !c.consent.unsubscribed);
    assert_eq!(c.profile.preferences, ["boho"]);
    assert_eq!(c.profile.top_size.as_deref(), Some("M"));
    assert_eq!(c.version, 1);

    let refused = |edit: fn(&mut NewClientBody)| {
        let mut body = ada();
        edit(&mut body);
        body.try_into_domain().unwrap_err().field
    };
    assert_eq!(
        refused(|b| b.email = "Ada <ada@example.com>".into()),
        "email"
    );
    assert_eq!(refused(|b| b.first_name = "  ".into()), "first_name");
    assert_eq!(
        refused(|b| b.last_name = Some("Love\nlace".into())),
        "last_name"
    );
    assert_eq!(
        refused(|b| b.time_zone = "Mars/Olympus".into()),
        "time_zone"
    );
    assert_eq!(
        refused(|b| b.profile.as_mut().unwrap().shoe_size = Some("3\t9".into())),
        "profile.shoe_size"
    );
}

#[test]
fn a_patch_clears_the_last_name_when_null_and_leaves_it_when_absent() {
    let now = Utc::now();
    let patch = |json: &str| {
        parse_json::<ClientPatchBody>(json.as_bytes())
            .unwrap()
            .try_into_domain()
            .unwrap()
    };
    let absent = patch(r#"{"version":1,"first_name":" Augusta "}"#);
    assert_eq!(absent.version(), Some(1));
    let kept = absent.apply(created(ada()), now);
    assert_eq!(kept.first_name, "Augusta");
    assert_eq!(kept.last_name.as_deref(), Some("Lovelace"));

    let cleared = patch(r#"{"last_name":null}"#).apply(created(ada()), now);
    assert_eq!(cleared.last_name, None);
    assert_eq!(cleared.first_name, "Ada");

    let body: ClientPatchBody = parse_json(br#"{"time_zone":"Nowhere"}"#).unwrap();
    assert_eq!(body.try_into_domain().unwrap_err().field, "time_zone");
}

#[test]
fn an_activity_becomes_the_domains_activity_with_its_times() {
    let body: ActivityBody = parse_json(
        br#"{"type":"fix_feedback","at":"2026-03-02T12:00:00Z","fix_id":"f1","items_kept":2}"#,
    )
    .unwrap();
    assert_eq!(
        body.try_into_domain().unwrap(),
        Activity::FixFeedback {
            at: Some("2026-03-02T12:00:00Z".parse().unwrap()),
            fix_id: "f1".into(),
            items_kept: 2,
            rating: None,
        }
    );
    let login: ActivityBody = parse_json(br#"{"type":"login"}"#).unwrap();
    assert_eq!(
        login.try_into_domain().unwrap(),
        Activity::Login { at: None }
    );
}

#[test]
fn the_documents_components_for_the_bodies_keep_their_names() {
    let doc = serde_json::to_value(crate::openapi()).unwrap();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in ["NewClient", "ClientPatch", "Activity", "StyleProfile"] {
        assert!(schemas.contains_key(name), "{name}: {:?}", schemas.keys());
    }
    for name in schemas.keys() {
        assert!(!name.ends_with("Body"), "{name}");
    }
    let body_of = |path: &str, method: &str| {
        doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            .clone()
    };
    assert_eq!(
        body_of("/api/v1/users", "post"),
        "#/components/schemas/NewClient"
    );
    assert_eq!(
        body_of("/api/v1/users/{id}", "patch"),
        "#/components/schemas/ClientPatch"
    );
    assert_eq!(
        body_of("/api/v1/users/{id}/activity", "post"),
        "#/components/schemas/Activity"
    );
}

#[test]
fn the_profile_a_body_carries_is_described_as_the_profile_a_client_shows() {
    // Both are the component `StyleProfile`: the document holds one of them.
    let schema = |s: utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>| {
        serde_json::to_value(s).unwrap()
    };
    assert_eq!(
        schema(StyleProfileBody::schema()),
        schema(engage_core::client::StyleProfile::schema())
    );
}
