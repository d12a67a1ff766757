//! Composition: what a generator is asked, what it must give back, the guards every
//! piece of content passes, and the HTML engage renders from the text itself (never
//! HTML from a generator).

use crate::campaign::Campaign;
use crate::links::LinkPolicy;
use crate::score::{Drivers, Tier};
use serde::{Deserialize, Serialize};

/// Everything a generator may know about the client: no address, no surname.
#[derive(Debug, Clone)]
pub struct ComposeRequest {
    pub campaign: Campaign,
    pub first_name: String,
    pub preferences: Vec<String>,
    pub tier: Tier,
    pub score: u8,
    pub drivers: Drivers,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    pub subject: String,
    pub preheader: String,
    pub body_text: String,
}

/// Content and who wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct Composed {
    pub content: Content,
    /// `template` or `llm:<model>`.
    pub generator: String,
    /// How a model wrote it; `None` for the template.
    pub generation: Option<Generation>,
    /// Why the configured generator's content was not used (the template stood in).
    pub fallback_reason: Option<String>,
}

/// The accounting of one LLM-written email: recorded with the email.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Generation {
    pub model: String,
    pub prompt_version: String,
    pub tokens_in: u64,
    pub tokens_out: u64,
    /// From the first request to the accepted answer, retries and waits included.
    pub latency_ms: u64,
    /// Requests made, the successful one included.
    pub attempts: u32,
    /// What the tokens cost, in US dollars, at the configured or known prices of the
    /// model; `None` when its prices are unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// The messages sent (JSON) and the model's raw answer, kept as `[llm] retain` says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_output: Option<String>,
}

/// Which emails keep the prompt and the model's raw answer with their accounting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Retention {
    /// None: only the accounting is kept.
    None,
    /// Those whose model content was refused by a guard (to see why).
    #[default]
    Fallbacks,
    /// All of them.
    All,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("guard `{guard}` failed: {detail}")]
pub struct GuardFailure {
    pub guard: &'static str,
    pub detail: String,
}

fn fail(guard: &'static str, detail: impl Into<String>) -> Result<(), GuardFailure> {
    Err(GuardFailure {
        guard,
        detail: detail.into(),
    })
}

/// What content may contain beyond the fixed checks of [`guard`]: the hosts its links
/// may point to and the phrases it must not use. Configured as `[guards]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuardConfig {
    /// Hosts links may point to (a host also allows its subdomains). engage's own
    /// public URL is always allowed. Empty: no links at all.
    pub allowed_link_hosts: Vec<String>,
    /// Phrases refused anywhere in the content, compared without case and with
    /// runs of whitespace as one space.
    pub banned_phrases: Vec<String>,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            allowed_link_hosts: Vec::new(),
            banned_phrases: [
                "act now",
                "click here",
                "limited time only",
                "risk-free",
                "100% free",
                "guaranteed",
                "as an ai",
                "language model",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

impl GuardConfig {
    /// [`guard`], then the links and the banned phrases.
    pub fn check(&self, c: &Content) -> Result<(), GuardFailure> {
        guard(c)?;
        for (part, text) in [
            ("subject", &c.subject),
            ("preheader", &c.preheader),
            ("body", &c.body_text),
        ] {
            let links = if part == "body" {
                crate::links::links_in_markdown(text)
            } else {
                crate::links::addresses_in_text(text)
            };
            let policy = self.link_policy();
            for link in links {
                if let Err(why) = policy.allows(&link) {
                    return fail("link", format!("{why} in the {part}"));
                }
            }
            let normalized = normalize(text);
            if let Some(p) = self
                .banned_phrases
                .iter()
                .find(|p| !p.trim().is_empty() && normalized.contains(&normalize(p)))
            {
                return fail("banned_phrase", format!("`{}` in the {part}", p.trim()));
            }
        }
        Ok(())
    }

    /// The hosts links may point to, for the guard and the renderer.
    pub fn link_policy(&self) -> LinkPolicy {
        LinkPolicy::new(&self.allowed_link_hosts)
    }

    /// The HTML of `body_text`, its links limited to the allowed hosts.
    pub fn render_html(&self, body_text: &str) -> String {
        render_html_with(body_text, &self.link_policy())
    }

    /// Allows links to `host` as well (engage's own public address).
    pub fn allow_host(&mut self, host: &str) {
        let host = host.to_ascii_lowercase();
        if !host.is_empty() && !self.allowed_link_hosts.contains(&host) {
            self.allowed_link_hosts.push(host);
        }
    }
}

/// Lower case, runs of whitespace as one space.
fn normalize(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The checks all content passes before it is recorded, whoever wrote it.
pub fn guard(c: &Content) -> Result<(), GuardFailure> {
    let subject_len = c.subject.chars().count();
    if subject_len == 0 || subject_len > 120 {
        return fail(
            "subject_length",
            format!("{subject_len} characters, want 1–120"),
        );
    }
    if c.preheader.chars().count() > 200 {
        return fail("preheader_length", "over 200 characters");
    }
    let body_len = c.body_text.chars().count();
    if !(20..=6000).contains(&body_len) {
        return fail(
            "body_length",
            format!("{body_len} characters, want 20–6000"),
        );
    }
    for (part, text) in [
        ("subject", &c.subject),
        ("preheader", &c.preheader),
        ("body", &c.body_text),
    ] {
        if let Some(p) = unresolved_placeholder(text) {
            return fail("placeholder", format!("unresolved `{p}` in the {part}"));
        }
        if text
            .chars()
            .any(|ch| ch.is_control() && ch != '\n' && ch != '\t')
        {
            return fail("control_characters", format!("in the {part}"));
        }
    }
    if c.subject.contains('\n') || c.preheader.contains('\n') {
        return fail("single_line", "subject and preheader are one line");
    }
    Ok(())
}

fn unresolved_placeholder(text: &str) -> Option<&str> {
    for (open, close) in [("{", "}"), ("[", "]")] {
        let mut rest = text;
        while let Some(i) = rest.find(open) {
            let after = &rest[i + 1..];
            let Some(j) = after.find(close) else { break };
            let inner = &after[..j];
            let looks_like_placeholder = !inner.is_empty()
                && inner.len() <= 40
                && inner
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ' ')
                && (open == "{"
                    || inner
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c == '_' || c == ' '));
            if looks_like_placeholder {
                return Some(&rest[i..i + 1 + j + 1]);
            }
            rest = &after[j + 1..];
        }
    }
    None
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    pulldown_cmark::html::push_html(
        &mut out,
        std::iter::once(pulldown_cmark::Event::Text(s.into())),
    );
    out.replace('"', "&quot;").replace('\'', "&#39;")
}

