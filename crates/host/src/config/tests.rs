//! The configuration's loading and checks, through the real sources' merge.

use super::*;
use std::path::Path;

/// Loads from a file's text and variables, checking every secret as
/// [`Config::load`] does (without touching the process's environment).
fn load_with(toml: &str, env: &[(&str, &str)], overrides: &Overrides) -> Result<Config, String> {
    let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    Config::from_sources(Some((Path::new("engage.toml"), toml)), env, overrides)
        .and_then(|c| c.require_secrets(Secrets::ALL).map(|()| c))
        .map_err(|e| e.to_string())
}

fn load(toml: &str, env: &[(&str, &str)]) -> Result<Config, String> {
    load_with(toml, env, &Overrides::default())
}

#[test]
fn zero_configuration_gives_the_embedded_defaults() {
    let c = load("", &[]).unwrap();
    assert_eq!(c.addr.to_string(), "127.0.0.1:8080");
    assert_eq!(c.data_dir, PathBuf::from("./data"));
    assert_eq!(c.backend, Backend::Embedded);
    assert_eq!(c.public_url(), "http://127.0.0.1:8080");
    assert_eq!(c.engine.campaigns.len(), 5);
}

#[test]
fn the_file_and_the_environment_set_nested_keys() {
    let c = load(
        "addr = \"127.0.0.1:9000\"\nfrom = \"Studio <hi@example.com>\"\n[policy]\nfrequency_cap = 3\n[scoring]\nchampion_at = 85\n",
        &[
            ("ENGAGE_POLICY__QUIET_START_HOUR", "22"),
            ("ENGAGE_PIPELINE__WORKERS", "2"),
            ("ENGAGE_DATA_DIR", "/tmp/engage-data"),
            ("ENGAGE_LOG_FORMAT", "json"),
        ],
    )
    .unwrap();
    assert_eq!(c.addr.port(), 9000);
    assert_eq!(c.data_dir, PathBuf::from("/tmp/engage-data"));
    assert_eq!(c.engine.from, "Studio <hi@example.com>");
    assert_eq!(c.engine.policy.frequency_cap, 3);
    assert_eq!(c.engine.policy.quiet_start_hour, 22);
    assert_eq!(c.engine.scoring.champion_at, 85);
    assert_eq!(c.pipeline.workers, 2);
}

#[test]
fn an_error_names_the_key_and_the_source_that_set_it() {
    let e = load("", &[("ENGAGE_PIPELINE__WORKERS", "many")]).unwrap_err();
    assert!(
        e.starts_with("configuration: pipeline.workers: invalid type"),
        "{e}"
    );
    assert!(e.ends_with("(set by ENGAGE_PIPELINE__WORKERS)"), "{e}");
    let e = load("", &[("ENGAGE_ADRR", "127.0.0.1:1")]).unwrap_err();
    assert!(
        e.starts_with("configuration: adrr: unknown field `adrr`"),
        "{e}"
    );
    assert!(e.ends_with("(set by ENGAGE_ADRR)"), "{e}");
    let e = load("[pipeline]\nwokers = 2\n", &[]).unwrap_err();
    assert!(
        e.starts_with("configuration: pipeline.wokers: unknown field"),
        "{e}"
    );
    assert!(
        e.ends_with("(set by pipeline.wokers in engage.toml)"),
        "{e}"
    );
    let e = load("[pipeline\n", &[]).unwrap_err();
    assert!(e.starts_with("configuration: engage.toml: "), "{e}");
    let e = load("", &[("ENGAGE_POLICY__FREQUENCY_CAP", "x")]).unwrap_err();
    assert!(
        e.starts_with("configuration: policy.frequency_cap: invalid type"),
        "{e}"
    );
    assert!(e.ends_with("(set by ENGAGE_POLICY__FREQUENCY_CAP)"), "{e}");
    let e = load("", &[("ENGAGE_POLICY____CAP", "1")]).unwrap_err();
    assert!(
        e.contains("ENGAGE_POLICY____CAP is not a configuration key"),
        "{e}"
    );
}

#[test]
fn a_string_setting_keeps_a_variables_text_that_looks_like_a_number() {
    let token = "738205619374025816394720";
    let c = load(
        "",
        &[
            ("ENGAGE_ADMIN_TOKEN", token),
            ("ENGAGE_UNSUBSCRIBE_SECRET", "1234567890123456789"),
            ("ENGAGE_LLM__MODEL", "4"),
        ],
    )
    .unwrap();
    assert_eq!(c.admin_token.as_deref(), Some(token));
    assert_eq!(c.unsubscribe_secret.as_deref(), Some("1234567890123456789"));
    assert_eq!(c.llm.model.as_deref(), Some("4"));
}

#[test]
fn the_environment_overrides_the_file_and_flags_override_both() {
    let file = "addr = \"127.0.0.1:9000\"\n";
    let env = [("ENGAGE_ADDR", "127.0.0.1:9001")];
    assert_eq!(load(file, &[]).unwrap().addr.port(), 9000);
    assert_eq!(load(file, &env).unwrap().addr.port(), 9001);
    let flag = Overrides {
        addr: Some("127.0.0.1:9002".parse().unwrap()),
        ..Overrides::default()
    };
    assert_eq!(load_with(file, &env, &flag).unwrap().addr.port(), 9002);
}

