//! Control groups: which clients are held out of a campaign, so that what the
//! campaign led to can be compared with what happened without it.
//!
//! Membership is a salted hash of the client's id, nothing stored: the same client is
//! in the same group after a restart, on either backend, and after a re-import that
//! keeps its id, and no write is needed to keep it so. Each scope hashes on its own
//! (the global control group, and each campaign's holdout by its name), so being held
//! out of one campaign says nothing about another. Changing the salt reshuffles every
//! group, which starts every measurement over: it is set once.
//!
//! The hash is HMAC-SHA-256 keyed by the salt (the `hmac` and `sha2` crates engage
//! already uses for its links), read as a position in [0, 1): a client is held out of
//! a scope of `p` percent when its position in that scope is below `p / 100`.

use crate::ids::UserId;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The salt used when none is configured.
pub const DEFAULT_SALT: &str = "engage-control-groups-v1";
/// The global control group's size when none is configured, in percent.
pub const DEFAULT_GLOBAL_PERCENT: f64 = 5.0;
/// The largest global control group allowed, in percent.
pub const MAX_GLOBAL_PERCENT: f64 = 20.0;
/// The largest per-campaign holdout allowed, in percent.
pub const MAX_CAMPAIGN_PERCENT: f64 = 50.0;

/// Which group a client is in for one campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Gets the campaign's emails.
    Treated,
    /// In the global control group: held out of every campaign.
    GlobalControl,
    /// Held out of this campaign only.
    CampaignHoldout,
}

impl Group {
    pub fn held_out(self) -> bool {
        self != Group::Treated
    }
}

/// The salt and the global control group's size.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlGroups {
    salt: Vec<u8>,
    global_percent: f64,
}

impl Default for ControlGroups {
    fn default() -> Self {
        Self {
            salt: DEFAULT_SALT.as_bytes().to_vec(),
            global_percent: DEFAULT_GLOBAL_PERCENT,
        }
    }
}

impl ControlGroups {
    /// Groups with this salt and a global control group of `global_percent` (0 to
    /// [`MAX_GLOBAL_PERCENT`]); refuses an empty salt and a size out of range.
    pub fn new(salt: &str, global_percent: f64) -> Result<Self, String> {
        if salt.is_empty() {
            return Err("the control groups' salt is empty".into());
        }
        check_percent(
            "the global control group",
            global_percent,
            MAX_GLOBAL_PERCENT,
        )?;
        Ok(Self {
            salt: salt.as_bytes().to_vec(),
            global_percent,
        })
    }

    pub fn global_percent(&self) -> f64 {
        self.global_percent
    }

