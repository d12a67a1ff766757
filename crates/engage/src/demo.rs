//! Demo data: realistic synthetic clients, so a fresh `engage serve` has something to
//! score, decide on and email (`engage demo --clients 1000`).
//!
//! [`generate`] makes client `index` of a data set from `seed` alone, so the same seed
//! always gives the same clients and any slice of them can be made on its own (in
//! parallel, or streamed). Each client has a name (some not ASCII), a unique address,
//! a time zone weighted towards the US and Europe, consent (about 80 % opted in, 3 %
//! unsubscribed), a style profile of varied completeness, and an activity history
//! folded in with [`Activity::apply`], so its facts are as consistent as if recorded
//! through the API: Fixes at the client's own cadence (30, 45, 60 or 90 days) up to a
//! point where some stopped, feedback on most of them, logins and orders around them,
//! email opens and clicks. Some clients are brand new, some active, some slipping and
//! some lapsed for months. Every time lies before `now`.
//!
//! [`load`] writes them through the [`ClientImport`] port as ordinary inserts: they
//! flow through the change stream like any write and the email processor decides on
//! each.

use chrono::{DateTime, Duration, Utc};
use engage_core::StoreError;
use engage_core::client::{
    Activity, ActivityFacts, Client, Consent, EmailAddress, StyleProfile, TimeZone,
};
use engage_core::ids::UserId;
use engage_core::ports::{ClientImport, ClientWrite};
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom as _, SliceRandom as _};
use rand::{Rng, SeedableRng};

const FIRST_NAMES: [&str; 50] = [
    "Zoë",
    "José",
    "Chloé",
    "Amélie",
    "Søren",
    "Aoife",
    "Mateo",
    "Léa",
    "Björn",
    "Noémie",
    "Ana",
    "Lucía",
    "Ingrid",
    "Priya",
    "Aisha",
    "Mei",
    "Hana",
    "Olivia",
    "Emma",
    "Liam",
    "Noah",
    "Ava",
    "Sophia",
    "Isabella",
    "Mia",
    "Charlotte",
    "Amara",
    "Kofi",
    "Yuki",
    "Sven",
    "Élodie",
    "François",
    "Małgorzata",
    "Ciarán",
    "Niamh",
    "Jürgen",
    "Renée",
    "Dana",
    "Grace",
    "Ethan",
    "Maya",
    "Leila",
    "Omar",
    "Camila",
    "Valentina",
    "Freya",
    "Astrid",
    "Rosa",
    "Nora",
    "Julia",
];

const LAST_NAMES: [&str; 50] = [
    "García",
    "Müller",
    "O'Brien",
    "Nguyen",
    "Kowalski",
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Dubois",
    "Rossi",
    "Silva",
    "Kim",
    "Patel",
    "Johansson",
    "Novák",
    "Fernández",
    "López",
    "Martin",
    "Bernard",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Andersen",
    "Nielsen",
    "Murphy",
    "Kelly",
    "Tanaka",
    "Sato",
    "Chen",
    "Wang",
    "Singh",
    "Khan",
    "Okafor",
    "Mensah",
    "Cohen",
    "Levy",
    "Moreau",
    "Lefèvre",
    "Ramírez",
    "Gómez",
    "Jensen",
    "Hansen",
    "Larsen",
    "Ødegaard",
    "Šimić",
    "Yılmaz",
    "Davies",
    "Evans",
];

/// IANA time zones, weighted towards the US and Europe.
const TIME_ZONES: [(&str, u32); 28] = [
    ("America/New_York", 16),
    ("America/Chicago", 9),
    ("America/Denver", 4),
    ("America/Los_Angeles", 11),
    ("America/Phoenix", 2),
    ("America/Anchorage", 1),
    ("Pacific/Honolulu", 1),
    ("Europe/London", 9),
    ("Europe/Paris", 6),
    ("Europe/Berlin", 6),
    ("Europe/Madrid", 4),
    ("Europe/Rome", 3),
    ("Europe/Amsterdam", 3),
    ("Europe/Stockholm", 2),
    ("Europe/Dublin", 2),
    ("Europe/Warsaw", 2),
    ("Europe/Lisbon", 1),
    ("Europe/Zurich", 1),
    ("America/Toronto", 3),
    ("America/Vancouver", 2),
    ("America/Mexico_City", 2),
    ("America/Sao_Paulo", 2),
    ("Australia/Sydney", 3),
    ("Asia/Tokyo", 2),
    ("Asia/Singapore", 1),
    ("Asia/Kolkata", 1),
    ("Africa/Johannesburg", 1),
    ("Pacific/Auckland", 1),
];