#[test]
fn the_llm_section_chooses_and_configures_the_generator() {
    let c = load(
        "[llm]\ngenerator = \"openai\"\nbase_url = \"http://127.0.0.1:11434/v1\"\nmodel = \"llama3.1\"\nmax_attempts = 2\nrpm = 500\ntpm = 200000\nprice_per_million_input_tokens = 0.2\nprice_per_million_output_tokens = 0.8\ndaily_cost_budget_usd = 5.0\n",
        &[],
    )
    .unwrap();
    let s = c
        .llm
        .openai()
        .unwrap()
        .expect("the OpenAI-compatible generator");
    assert_eq!(
        (s.base_url.as_str(), s.model.as_str(), s.max_attempts),
        ("http://127.0.0.1:11434/v1", "llama3.1", 2)
    );
    assert_eq!((s.rpm, s.tpm), (Some(500), Some(200_000)));
    assert_eq!(s.prices.map(|p| p.output_per_million), Some(0.8));
    assert_eq!(s.daily_cost_budget_usd, Some(5.0));
    assert!(s.moderation.is_none());
    let c = load("[llm]\ngenerator = \"openai\"\nbase_url = \"http://127.0.0.1:8000/v1/\"\nmoderation = true\n", &[]).unwrap();
    let m = c.llm.openai().unwrap().unwrap().moderation.unwrap();
    assert_eq!(
        (m.url.as_str(), m.model.as_str()),
        (
            "http://127.0.0.1:8000/v1/moderations",
            "omni-moderation-latest"
        )
    );
    let c = load("[llm]\ngenerator = \"template\"\n", &[]).unwrap();
    assert!(c.llm.openai().unwrap().is_none());
    for bad in [
        "[llm]\ntimeout_secs = 0\n",
        "[llm]\nmax_attempts = 50\n",
        "[llm]\nbase_url = \"ftp://x\"\n",
        "[llm]\nrpm = 0\n",
        "[llm]\nprice_per_million_input_tokens = 0.15\n",
        "[llm]\ndaily_cost_budget_usd = -1.0\n",
        "[llm]\nmoderation_url = \"localhost/mod\"\n",
    ] {
        let e = load(bad, &[]).unwrap_err();
        assert!(e.contains("llm."), "{bad}: {e}");
    }
    let e = load("[llm]\napi_key = \"sk-in-the-repo\"\n", &[]).unwrap_err();
    assert!(
        e.contains("api_key"),
        "keys come from the environment or a file: {e}"
    );
}

#[test]
fn the_guards_are_configured_in_the_file_or_the_environment() {
    let c = load(
        "[guards]\nbanned_phrases = [\"hurry\"]\n",
        &[(
            "ENGAGE_GUARDS__ALLOWED_LINK_HOSTS",
            "[shop.example.com, help.example.com]",
        )],
    )
    .unwrap();
    assert_eq!(c.engine.guards.banned_phrases, ["hurry"]);
    assert_eq!(
        c.engine.guards.allowed_link_hosts,
        ["shop.example.com", "help.example.com"]
    );
    let e = load("[guards]\nbanned_phrases = [\"hurry\"]\n[[campaigns]]\nname = \"welcome\"\ntrigger = { kind = \"new_client\", within_days = 7 }\ninstructions = \"x\"\ntemplate = { subject = \"Hurry, Sam\", preheader = \"\", body = \"Hello there, welcome to the studio.\" }\n", &[]).unwrap_err();
    assert!(
        e.contains("banned_phrase"),
        "the templates pass the configured guards: {e}"
    );
}

