//! One demo client, from a seed and an index alone: its name and address, time zone,
//! consent, style profile, and its history folded in with [`Activity::apply`].

use super::history::{History, history};
use super::lists::{
    BOTTOM_SIZES, BUDGETS, FIRST_NAMES, FIT_NOTES, LAST_NAMES, PROFILE_PARTS, SHOE_SIZES, STYLES,
    TIME_ZONES, TOP_SIZES, pick, weighted,
};
use chrono::{DateTime, Duration, Utc};
use engage_core::client::{
    Activity, ActivityFacts, Client, Consent, EmailAddress, StyleProfile, TimeZone,
};
use engage_core::ids::UserId;
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom as _, SliceRandom as _};
use rand::{Rng, SeedableRng};

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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;
    use engage_core::client::NewClientFields;
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
            let again = NewClientFields {
                email: c.email.as_str().into(),
                first_name: c.first_name.clone(),
                last_name: c.last_name.clone(),
                time_zone: c.time_zone.name().into(),
                email_opt_in: c.consent.email_opt_in,
                profile: Some(c.profile.clone()),
            }
            .check()
            .unwrap_or_else(|e| panic!("{i}: {e}"))
            .into_client(c.id.clone(), c.created_at);
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
}
