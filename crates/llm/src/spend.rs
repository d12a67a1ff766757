//! What the model costs: prices per million tokens, and the day's budget of tokens or
//! dollars after which emails use their templates until the next day (UTC).

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prices {
    pub input_per_million: f64,
    pub output_per_million: f64,
}

impl Prices {
    /// The list prices of well-known models (November 2026), for a cost estimate when
    /// none are configured. A dated snapshot (`gpt-4o-mini-2024-07-18`) is priced as its
    /// model.
    pub fn known(model: &str) -> Option<Prices> {
        const TABLE: [(&str, f64, f64); 6] = [
            ("gpt-4.1-nano", 0.10, 0.40),
            ("gpt-4.1-mini", 0.40, 1.60),
            ("gpt-4.1", 2.00, 8.00),
            ("gpt-4o-mini", 0.15, 0.60),
            ("gpt-4o", 2.50, 10.00),
            ("gpt-3.5-turbo", 0.50, 1.50),
        ];
        TABLE
            .iter()
            .find(|(name, _, _)| {
                model == *name
                    || model
                        .strip_prefix(name)
                        .is_some_and(|rest| rest.starts_with("-20"))
            })
            .map(|&(_, i, o)| Prices {
                input_per_million: i,
                output_per_million: o,
            })
    }

    pub fn cost(&self, tokens_in: u64, tokens_out: u64) -> f64 {
        (tokens_in as f64 * self.input_per_million + tokens_out as f64 * self.output_per_million)
            / 1_000_000.0
    }
}

/// The day's spending against its limits. Counted in the process, and seeded at start
/// from the emails already written today, so a restart does not reset the day.
#[derive(Debug)]
pub(crate) struct Budget {
    tokens_per_day: Option<u64>,
    usd_per_day: Option<f64>,
    spent: Mutex<Spent>,
}

#[derive(Debug, Default)]
struct Spent {
    day: u64,
    tokens: u64,
    usd: f64,
}

pub(crate) fn today() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400)
}

impl Budget {
    pub fn new(tokens_per_day: Option<u64>, usd_per_day: Option<f64>) -> Self {
        Self {
            tokens_per_day,
            usd_per_day,
            spent: Mutex::new(Spent {
                day: today(),
                ..Spent::default()
            }),
        }
    }

    /// `Err` with why, once the day's tokens or dollars are spent.
    pub fn check(&self) -> Result<(), String> {
        let mut s = self.spent.lock().expect("budget");
        let day = today();
        if s.day != day {
            *s = Spent {
                day,
                ..Spent::default()
            };
        }
        if let Some(limit) = self.tokens_per_day
            && s.tokens >= limit
        {
            return Err(format!("{} of {limit} tokens spent today (UTC)", s.tokens));
        }
        if let Some(limit) = self.usd_per_day
            && s.usd >= limit
        {
            return Err(format!("${:.4} of ${limit} spent today (UTC)", s.usd));
        }
        Ok(())
    }

    /// Takes in the day's totals as a shared tally knows them (everyone's spending):
    /// the count never goes down, and a total of another day is ignored.
    pub fn observe(&self, day: u64, tokens: u64, usd: f64) {
        let mut s = self.spent.lock().expect("budget");
        if s.day != day {
            return;
        }
        s.tokens = s.tokens.max(tokens);
        s.usd = s.usd.max(usd);
    }

    pub fn add(&self, tokens: u64, usd: f64) {
        let mut s = self.spent.lock().expect("budget");
        let day = today();
        if s.day != day {
            *s = Spent {
                day,
                ..Spent::default()
            };
        }
        s.tokens += tokens;
        s.usd += usd;
        metrics::gauge!("engage_llm_spent_today", "unit" => "tokens").set(s.tokens as f64);
        metrics::gauge!("engage_llm_spent_today", "unit" => "usd").set(s.usd);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_are_priced_as_their_model_and_unknown_models_are_not() {
        let p = Prices::known("gpt-4o-mini-2024-07-18").unwrap();
        assert_eq!(p, Prices::known("gpt-4o-mini").unwrap());
        assert!((p.cost(1_000_000, 1_000_000) - 0.75).abs() < 1e-9);
        assert_eq!(Prices::known("gpt-4o").unwrap().input_per_million, 2.5);
        assert_eq!(Prices::known("llama3.1"), None);
        assert_eq!(Prices::known("gpt-4o-minimal"), None);
    }

    #[test]
    fn a_spent_budget_refuses_until_the_next_day() {
        let b = Budget::new(Some(1000), None);
        assert!(b.check().is_ok());
        b.add(999, 0.0);
        assert!(b.check().is_ok());
        b.add(1, 0.0);
        assert!(b.check().unwrap_err().contains("1000 of 1000 tokens"));
        let usd = Budget::new(None, Some(0.01));
        usd.add(10, 0.02);
        assert!(usd.check().unwrap_err().contains("$0.0200 of $0.01"));
    }
}