#[test]
fn the_aws_section_loads_the_stacks_variables() {
    let c = load(
        "backend = \"aws\"\n[aws]\nregion = \"eu-west-1\"\nprefix = \"engage-dev\"\n",
        &[
            ("ENGAGE_ADMIN_TOKEN", "3f0c9a7e51d2b84c06e1f7a9"),
            ("ENGAGE_UNSUBSCRIBE_SECRET", "fedcba9876543210"),
            ("ENGAGE_AWS__USERS_TABLE", "Stack-Users-1"),
            ("ENGAGE_AWS__EMAILS_TABLE", "Stack-Emails-1"),
            ("ENGAGE_AWS__LEDGER_TABLE", "Stack-Ledger-1"),
            (
                "ENGAGE_AWS__EVENTS_TOPIC_ARN",
                "arn:aws:sns:eu-west-1:1:events",
            ),
            (
                "ENGAGE_AWS__EMAIL_QUEUE_URL",
                "https://sqs.eu-west-1.amazonaws.com/1/email",
            ),
            (
                "ENGAGE_AWS__EMAIL_QUEUE_ARN",
                "arn:aws:sqs:eu-west-1:1:email",
            ),
            (
                "ENGAGE_AWS__FEEDBACK_QUEUE_ARN",
                "arn:aws:sqs:eu-west-1:1:feedback",
            ),
            (
                "ENGAGE_AWS__OPENAI_API_KEY_SECRET_ARN",
                "arn:aws:secretsmanager:x",
            ),
            (
                "ENGAGE_AWS__UNSUBSCRIBE_SECRET_ARN",
                "arn:aws:secretsmanager:y",
            ),
            (
                "ENGAGE_AWS__ADMIN_TOKEN_SECRET_ARN",
                "arn:aws:secretsmanager:z",
            ),
        ],
    )
    .unwrap();
    assert_eq!(c.backend, Backend::Aws);
    assert_eq!(c.aws.region.as_deref(), Some("eu-west-1"));
    #[cfg(feature = "aws")]
    {
        let r = c.aws.resources();
        assert_eq!(r.users_table, "Stack-Users-1");
        assert_eq!(r.emails_table, "Stack-Emails-1");
        assert_eq!(r.ledger_table, "Stack-Ledger-1");
        assert_eq!(r.email_dlq, "engage-dev-email-dlq");
    }
    assert_eq!(
        c.aws.events_topic_arn.as_deref(),
        Some("arn:aws:sns:eu-west-1:1:events")
    );
    let e = load("[aws]\nprefx = \"x\"\n", &[]).unwrap_err();
    assert!(e.contains("prefx"), "{e}");
}

#[test]
fn secrets_are_redacted_when_the_configuration_is_printed() {
    let c = load(
        "",
        &[
            ("ENGAGE_ADMIN_TOKEN", "3f0c9a7e51d2b84c06e1f7a9"),
            ("ENGAGE_UNSUBSCRIBE_SECRET", "fedcba9876543210-key"),
            (
                "ENGAGE_UNSUBSCRIBE_PREVIOUS_SECRETS",
                "[old-key-0123456789]",
            ),
        ],
    )
    .unwrap();
    let printed = format!("{c:?}");
    for secret in [
        "3f0c9a7e51d2b84c06e1f7a9",
        "fedcba9876543210-key",
        "old-key-0123456789",
    ] {
        assert!(!printed.contains(secret), "{printed}");
    }
    assert_eq!(c.admin_token.as_deref(), Some("3f0c9a7e51d2b84c06e1f7a9"));
}

#[test]
fn unknown_or_invalid_keys_are_refused_with_their_name() {
    let e = load("[policy]\nfrequency_kap = 3\n", &[]).unwrap_err();
    assert!(e.contains("frequency_kap"), "{e}");
    let e = load("addr = \"nowhere\"\n", &[]).unwrap_err();
    assert!(e.contains("addr"), "{e}");
    let e = load("[scoring]\nengaged_at = 90\n", &[]).unwrap_err();
    assert!(e.contains("thresholds"), "{e}");
    let e = load("", &[("ENGAGE_ADRR", "127.0.0.1:1")]).unwrap_err();
    assert!(e.contains("adrr"), "{e}");
    let e = load("backend = \"aws\"\n", &[]).unwrap_err();
    assert!(e.contains("admin_token"), "{e}");
    let e = load(
        "backend = \"aws\"\nadmin_token = \"3f0c9a7e51d2b84c06e1f7a9\"\n",
        &[],
    )
    .unwrap_err();
    assert!(e.contains("unsubscribe_secret"), "{e}");
    let e = load("", &[("ENGAGE_ADMIN_TOKEN", "0123456789abcdef")]).unwrap_err();
    assert!(
        e.contains("admin_token") && e.contains("too easy to guess"),
        "{e}"
    );
    let e = load("[pipeline]\nbatch_size = 0\n", &[]).unwrap_err();
    assert!(e.contains("pipeline.batch_size"), "{e}");
    let e = load("", &[("ENGAGE_PIPELINE__WORKERS", "0")]).unwrap_err();
    assert!(e.contains("pipeline.workers"), "{e}");
    let broken = "[[campaigns]]\nname = \"welcome\"\ntrigger = { kind = \"new_client\", within_days = 7 }\ninstructions = \"x\"\ntemplate = { subject = \"Hi {nmae}\", preheader = \"\", body = \"Hello there, welcome to the studio.\" }\n";
    let e = load(broken, &[]).unwrap_err();
    assert!(e.contains("welcome") && e.contains("{nmae}"), "{e}");
}

#[test]
fn the_annotated_example_in_the_operations_docs_loads() {
    let doc = include_str!("../../../../docs/operations.md");
    let start = doc.find("```toml\n").expect("a toml block") + 8;
    let end = start + doc[start..].find("```").expect("its end");
    let c = load(&doc[start..end], &[]).unwrap();
    assert_eq!(c.public_url(), "https://engage.example.com");
    assert_eq!(c.engine.campaigns.len(), 1);
    assert_eq!(c.engine.campaigns[0].cooldown_days, None);
    assert_eq!((c.pipeline.workers, c.pipeline.batch_size), (8, 100));
}
