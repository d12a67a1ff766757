//! The template generator: fills a campaign's fallback template from the compose
//! request, with no I/O and no randomness, so the same request always yields the same
//! email and a client's email can be reproduced (and tested) exactly.
//!
//! Placeholders (`{name}`): `first_name`, `preferences_clause` (" for your minimal and
//! boho style", or nothing), `preferences` ("minimal and boho", or "your style"),
//! `days_since_last_fix`, `days_since_last_activity`, `profile_completeness`,
//! `cadence_days`, `score`, `tier`. `{days_since_…} days` becomes "45 days", "1 day" or
//! "a while"; "`{days_since_last_fix} days since your last Fix`" is reworded for a
//! client who has had no Fix yet. Unknown placeholders are left as they are, so
//! `engage_core::compose::guard` refuses the result instead of an email going out with
//! a hole in it.
//!
//! Client data (name, preferences) is inserted in one pass and never re-scanned, and is
//! stripped first of control characters, of braces and brackets (nothing a client
//! types can become a placeholder) and of the characters that make Markdown markup or
//! links (`< > * _ ` \ | ~ #`): a name like `<https://…>` cannot become an autolink
//! or emphasis in the HTML part. A web address left in a name is still text, which
//! mail clients might link, so the link guard sees it and refuses the email.

use async_trait::async_trait;
use engage_core::compose::{ComposeRequest, Composed, Content, guard};
use engage_core::ports::{ComposeError, ContentGenerator};

/// Fills the campaign's template; see the module docs for the placeholders.
#[derive(Debug, Clone, Copy, Default)]
pub struct TemplateGenerator;

impl TemplateGenerator {
    /// The generator name recorded with every email it writes.
    pub const NAME: &'static str = "template";
}

#[async_trait]
impl ContentGenerator for TemplateGenerator {
    fn name(&self) -> String {
        Self::NAME.to_string()
    }

    async fn generate(&self, request: &ComposeRequest) -> Result<Composed, ComposeError> {
        let content = render_template(request);
        guard(&content).map_err(|g| {
            ComposeError::Refused(format!("template `{}`: {g}", request.campaign.name))
        })?;
        Ok(Composed {
            content,
            generator: Self::NAME.to_string(),
            generation: None,
            fallback_reason: None,
        })
    }
}

/// The filled template, unguarded (the generator guards it). Pure: same request, same
/// content.
pub fn render_template(request: &ComposeRequest) -> Content {
    let vars = Vars::new(request);
    let t = &request.campaign.template;
    let mut body_text = vars.fill(&t.body).trim().to_string();
    if let Some(ps) = postscript(request) {
        body_text.push_str("\n\n");
        body_text.push_str(&ps);
    }
    Content {
        subject: one_line(&vars.fill(&t.subject)),
        preheader: one_line(&vars.fill(&t.preheader)),
        body_text,
    }
}

/// The values placeholders take, computed once per request.
struct Vars<'a> {
    request: &'a ComposeRequest,
    first_name: String,
    preferences: Vec<String>,
}

impl<'a> Vars<'a> {
    fn new(request: &'a ComposeRequest) -> Self {
        let first_name = clean(&request.first_name, 40);
        let mut preferences: Vec<String> = Vec::new();
        for p in &request.preferences {
            let p = clean(p, 30);
            if !p.is_empty() && !preferences.iter().any(|q| q.eq_ignore_ascii_case(&p)) {
                preferences.push(p);
            }
        }
        preferences.truncate(3);
        Self {
            request,
            first_name: if first_name.is_empty() {
                "there".to_string()
            } else {
                first_name
            },
            preferences,
        }
    }

