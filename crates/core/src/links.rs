//! Links in generated content: which ones an email contains, and whether each may
//! go out.
//!
//! The links are found the way a reader's software will find them: in the Markdown
//! events the renderer turns into HTML (link and image destinations, after Markdown's
//! own unescaping, so `https\://…` or `https&#58;//…` are seen as the `https://…` they
//! render as), and in the text, raw and rendered, since mail clients turn any web
//! address in a text into a link. Each is parsed with a real URL parser (WHATWG, the
//! `url` crate, which is what browsers do), and allowed only when it is `http` or
//! `https`, has no user information (`https://shop.example:x@evil.example/` goes to
//! `evil.example`), and its host is an allowed one or a subdomain of one, compared
//! label by label after the parser's normalisation. The renderer applies the same
//! rule ([`LinkPolicy::allows`]), so a link that somehow passed the guard still never
//! becomes an `<a href>`.

use pulldown_cmark::{Event, Parser, Tag};

/// The hosts links may point to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkPolicy {
    hosts: Vec<String>,
}

impl LinkPolicy {
    /// Links to `hosts` (and their subdomains) only; none: no links at all.
    pub fn new<S: AsRef<str>>(hosts: &[S]) -> Self {
        Self {
            hosts: hosts
                .iter()
                .filter_map(|h| normalize_host(h.as_ref()))
                .collect(),
        }
    }

    /// `Ok` when `link` may go out; otherwise what is wrong with it.
    pub fn allows(&self, link: &str) -> Result<(), String> {
        let with_scheme;
        let candidate = if link
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("www."))
        {
            with_scheme = format!("http://{link}");
            &with_scheme
        } else {
            link
        };
        let url = url::Url::parse(candidate).map_err(|_| format!("`{link}` is not a valid URL"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("a `{}:` link", url.scheme()));
        }
        let host = url.host_str().unwrap_or_default().trim_end_matches('.');
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("a link with a user name before `{host}`"));
        }
        let allowed = self.hosts.iter().any(|a| {
            host == a
                || host
                    .strip_suffix(a.as_str())
                    .is_some_and(|p| p.ends_with('.'))
        });
        if allowed {
            Ok(())
        } else {
            Err(format!("a link to `{host}`"))
        }
    }
}

/// A configured host as the URL parser would give it (lower case, IDNA), or `None`.
fn normalize_host(h: &str) -> Option<String> {
    let h = h.trim().trim_end_matches('.');
    if h.is_empty() {
        return None;
    }
    url::Url::parse(&format!("http://{h}/"))
        .ok()
        .and_then(|u| u.host_str().map(|s| s.trim_end_matches('.').to_string()))
}

/// Every link in a Markdown `body`: the destinations of its links and images, and
/// the web addresses in its text, rendered and raw.
pub fn links_in_markdown(body: &str) -> Vec<String> {
    let mut found = Vec::new();
    // The parser splits a text at escapes and entities (`https`, `:`, `//…`): runs
    // of text are joined before they are read, as a reader sees them.
    let mut text = String::new();
    for event in Parser::new(body) {
        match event {
            Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => {
                text.push_str(&t)
            }
            other => {
                if let Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) =
                    other
                {
                    found.push(dest_url.to_string());
                }
                found.extend(addresses_in_text(&text));
                text.clear();
                text.push(' ');
            }
        }
    }
    found.extend(addresses_in_text(&text));
    found.extend(addresses_in_text(body));
    found.dedup();
    found
}

/// The web addresses in plain `text` (`http://`, `https://`, `www.`, any case), each
/// up to the first character that cannot be part of one.
pub fn addresses_in_text(text: &str) -> Vec<String> {
    let lower = text.to_ascii_lowercase();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lower.len() {
        let rest = &lower[i..];
        let starts = rest.starts_with("http://")
            || rest.starts_with("https://")
            || (rest.starts_with("www.")
                && lower[..i]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '/' || c == '.')));
        if starts {
            let end = text[i..]
                .find(|c: char| {
                    c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | '`' | '\\')
                })
                .map_or(text.len(), |n| i + n);
            // Sentence punctuation after an address is not part of it.
            let address = text[i..end].trim_end_matches(['.', ',', ';', '!', '?', ')', ']']);
            found.push(address.to_string());
            i = end.max(i + 1);
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shop() -> LinkPolicy {
        LinkPolicy::new(&["shop.example.com", "127.0.0.1"])
    }

    #[test]
    fn allowed_hosts_and_their_subdomains_pass() {
        for ok in [
            "https://shop.example.com/fix?x=1",
            "https://eu.shop.example.com/fix",
            "HTTPS://SHOP.EXAMPLE.COM./fix",
            "www.shop.example.com/a",
            "http://127.0.0.1:8080/u/tok",
        ] {
            assert_eq!(shop().allows(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn userinfo_lookalikes_and_other_schemes_are_refused() {
        for (bad, why) in [
            ("https://shop.example.com:x@evil.example/", "user name"),
            ("https://127.0.0.1:1@evil.example/login", "user name"),
            ("https://shop.example.com@evil.example/", "user name"),
            (
                "https://shop.example.com.evil.net/",
                "`shop.example.com.evil.net`",
            ),
            ("https://evilshop.example.com/", "`evilshop.example.com`"),
            ("javascript:alert(1)", "`javascript:`"),
            ("mailto:a@evil.example", "`mailto:`"),
            ("https://", "not a valid URL"),
        ] {
            let e = shop().allows(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert!(
            LinkPolicy::default()
                .allows("https://shop.example.com/")
                .is_err()
        );
    }

    #[test]
    fn links_are_found_as_the_renderer_and_mail_clients_see_them() {
        let body = "Hi [Ada](https://a.example/x), see https\\://b.example/y and \
                    https&#58;//c.example/z, <https://d.example/w> or WWW.E.example. \
                    ![p](https://f.example/p.png)";
        let found = links_in_markdown(body);
        for host in [
            "a.example",
            "b.example",
            "c.example",
            "d.example",
            "E.example",
            "f.example",
        ] {
            assert!(
                found.iter().any(|l| l.contains(host)),
                "{host} in {found:?}"
            );
        }
        assert_eq!(
            addresses_in_text("see https://x.example/a."),
            ["https://x.example/a"]
        );
        assert!(addresses_in_text("no links in here, www2 or awww.").is_empty());
    }
}