/// [`render_html_with`] allowing no links: every link is shown as its text.
pub fn render_html(body_text: &str) -> String {
    render_html_with(body_text, &LinkPolicy::default())
}

/// HTML for a text body written in a small Markdown subset: paragraphs, line breaks,
/// `*emphasis*`, `**strong**`, lists and `[links](https://…)`. Everything else is
/// shown as text: raw HTML, images, code, headings (as strong paragraphs), and links
/// that `links` does not allow (another host, user information, not http(s)): the
/// guard refuses those, and the renderer enforces it again. Text is always escaped,
/// so nothing in it becomes markup.
pub fn render_html_with(body_text: &str, links: &LinkPolicy) -> String {
    use pulldown_cmark::{CowStr, Event, Parser, Tag, TagEnd};
    let mut link_depth = Vec::new();
    let events = Parser::new(body_text).flat_map(|event| -> Vec<Event<'_>> {
        match event {
            Event::Html(h) | Event::InlineHtml(h) => vec![Event::Text(h)],
            Event::Code(c) => vec![Event::Text(c)],
            Event::SoftBreak => vec![Event::HardBreak],
            Event::Start(Tag::Heading { .. }) => {
                vec![Event::Start(Tag::Paragraph), Event::Start(Tag::Strong)]
            }
            Event::End(TagEnd::Heading(_)) => {
                vec![Event::End(TagEnd::Strong), Event::End(TagEnd::Paragraph)]
            }
            Event::Start(Tag::CodeBlock(_)) => vec![Event::Start(Tag::Paragraph)],
            Event::End(TagEnd::CodeBlock) => vec![Event::End(TagEnd::Paragraph)],
            Event::Start(Tag::Image { dest_url, .. }) => {
                link_depth.push(false);
                vec![Event::Text(CowStr::from(format!("[image: {dest_url}] ")))]
            }
            Event::End(TagEnd::Image) => {
                link_depth.pop();
                vec![]
            }
            Event::Start(Tag::Link {
                dest_url,
                title,
                link_type,
                id,
            }) => {
                let safe = links.allows(&dest_url).is_ok();
                link_depth.push(safe);
                if safe {
                    vec![Event::Start(Tag::Link {
                        dest_url,
                        title,
                        link_type,
                        id,
                    })]
                } else {
                    vec![]
                }
            }
            Event::End(TagEnd::Link) => match link_depth.pop() {
                Some(true) => vec![Event::End(TagEnd::Link)],
                _ => vec![],
            },
            Event::Start(Tag::BlockQuote(_)) | Event::End(TagEnd::BlockQuote(_)) => vec![],
            other => vec![other],
        }
    });
    let mut out = String::with_capacity(body_text.len() * 5 / 4 + 16);
    pulldown_cmark::html::push_html(&mut out, events);
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(subject: &str, body: &str) -> Content {
        Content {
            subject: subject.into(),
            preheader: String::new(),
            body_text: body.into(),
        }
    }

    #[test]
    fn good_content_passes() {
        assert_eq!(
            guard(&content(
                "Hello Ada",
                "Hi Ada,\n\nYour next Fix is waiting."
            )),
            Ok(())
        );
    }

    #[test]
    fn placeholders_and_bad_lengths_fail() {
        let body = "Hi {first_name}, your next Fix is waiting.";
        assert_eq!(
            guard(&content("Hello", body)).unwrap_err().guard,
            "placeholder"
        );
        assert_eq!(
            guard(&content("Hi [NAME]", "Your next Fix is waiting for you."))
                .unwrap_err()
                .guard,
            "placeholder"
        );
        assert_eq!(
            guard(&content("", "Your next Fix is waiting for you."))
                .unwrap_err()
                .guard,
            "subject_length"
        );
        assert_eq!(
            guard(&content("Hi", "short")).unwrap_err().guard,
            "body_length"
        );
    }

    #[test]
    fn html_is_escaped_and_paragraphed() {
        let html = render_html("Hi <b>Ada</b> & co,\n\nline one\nline two");
        assert_eq!(
            html,
            "<p>Hi &lt;b&gt;Ada&lt;/b&gt; &amp; co,</p>\n<p>line one<br />\nline two</p>"
        );
    }

    #[test]
    fn the_markdown_subset_renders_and_nothing_else_becomes_markup() {
        let html = render_html_with(
            "**New** picks for *you*:\n\n- linen\n- denim\n\n[your Fix](https://example.com/fix) \
             [x](javascript:alert(1)) ![img](https://t.example/p.png)\n\n# Big\n\n<script>alert(1)</script>",
            &LinkPolicy::new(&["example.com"]),
        );
        assert!(html.contains("<strong>New</strong>"), "{html}");
        assert!(html.contains("<em>you</em>"), "{html}");
        assert!(html.contains("<li>linen</li>"), "{html}");
        assert!(
            html.contains("<a href=\"https://example.com/fix\">your Fix</a>"),
            "{html}"
        );
        assert!(!html.contains("javascript:alert(1)\""), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<h1>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<script>"), "{html}");
    }

    #[test]
    fn links_must_point_to_allowed_hosts() {
        let mut g = GuardConfig::default();
        let with = |body: &str| content("Hello Ada", body);
        let c = with("Hi Ada, see https://evil.example.net/x for your new picks.");
        let e = g.check(&c).unwrap_err();
        assert_eq!(
            (e.guard, e.detail.contains("evil.example.net")),
            ("link", true)
        );
        assert_eq!(
            g.check(&with("Hi Ada, see www.Evil.example for your picks."))
                .unwrap_err()
                .guard,
            "link"
        );
        assert_eq!(
            g.check(&with(
                "Hi Ada, [see](http://user@evil.example/) your picks."
            ))
            .unwrap_err()
            .detail,
            "a link with a user name before `evil.example` in the body"
        );
        g.allow_host("shop.example.com");
        assert_eq!(
            g.check(&with(
                "Hi Ada, your picks: https://shop.example.com/fix?x=1."
            )),
            Ok(())
        );
        assert_eq!(
            g.check(&with(
                "Hi Ada, your picks: https://eu.shop.example.com/fix."
            )),
            Ok(())
        );
        assert_eq!(
            g.check(&with("Hi Ada, see https://shop.example.com.evil.net/"))
                .unwrap_err()
                .guard,
            "link"
        );
    }

    #[test]
    fn allow_list_bypasses_are_refused_by_the_guard_and_by_the_renderer() {
        let mut g = GuardConfig::default();
        g.allow_host("shop.example.com");
        g.allow_host("127.0.0.1");
        for body in [
            "Hi Ada, see https://shop.example.com:x@evil.example/ for your picks.",
            "Hi Ada, see [picks](https://SHOP.EXAMPLE.COM:x@evil.example/) for you.",
            "Hi Ada, see https\\://evil.example/login for your picks.",
            "Hi Ada, see https&#58;//evil.example/login for your picks.",
            "Hi <https://127.0.0.1:1@evil.example/login>, your picks are in.",
            "Hi Ada, [your picks](javascript:alert(1)) are in.",
        ] {
            let e = g.check(&content("Hello Ada", body)).unwrap_err();
            assert_eq!(e.guard, "link", "{body}: {e}");
            // And were it recorded anyway, no link to anywhere but the shop.
            let html = g.render_html(body);
            assert!(
                !html.contains("href=\"https://shop.example.com:x@"),
                "{html}"
            );
            assert!(!html.contains("evil.example\""), "{html}");
            assert!(!html.contains("<a href=\"javascript"), "{html}");
        }
        let html = g.render_html("Hi Ada, [your picks](https://shop.example.com/fix) are in.");
        assert!(
            html.contains("<a href=\"https://shop.example.com/fix\">"),
            "{html}"
        );
        let html = g.render_html("Hi <https://127.0.0.1:1@evil.example/login>, hello.");
        assert!(!html.contains("<a "), "{html}");
    }

    #[test]
    fn banned_phrases_are_found_whatever_the_case_and_spacing() {
        let g = GuardConfig {
            banned_phrases: vec!["Act now".into()],
            ..GuardConfig::default()
        };
        let e = g
            .check(&content(
                "Hello Ada",
                "Your next Fix is here: ACT\n  NOW before it goes.",
            ))
            .unwrap_err();
        assert_eq!(e.guard, "banned_phrase");
        assert_eq!(
            g.check(&content("Hello Ada", "Your next Fix is waiting for you.")),
            Ok(())
        );
    }
}