    /// The client's position in `scope`, uniform in [0, 1) over client ids.
    pub fn position(&self, scope: &str, user: &UserId) -> f64 {
        let mut m = Hmac::<Sha256>::new_from_slice(&self.salt).expect("HMAC takes any key");
        m.update(b"holdout:v1:");
        m.update(scope.as_bytes());
        m.update(b":");
        m.update(user.as_str().as_bytes());
        let bytes = m.finalize().into_bytes();
        let top = u64::from_be_bytes(bytes[..8].try_into().expect("8 bytes"));
        // 53 bits: every value is exact in an f64, and the result stays below 1.
        (top >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Whether the client is in the global control group.
    pub fn in_global_control(&self, user: &UserId) -> bool {
        self.position("global", user) * 100.0 < self.global_percent
    }

    /// The client's group for `campaign`, whose own holdout is `campaign_percent`
    /// (0 to [`MAX_CAMPAIGN_PERCENT`]). The global control group comes first.
    pub fn group(&self, user: &UserId, campaign: &str, campaign_percent: f64) -> Group {
        if self.in_global_control(user) {
            Group::GlobalControl
        } else if self.position(&format!("campaign:{campaign}"), user) * 100.0 < campaign_percent {
            Group::CampaignHoldout
        } else {
            Group::Treated
        }
    }
}

/// Refuses a group size that is not a number from 0 to `max` percent.
pub fn check_percent(what: &str, percent: f64, max: f64) -> Result<(), String> {
    if (0.0..=max).contains(&percent) {
        Ok(())
    } else {
        Err(format!(
            "{what} is {percent} %, but must be from 0 to {max} %"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<UserId> {
        (0..n)
            .map(|i| UserId::from_string(format!("usr_{i:08}")))
            .collect()
    }

    #[test]
    fn membership_is_a_function_of_the_salt_and_the_id_alone() {
        let a = ControlGroups::new("s1", 5.0).unwrap();
        let b = ControlGroups::new("s1", 5.0).unwrap();
        let user = UserId::from_string("usr_01HZX");
        assert_eq!(a.position("global", &user), b.position("global", &user));
        // A fixed value, so a change of the hash (which would reshuffle every
        // stored measurement's groups) cannot pass unnoticed.
        let p = ControlGroups::new(DEFAULT_SALT, 5.0)
            .unwrap()
            .position("global", &UserId::from_string("usr_1"));
        assert!((0.0..1.0).contains(&p));
        assert_eq!(format!("{p:.12}"), PINNED_POSITION);
        let other = ControlGroups::new("s2", 5.0).unwrap();
        let moved = ids(1000)
            .iter()
            .filter(|u| a.in_global_control(u) != other.in_global_control(u))
            .count();
        assert!(
            moved > 20,
            "a new salt reshuffles the groups ({moved} of 1000 moved)"
        );
    }

    // Computed apart from this code: Python's `hmac.new(salt, b"holdout:v1:global:usr_1",
    // hashlib.sha256)`, the first 8 bytes big-endian, shifted right by 11, over 2^53.
    const PINNED_POSITION: &str = "0.615839439660";

    #[test]
    fn the_groups_have_the_configured_sizes_and_campaigns_hash_on_their_own() {
        let g = ControlGroups::new(DEFAULT_SALT, 5.0).unwrap();
        let users = ids(100_000);
        let global = users.iter().filter(|u| g.in_global_control(u)).count();
        // 5 % of 100,000: 5,000 ± 4 standard deviations (69 each).
        assert!((4_724..=5_276).contains(&global), "{global}");
        let groups =
            |c: &str| -> Vec<Group> { users.iter().map(|u| g.group(u, c, 10.0)).collect() };
        let (win_back, welcome) = (groups("win_back"), groups("welcome"));
        let held = |gs: &[Group]| gs.iter().filter(|x| **x == Group::CampaignHoldout).count();
        // 10 % of the 95 % outside the global group: 9,500 ± 4 × 93.
        assert!(
            (9_128..=9_872).contains(&held(&win_back)),
            "{}",
            held(&win_back)
        );
        assert!(
            (9_128..=9_872).contains(&held(&welcome)),
            "{}",
            held(&welcome)
        );
        let both = win_back
            .iter()
            .zip(&welcome)
            .filter(|(a, b)| **a == Group::CampaignHoldout && **b == Group::CampaignHoldout)
            .count();
        // Independent: about 1 % of the 95,000 are held out of both (950 ± 4 × 30).
        assert!((830..=1_070).contains(&both), "{both}");
        for (u, grp) in users.iter().zip(&win_back) {
            assert_eq!(*grp == Group::GlobalControl, g.in_global_control(u));
        }
    }

    #[test]
    fn sizes_out_of_range_and_an_empty_salt_are_refused() {
        assert!(ControlGroups::new("s", 20.0).is_ok());
        assert!(ControlGroups::new("s", 0.0).is_ok());
        let e = ControlGroups::new("s", 20.5).unwrap_err();
        assert_eq!(
            e,
            "the global control group is 20.5 %, but must be from 0 to 20 %"
        );
        assert!(ControlGroups::new("s", -1.0).is_err());
        assert!(ControlGroups::new("s", f64::NAN).is_err());
        assert!(ControlGroups::new("", 5.0).is_err());
        let none = ControlGroups::new("s", 0.0).unwrap();
        assert!(
            ids(1000)
                .iter()
                .all(|u| none.group(u, "c", 0.0) == Group::Treated)
        );
    }
}