const STYLES: [&str; 14] = [
    "minimal",
    "boho",
    "classic",
    "streetwear",
    "workwear",
    "romantic",
    "sporty",
    "preppy",
    "edgy",
    "casual",
    "vintage",
    "glam",
    "athleisure",
    "coastal",
];
const TOP_SIZES: [&str; 6] = ["XS", "S", "M", "L", "XL", "XXL"];
const BOTTOM_SIZES: [&str; 10] = ["24", "26", "28", "30", "32", "34", "36", "S", "M", "L"];
const SHOE_SIZES: [&str; 14] = [
    "5", "6", "6.5", "7", "7.5", "8", "8.5", "9", "10", "11", "EU 37", "EU 38", "EU 40", "EU 42",
];
const BUDGETS: [&str; 4] = ["under $50", "$50–$100", "$100–$200", "$200+"];
const FIT_NOTES: [&str; 10] = [
    "prefers relaxed fits",
    "petite: shorter inseams please",
    "tall, long sleeves",
    "no wool, sensitive skin",
    "loves high-waisted jeans",
    "avoid horizontal stripes",
    "nothing too tight around the shoulders",
    "machine-washable pieces only",
    "bright colours welcome",
    "neutral palette only",
];

/// Where a client stands in its life with the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Signed up in the last two weeks, no Fix yet.
    Fresh,
    /// Signed up long ago and never got a Fix.
    Stalled,
    /// Last Fix within one cadence.
    Active,
    /// Last Fix one to two and a half cadences ago.
    Slipping,
    /// Last Fix three or more cadences ago: gone for months.
    Lapsed,
}

const STAGES: [(Stage, u32); 5] = [
    (Stage::Fresh, 10),
    (Stage::Stalled, 6),
    (Stage::Active, 42),
    (Stage::Slipping, 20),
    (Stage::Lapsed, 22),
];

/// Days between Fixes.
const CADENCES: [(i64, u32); 4] = [(30, 4), (45, 3), (60, 2), (90, 1)];

/// Profile parts filled in (out of six), weighted.
const PROFILE_PARTS: [(usize, u32); 7] = [
    (0, 12),
    (1, 10),
    (2, 12),
    (3, 14),
    (4, 16),
    (5, 16),
    (6, 20),
];

fn weighted<T: Copy>(rng: &mut StdRng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut at = rng.random_range(0..total);
    for (item, w) in items {
        if at < *w {
            return *item;
        }
        at -= w;
    }
    items[items.len() - 1].0
}

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items.choose(rng).copied().unwrap_or_default()
}

/// SplitMix64: spreads (seed, index) over the whole seed space.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A name as it can appear in an address: lower-case ASCII letters and digits.
fn local_part(name: &str) -> String {
    let mut out = String::new();
    for c in name.to_lowercase().chars() {
        match c {
            'a'..='z' | '0'..='9' => out.push(c),
            'à' | 'á' | 'â' | 'ä' | 'ã' | 'å' => out.push('a'),
            'æ' => out.push_str("ae"),
            'ç' | 'č' | 'ć' => out.push('c'),
            'è' | 'é' | 'ê' | 'ë' => out.push('e'),
            'ì' | 'í' | 'î' | 'ï' | 'ı' => out.push('i'),
            'ñ' => out.push('n'),
            'ò' | 'ó' | 'ô' | 'ö' | 'õ' | 'ø' => out.push('o'),
            'ù' | 'ú' | 'û' | 'ü' => out.push('u'),
            'ý' | 'ÿ' => out.push('y'),
            'ß' => out.push_str("ss"),
            'ł' => out.push('l'),
            'š' => out.push('s'),
            'ž' => out.push('z'),
            'ğ' => out.push('g'),
            _ => {}
        }
    }
    out
}