    /// One pass over `template`: each known `{name}` is replaced, inserted values are
    /// not scanned again.
    fn fill(&self, template: &str) -> String {
        let mut out = String::with_capacity(template.len() + 64);
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let name_len = after
                .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                .unwrap_or(after.len());
            let name = &after[..name_len];
            let tail = &after[name_len..];
            match tail.strip_prefix('}').and_then(|tail| {
                let (value, used) = self.value(name, tail)?;
                Some((value, &tail[used..]))
            }) {
                Some((value, tail)) => {
                    out.push_str(&value);
                    rest = tail;
                }
                None => {
                    out.push('{');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// The value of placeholder `name`, and how many bytes of the text `following` it
    /// the value also replaces (for "{days_since_last_fix} days" and the like).
    fn value(&self, name: &str, following: &str) -> Option<(String, usize)> {
        let d = &self.request.drivers;
        let v = match name {
            "first_name" => self.first_name.clone(),
            "preferences_clause" if self.preferences.is_empty() => String::new(),
            "preferences_clause" => format!(" for your {} style", join(&self.preferences)),
            "preferences" if self.preferences.is_empty() => "your style".to_string(),
            "preferences" => join(&self.preferences),
            "profile_completeness" => d.profile_completeness.to_string(),
            "cadence_days" => (d.cadence_days.round().max(1.0) as i64).to_string(),
            "score" => self.request.score.to_string(),
            "tier" => self.request.tier.as_str().replace('_', " "),
            "days_since_last_fix" => {
                const SINCE_FIX: &str = " days since your last Fix";
                return match d.days_since_last_fix {
                    None if following.starts_with(SINCE_FIX) => Some((
                        format!(
                            "{} since we last heard from you",
                            days(d.days_since_last_activity)
                        ),
                        SINCE_FIX.len(),
                    )),
                    n => Some(days_placeholder(n, following)),
                };
            }
            "days_since_last_activity" => {
                return Some(days_placeholder(d.days_since_last_activity, following));
            }
            _ => return None,
        };
        Some((v, 0))
    }
}

/// `{days…} days` → "45 days" / "1 day" / "a while"; a bare `{days…}` → the number, or
/// "some" when unknown.
fn days_placeholder(n: Option<i64>, following: &str) -> (String, usize) {
    const DAYS: &str = " days";
    let word_ends = |s: &str| !s.starts_with(|c: char| c.is_alphanumeric());
    if following.starts_with(DAYS) && word_ends(&following[DAYS.len()..]) {
        (days(n), DAYS.len())
    } else {
        (
            n.map_or_else(|| "some".to_string(), |n| n.max(0).to_string()),
            0,
        )
    }
}

fn days(n: Option<i64>) -> String {
    match n {
        None => "a while".to_string(),
        Some(n) if n <= 0 => "less than a day".to_string(),
        Some(1) => "1 day".to_string(),
        Some(n) => format!("{n} days"),
    }
}

/// A line for the weakest part of the score, when the campaign's own text does not
/// already cover it. Chosen from the drivers alone, so it is deterministic.
fn postscript(request: &ComposeRequest) -> Option<String> {
    let d = &request.drivers;
    let body = request.campaign.template.body.to_lowercase();
    match d.weakest.as_str() {
        "profile"
            if d.profile_completeness < 100
                && !body.contains("style profile")
                && !body.contains("{profile_completeness}") =>
        {
            Some(format!(
                "P.S. Your style profile is {}% complete. Adding your sizes and fit notes \
                 helps your stylist pick pieces that fit the first time.",
                d.profile_completeness
            ))
        }
        "fix_outcomes"
            if d.fixes_delivered > 0 && !body.contains("keep") && !body.contains("feedback") =>
        {
            Some(
                "P.S. Telling your stylist what you kept and what you sent back is the \
                 quickest way to an even better next Fix."
                    .to_string(),
            )
        }
        "recency" | "frequency" if d.fixes_delivered >= 2 && !body.contains("next fix") => {
            Some(format!(
                "P.S. Your Fixes have come about every {} days. Schedule the next one \
                 whenever suits you.",
                d.cadence_days.round().max(1.0) as i64
            ))
        }
        _ => None,
    }
}

/// Client-typed text made safe to insert: no control characters, braces or brackets,
/// whitespace collapsed, at most `max_chars` characters.
fn clean(s: &str, max_chars: usize) -> String {
    let kept: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .filter(|c| {
            !matches!(
                c,
                '{' | '}' | '[' | ']' | '<' | '>' | '*' | '_' | '`' | '\\' | '|' | '~' | '#'
            )
        })
        .collect();
    let collapsed = kept.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed
        .chars()
        .take(max_chars)
        .collect::<String>()
        .trim_end()
        .to_string()
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// "a", "a and b", "a, b and c".
fn join(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engage_core::campaign::{Campaign, default_campaigns};
    use engage_core::score::{Drivers, Tier};

    fn campaign(name: &str) -> Campaign {
        default_campaigns()
            .into_iter()
            .find(|c| c.name == name)
            .expect("a default campaign")
    }

    fn seasoned(campaign: Campaign) -> ComposeRequest {
        ComposeRequest {
            campaign,
            first_name: "Ada".into(),
            preferences: vec!["minimal".into(), "boho".into()],
            tier: Tier::AtRisk,
            score: 47,
            drivers: Drivers {
                days_since_last_activity: Some(20),
                days_since_last_fix: Some(45),
                cadence_days: 30.0,
                fixes_delivered: 4,
                keep_rate: Some(0.6),
                average_rating: Some(4.0),
                profile_completeness: 83,
                weakest: "recency".into(),
            },
        }
    }

    fn brand_new(campaign: Campaign) -> ComposeRequest {
        ComposeRequest {
            campaign,
            first_name: "Zoë".into(),
            preferences: vec![],
            tier: Tier::New,
            score: 30,
            drivers: Drivers {
                cadence_days: 30.0,
                weakest: "profile".into(),
                ..Drivers::default()
            },
        }
    }

    fn no_braces(c: &Content) {
        for part in [&c.subject, &c.preheader, &c.body_text] {
            assert!(!part.contains('{') && !part.contains('}'), "{part}");
        }
    }

    #[tokio::test]
    async fn every_default_campaign_renders_and_passes_the_guard() {
        for campaign in default_campaigns() {
            for request in [seasoned(campaign.clone()), brand_new(campaign.clone())] {
                let composed = TemplateGenerator
                    .generate(&request)
                    .await
                    .unwrap_or_else(|e| panic!("{}: {e}", campaign.name));
                assert_eq!(composed.generator, "template");
                assert_eq!(guard(&composed.content), Ok(()));
                no_braces(&composed.content);
            }
        }
    }

    #[test]
    fn same_request_same_content() {
        for campaign in default_campaigns() {
            let r = seasoned(campaign);
            assert_eq!(render_template(&r), render_template(&r.clone()));
        }
    }

    #[test]
    fn schedule_next_fix_speaks_of_days_since_the_last_fix() {
        let c = render_template(&seasoned(campaign("schedule_next_fix")));
        assert!(
            c.body_text
                .contains("It has been 45 days since your last Fix.")
        );
        assert!(
            c.body_text
                .contains("new pieces for your minimal and boho style.")
        );

        let mut r = seasoned(campaign("schedule_next_fix"));
        r.drivers.days_since_last_fix = Some(1);
        assert!(
            render_template(&r)
                .body_text
                .contains("It has been 1 day since your last Fix.")
        );
    }

    #[test]
    fn without_a_fix_the_sentence_is_reworded() {
        let mut r = brand_new(campaign("schedule_next_fix"));
        let body = render_template(&r).body_text;
        assert!(
            body.contains("It has been a while since we last heard from you."),
            "{body}"
        );
        assert!(body.contains("saving new pieces."), "{body}");

        r.drivers.days_since_last_activity = Some(38);
        let body = render_template(&r).body_text;
        assert!(
            body.contains("It has been 38 days since we last heard from you."),
            "{body}"
        );
    }

    #[test]
    fn preferences_are_cleaned_deduplicated_and_capped_at_three() {
        let mut r = seasoned(campaign("welcome"));
        r.preferences = ["minimal", " Minimal ", "{boho}", "", "work\nwear", "sporty"]
            .map(String::from)
            .to_vec();
        let body = render_template(&r).body_text;
        assert!(
            body.contains("what you love for your minimal, boho and work wear style and"),
            "{body}"
        );
    }

    #[test]
    fn client_text_cannot_become_a_placeholder() {
        let mut r = seasoned(campaign("welcome"));
        r.first_name = "{tier} [NAME]\u{7}".into();
        let c = render_template(&r);
        assert!(
            c.subject.starts_with("Welcome, tier NAME —"),
            "{}",
            c.subject
        );
        assert_eq!(guard(&c), Ok(()));

        r.first_name = "x".repeat(500);
        assert_eq!(guard(&render_template(&r)), Ok(()));
    }

    #[test]
    fn other_placeholders_fill_and_unknown_ones_stay() {
        let mut r = seasoned(campaign("welcome"));
        r.campaign.template.body =
            "Score {score} ({tier}), every {cadence_days} days, {preferences}; {shoe_size}".into();
        let c = render_template(&r);
        assert!(
            c.body_text
                .starts_with("Score 47 (at risk), every 30 days, minimal and boho; {shoe_size}"),
            "{}",
            c.body_text
        );
        assert_eq!(guard(&c).map_err(|g| g.guard), Err("placeholder"));
    }

    #[tokio::test]
    async fn an_unknown_placeholder_is_refused() {
        let mut r = seasoned(campaign("welcome"));
        r.campaign.template.subject = "Hi {nickname}".into();
        let err = TemplateGenerator.generate(&r).await.unwrap_err();
        assert!(matches!(err, ComposeError::Refused(_)), "{err}");
    }

    #[test]
    fn the_postscript_follows_the_weakest_driver() {
        let welcome = render_template(&brand_new(campaign("welcome")));
        assert!(welcome.body_text.ends_with(
            "P.S. Your style profile is 0% complete. Adding your sizes and fit notes helps \
             your stylist pick pieces that fit the first time."
        ));
        // The profile campaign already says it.
        let profile = render_template(&brand_new(campaign("complete_style_profile")));
        assert!(!profile.body_text.contains("P.S."));

        let mut r = seasoned(campaign("welcome"));
        r.drivers.weakest = "fix_outcomes".into();
        assert!(
            render_template(&r)
                .body_text
                .contains("P.S. Telling your stylist")
        );
        r.campaign = campaign("fix_feedback");
        assert!(!render_template(&r).body_text.contains("P.S."));

        // Recency: the schedule campaign already invites a Fix; feedback does not.
        assert!(
            !render_template(&seasoned(campaign("schedule_next_fix")))
                .body_text
                .contains("P.S.")
        );
        let feedback = render_template(&seasoned(campaign("fix_feedback"))).body_text;
        assert!(feedback.contains("P.S. Your Fixes have come about every 30 days."));
    }
}
