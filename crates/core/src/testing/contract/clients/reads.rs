//! Reads: a client with the score the ledger stored and its address's suppression,
//! and lists in id order, searched by prefix and filtered by tier, subscription and
//! opt-in.

use super::ClientSupport;
use super::support::*;
use crate::client::Client;
use crate::ids::UserId;
use crate::ports::{ClientQuery, ClientWithScore, Page};
use crate::score::Tier;
use crate::testing::contract::fixtures::{address, client, next, store_score};
use crate::testing::{Backend, t0};

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