fn days(d: f64) -> Duration {
    Duration::seconds((d * 86_400.0) as i64)
}

fn profile(rng: &mut StdRng) -> StyleProfile {
    let filled = weighted(rng, &PROFILE_PARTS);
    let mut parts = [0, 1, 2, 3, 4, 5];
    parts.shuffle(rng);
    let mut p = StyleProfile::default();
    for part in &parts[..filled] {
        match part {
            0 => {
                let n = rng.random_range(1..=3);
                p.preferences = STYLES
                    .choose_multiple(rng, n)
                    .map(|s| s.to_string())
                    .collect();
            }
            1 => p.top_size = Some(pick(rng, &TOP_SIZES).into()),
            2 => p.bottom_size = Some(pick(rng, &BOTTOM_SIZES).into()),
            3 => p.shoe_size = Some(pick(rng, &SHOE_SIZES).into()),
            4 => p.budget = Some(pick(rng, &BUDGETS).into()),
            _ => p.fit_notes = Some(pick(rng, &FIT_NOTES).into()),
        }
    }
    p
}

/// The client's history: activities with their times, in no particular order.
struct History {
    signed_up: DateTime<Utc>,
    events: Vec<Activity>,
}

fn history(rng: &mut StdRng, index: u64, now: DateTime<Utc>, emailable: bool) -> History {
    // Nothing happens in the last minute, so every time is safely in the past.
    let latest = now - Duration::minutes(1);
    let stage = weighted(rng, &STAGES);
    let mut events = Vec::new();
    let login_after = |rng: &mut StdRng, from: DateTime<Utc>, within_days: f64| Activity::Login {
        at: Some((from + days(rng.random_range(0.0..within_days))).min(latest)),
    };
    match stage {
        Stage::Fresh | Stage::Stalled => {
            let age = match stage {
                Stage::Fresh => rng.random_range(0.05..13.0),
                _ => rng.random_range(15.0..300.0),
            };
            let signed_up = now - days(age);
            for _ in 0..rng.random_range(0..=2) {
                events.push(login_after(rng, signed_up, age.min(10.0)));
            }
            return History { signed_up, events };
        }
        Stage::Active | Stage::Slipping | Stage::Lapsed => {}
    }

    let cadence = weighted(rng, &CADENCES) as f64;
    let (fixes, since_last) = match stage {
        Stage::Active => (
            rng.random_range(2..=12),
            rng.random_range(0.1..1.0) * cadence,
        ),
        Stage::Slipping => (
            rng.random_range(1..=10),
            rng.random_range(1.0..2.5) * cadence,
        ),
        _ => (
            rng.random_range(1..=8),
            (rng.random_range(3.0..12.0) * cadence).min(600.0),
        ),
    };
    // Fix dates, newest first, each about one cadence before the next.
    let mut at = latest - days(since_last);
    let mut dates = vec![at];
    for _ in 1..fixes {
        at -= days(cadence * rng.random_range(0.85..1.15));
        dates.push(at);
    }
    dates.reverse();
    let signed_up = dates[0] - days(rng.random_range(2.0..21.0));

    // How much this client likes what arrives, and how dutifully it says so.
    let affinity: f64 = rng.random_range(0.1..0.9);
    let diligence: f64 = rng.random_range(0.6..1.0);
    for (k, delivered) in dates.iter().copied().enumerate() {
        let fix_id = format!("fx-{index}-{}", k + 1);
        let items_sent = *[3u8, 4, 5, 5, 5, 6, 8].choose(rng).unwrap_or(&5);
        events.push(Activity::FixDelivered {
            at: Some(delivered),
            fix_id: fix_id.clone(),
            items_sent,
        });
        for _ in 0..rng.random_range(1..=3) {
            let around = delivered + days(rng.random_range(-5.0..7.0));
            events.push(Activity::Login {
                at: Some(around.clamp(signed_up, latest)),
            });
        }
        if emailable && rng.random_bool(0.5) {
            let opened = (delivered - days(rng.random_range(1.0..8.0))).max(signed_up);
            events.push(Activity::EmailOpened { at: Some(opened) });
            if rng.random_bool(0.35) {
                events.push(Activity::EmailClicked {
                    at: Some(opened + Duration::minutes(rng.random_range(1..30))),
                });
            }
        }
        let feedback_at = delivered + days(rng.random_range(1.0..10.0));
        if feedback_at > latest || !rng.random_bool(diligence) {
            continue;
        }
        let kept = (0..items_sent)
            .filter(|_| rng.random_bool(affinity))
            .count()
            .min(5) as u8;
        let liked = f64::from(kept) / f64::from(items_sent);
        let rating = rng.random_bool(0.9).then(|| {
            (1.0 + 4.0 * liked + rng.random_range(-0.8..0.8))
                .round()
                .clamp(1.0, 5.0) as u8
        });
        events.push(Activity::FixFeedback {
            at: Some(feedback_at),
            fix_id,
            items_kept: kept,
            rating,
        });
        if kept > 0 {
            events.push(Activity::Order {
                at: Some((feedback_at + Duration::minutes(rng.random_range(2..90))).min(latest)),
            });
        }
    }
    // Now and then an order or a visit between Fixes.
    let span = (dates[dates.len() - 1] - signed_up).num_seconds().max(1) as f64 / 86_400.0;
    for _ in 0..rng.random_range(0..=3) {
        events.push(Activity::Order {
            at: Some((signed_up + days(rng.random_range(0.0..span))).min(latest)),
        });
    }
    History { signed_up, events }
}

/// Client `index` of the data set `seed`, as of `now`: the same arguments always give
/// the same client (its id included).
pub fn generate(seed: u64, index: u64, now: DateTime<Utc>) -> Client {
    let mut rng = StdRng::seed_from_u64(mix(mix(seed) ^ index));
    let first_name = pick(&mut rng, &FIRST_NAMES).to_string();
    let last_name = rng
        .random_bool(0.92)
        .then(|| pick(&mut rng, &LAST_NAMES).to_string());
    let address = match &last_name {
        Some(last) => format!(
            "{}.{}.{index}@example.com",
            local_part(&first_name),
            local_part(last)
        ),
        None => format!("{}.{index}@example.com", local_part(&first_name)),
    };
    let time_zone = weighted(&mut rng, &TIME_ZONES);
    let email_opt_in = rng.random_bool(0.8);
    let unsubscribed = rng.random_bool(0.03);
    let profile = profile(&mut rng);
    let History { signed_up, events } =
        history(&mut rng, index, now, email_opt_in && !unsubscribed);
    let unsubscribed_at = unsubscribed.then(|| {
        let span = (now - signed_up).num_seconds().max(1);
        signed_up + Duration::seconds(rng.random_range(0..span))
    });
    let id = ulid::Ulid::from_parts(
        u64::try_from(signed_up.timestamp_millis()).unwrap_or(0),
        rng.random(),
    );
    let mut client = Client {
        id: UserId::from_string(format!("usr_{}", id.to_string().to_lowercase())),
        email: EmailAddress::parse(&address).expect("built from ASCII letters and digits"),
        first_name,
        last_name,
        time_zone: TimeZone::parse(time_zone).expect("a listed IANA name"),
        consent: Consent {
            email_opt_in,
            unsubscribed,
            unsubscribed_at,
        },
        profile,
        activity: ActivityFacts::default(),
        version: 1,
        created_at: signed_up,
        // Written now: the record's time, not the client's.
        updated_at: now,
    };
    // Folded in time order, as if each had been recorded when it happened. Every
    // activity is valid by construction (known Fix ids, counts in range, times past).
    let mut events = events;
    events.sort_by_key(|a| (at_of(a), matches!(a, Activity::FixFeedback { .. })));
    for activity in events {
        client = activity
            .apply(client, now)
            .expect("generated activity is valid");
    }
    client
}

fn at_of(a: &Activity) -> Option<DateTime<Utc>> {
    match a {
        Activity::Login { at }
        | Activity::Order { at }
        | Activity::FixDelivered { at, .. }
        | Activity::FixFeedback { at, .. }
        | Activity::EmailOpened { at }
        | Activity::EmailClicked { at } => *at,
    }
}

/// What a [`load`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub created: u64,
    /// Clients whose address was taken already (a second load of the same seed).
    pub already_present: u64,
    /// Of those created: opted in to email, and unsubscribed.
    pub opted_in: u64,
    pub unsubscribed: u64,
}

/// Writes clients `0..n` of data set `seed` through `store`, `batch` at a time (each
/// an ordinary insert, appended to the change stream); `progress` hears how many were
/// written so far after each batch. The next batch is generated, on a blocking
/// thread, while the current one is written.
pub async fn load(
    store: &dyn ClientImport,
    n: u64,
    seed: u64,
    now: DateTime<Utc>,
    batch: usize,
    mut progress: impl FnMut(u64),
) -> Result<LoadReport, StoreError> {
    let batch = batch.max(1) as u64;
    let make = |start: u64| {
        let end = (start + batch).min(n);
        tokio::task::spawn_blocking(move || {
            (start..end)
                .map(|i| generate(seed, i, now))
                .collect::<Vec<_>>()
        })
    };
    let mut report = LoadReport::default();
    let mut done = 0;
    let mut next = (n > 0).then(|| make(0));
    while let Some(pending) = next.take() {
        let clients = pending
            .await
            .map_err(|e| StoreError::Unexpected(anyhow::Error::new(e)))?;
        done += clients.len() as u64;
        if done < n {
            next = Some(make(done));
        }
        let consent: Vec<(bool, bool)> = clients
            .iter()
            .map(|c| (c.consent.email_opt_in, c.consent.unsubscribed))
            .collect();
        let results = store
            .write_batch(clients.into_iter().map(ClientWrite::Insert).collect())
            .await?;
        for (result, (opted_in, unsubscribed)) in results.into_iter().zip(consent) {
            match result {
                Ok(()) => {
                    report.created += 1;
                    report.opted_in += u64::from(opted_in);
                    report.unsubscribed += u64::from(unsubscribed);
                }
                Err(StoreError::Duplicate(_)) => report.already_present += 1,
                Err(e) => return Err(e),
            }
        }
        progress(done);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;
    use engage_core::client::NewClient;
    use engage_core::score::{EmailStats, ScoringConfig, Tier, score};
    use std::collections::{BTreeMap, HashSet};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap()
    }

    #[test]
    fn the_same_seed_and_index_give_the_same_client() {
        assert_eq!(generate(7, 42, now()), generate(7, 42, now()));
        assert_ne!(generate(7, 42, now()), generate(8, 42, now()));
        assert_ne!(generate(7, 42, now()).id, generate(7, 43, now()).id);
    }

    #[test]
    fn generated_clients_are_valid_and_everything_happened_before_now() {
        let now = now();
        let mut addresses = HashSet::new();
        let mut non_ascii = 0;
        for i in 0..2000 {
            let c = generate(3, i, now);
            assert!(
                addresses.insert(c.email.normalized()),
                "{i}: address reused"
            );
            non_ascii += usize::from(!c.first_name.is_ascii());
            // What the API would accept for this client parses back to the same values.
            let again = NewClient {
                email: c.email.as_str().into(),
                first_name: c.first_name.clone(),
                last_name: c.last_name.clone(),
                time_zone: c.time_zone.name().into(),
                email_opt_in: c.consent.email_opt_in,
                profile: Some(c.profile.clone()),
            }
            .into_client(c.id.clone(), c.created_at)
            .unwrap_or_else(|e| panic!("{i}: {e}"));
            assert_eq!(
                (&again.first_name, &again.last_name, &again.profile),
                (&c.first_name, &c.last_name, &c.profile)
            );
            assert!(c.created_at < now && c.updated_at == now);
            let a = &c.activity;
            for t in a.recent.iter().chain(
                a.fixes
                    .iter()
                    .flat_map(|f| [Some(f.delivered_at), f.feedback_at])
                    .flatten()
                    .collect::<Vec<_>>()
                    .iter(),
            ) {
                assert!(
                    *t < now && *t >= c.created_at,
                    "{i}: {t} vs {}",
                    c.created_at
                );
            }
            for f in &a.fixes {
                assert!(f.items_kept.is_none_or(|k| k <= 5 && k <= f.items_sent));
                assert!(f.feedback_at.is_none_or(|t| t > f.delivered_at));
            }
            if let Some(u) = c.consent.unsubscribed_at {
                assert!(c.consent.unsubscribed && u >= c.created_at && u < now);
            }
        }
        assert!(non_ascii > 100, "{non_ascii} names with accents");
    }

    #[test]
    fn the_mix_has_new_active_and_lapsed_clients_of_every_tier() {
        let now = now();
        let cfg = ScoringConfig::default();
        let n = 1000;
        let mut tiers: BTreeMap<Tier, u32> = BTreeMap::new();
        let (mut opted_in, mut unsubscribed, mut zones, mut cadences) =
            (0, 0, HashSet::new(), HashSet::new());
        for i in 0..n {
            let c = generate(11, i, now);
            *tiers
                .entry(score(&c, EmailStats::default(), now, &cfg).tier)
                .or_default() += 1;
            opted_in += u32::from(c.consent.email_opt_in);
            unsubscribed += u32::from(c.consent.unsubscribed);
            zones.insert(c.time_zone.name());
            cadences.insert(engage_core::score::cadence_days(&c, &cfg).round() as i64);
        }
        for t in Tier::ALL {
            assert!(tiers.get(&t).copied().unwrap_or(0) >= 20, "{tiers:?}");
        }
        assert!((730..=870).contains(&opted_in), "{opted_in} opted in");
        assert!(
            (10..=60).contains(&unsubscribed),
            "{unsubscribed} unsubscribed"
        );
        assert!(zones.len() > 20, "{zones:?}");
        assert!(cadences.len() > 20, "{cadences:?}");
    }

    /// Writes inserts into memory, refusing addresses it has.
    #[derive(Default)]
    struct Memory(std::sync::Mutex<(Vec<Client>, Vec<usize>)>);

    #[async_trait::async_trait]
    impl ClientImport for Memory {
        async fn get_by_emails(
            &self,
            emails: &[EmailAddress],
        ) -> Result<Vec<Option<Client>>, StoreError> {
            Ok(vec![None; emails.len()])
        }
        async fn write_batch(
            &self,
            writes: Vec<ClientWrite>,
        ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
            let mut m = self.0.lock().unwrap();
            m.1.push(writes.len());
            Ok(writes
                .into_iter()
                .map(|w| match w {
                    ClientWrite::Insert(c) if m.0.iter().any(|o| o.email == c.email) => {
                        Err(StoreError::Duplicate("email".into()))
                    }
                    ClientWrite::Insert(c) => {
                        m.0.push(c);
                        Ok(())
                    }
                    ClientWrite::Replace { .. } => unreachable!("a demo only inserts"),
                })
                .collect())
        }
    }

    #[tokio::test]
    async fn load_inserts_in_batches_and_reports_progress_and_repeats() {
        let store = Memory::default();
        let mut seen = Vec::new();
        let report = load(&store, 250, 5, now(), 100, |n| seen.push(n))
            .await
            .unwrap();
        assert_eq!(report.created, 250);
        assert_eq!(report.already_present, 0);
        assert!(report.opted_in > 150 && report.opted_in < 250);
        assert_eq!(seen, [100, 200, 250]);
        {
            let m = store.0.lock().unwrap();
            assert_eq!(m.1, [100, 100, 50]);
            assert_eq!(m.0[17], generate(5, 17, now()));
        }
        let again = load(&store, 120, 5, now(), 100, |_| {}).await.unwrap();
        assert_eq!((again.created, again.already_present), (0, 120));
    }
}
