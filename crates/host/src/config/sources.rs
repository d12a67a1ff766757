//! Where the configuration comes from, in priority order: the embedded defaults, the
//! TOML file (`engage.toml`, or the one `ENGAGE_CONFIG` names), the environment
//! (`ENGAGE_*`, nested keys joined with `__`: `ENGAGE_POLICY__FREQUENCY_CAP=3` is
//! `policy.frequency_cap`), then the command line's flags ([`Overrides`]).
//!
//! Each source becomes a JSON tree; the trees are merged (a table merges key by key,
//! anything else replaces) and the result is deserialized into [`Config`], whose
//! `deny_unknown_fields` refuses a misspelt key by name. An error names the key's
//! path and the source that set it.
//!
//! Written here rather than with figment (which `engage` used before) so that the
//! Lambda functions read their `ENGAGE_*` settings with the same code, without a
//! configuration framework in every binary: what is left is a merge of JSON trees,
//! `toml` for the file and for typing a variable's value, and `serde_path_to_error`
//! for the key an error is about.

use super::{Config, Overrides};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// `ENGAGE_*` names that are not configuration keys: the config file's name, the log
/// format, and the origin secret the Lambda `api` function reads itself.
const NOT_KEYS: &[&str] = &["config", "log_format", "origin_secret"];

/// The environment's prefix.
const PREFIX: &str = "ENGAGE_";

impl Config {
    /// Reads the process's sources: the file (`ENGAGE_CONFIG`, else `engage.toml` when
    /// it exists) and the `ENGAGE_*` variables, under `overrides`.
    pub(super) fn from_process(overrides: &Overrides) -> anyhow::Result<Self> {
        let named = std::env::var_os("ENGAGE_CONFIG").map(PathBuf::from);
        let path = named.clone().unwrap_or_else(|| "engage.toml".into());
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if named.is_some() {
                    anyhow::bail!(
                        "ENGAGE_CONFIG names {}, which does not exist",
                        path.display()
                    );
                }
                None
            }
            Err(e) => anyhow::bail!("configuration: reading {}: {e}", path.display()),
        };
        let env = env_vars(std::env::vars_os())?;
        Self::from_sources(text.as_deref().map(|t| (path.as_path(), t)), env, overrides)
    }

    /// The configuration from a file's text (with its path, for errors), environment
    /// variables (those without the `ENGAGE_` prefix are ignored) and `overrides`,
    /// checked as [`Config::validate_settings`] does.
    pub fn from_sources(
        file: Option<(&Path, &str)>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> anyhow::Result<Self> {
        let mut sources = Sources::default();
        if let Some((path, text)) = file {
            let table: toml::Table = toml::from_str(text)
                .map_err(|e| anyhow::anyhow!("configuration: {}: {e}", path.display()))?;
            sources.layer(to_json(toml::Value::Table(table)), &|key| {
                format!("{key} in {}", path.display())
            });
        }
        sources.env(env)?;
        let mut flags = Map::new();
        if let Some(a) = overrides.addr {
            flags.insert("addr".into(), Value::String(a.to_string()));
        }
        if let Some(d) = &overrides.data_dir {
            flags.insert("data_dir".into(), serde_json::to_value(d)?);
        }
        if let Some(b) = overrides.backend {
            flags.insert("backend".into(), serde_json::to_value(b)?);
        }
        sources.layer(Value::Object(flags), &|key| {
            format!("--{}", key.replace('_', "-"))
        });
        let config = sources.extract()?;
        config.validate_settings()?;
        Ok(config)
    }
}

/// The `ENGAGE_*` variables as strings; one that is not UTF-8 is refused by name.
fn env_vars(
    vars: impl Iterator<Item = (OsString, OsString)>,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (k, v) in vars {
        let Some(k) = k.to_str().filter(|k| k.starts_with(PREFIX)) else {
            continue;
        };
        let v = v
            .into_string()
            .map_err(|_| anyhow::anyhow!("configuration: {k} is not valid UTF-8"))?;
        out.push((k.to_string(), v));
    }
    Ok(out)
}

/// The merged tree, what set each key, and the variables' raw text.
#[derive(Default)]
struct Sources {
    tree: Map<String, Value>,
    /// A key's dotted path → the source that set it last (for error messages).
    origin: BTreeMap<String, String>,
    /// A variable's key path → its text, for a string setting whose value looked
    /// like a number or a boolean (`ENGAGE_ADMIN_TOKEN=1234…`).
    raw: BTreeMap<String, String>,
}

impl Sources {
    fn layer(&mut self, value: Value, describe: &dyn Fn(&str) -> String) {
        if let Value::Object(map) = value {
            let mut leaves = Vec::new();
            for (k, v) in &map {
                paths(v, k.clone(), &mut leaves);
            }
            for path in leaves {
                let described = describe(&path);
                self.origin.insert(path, described);
            }
            merge(&mut self.tree, map);
        }
    }

    fn env(&mut self, vars: impl IntoIterator<Item = (String, String)>) -> anyhow::Result<()> {
        let mut layer = Map::new();
        for (name, text) in vars {
            let Some(key) = name.strip_prefix(PREFIX) else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            if NOT_KEYS.contains(&key.as_str()) {
                continue;
            }
            let parts: Vec<&str> = key.split("__").collect();
            if parts.iter().any(|p| p.is_empty()) {
                anyhow::bail!(
                    "configuration: {name} is not a configuration key (an empty part between `__`)"
                );
            }
            insert(&mut layer, &parts, typed(&text));
            let path = parts.join(".");
            self.origin.insert(path.clone(), name.clone());
            self.raw.insert(path, text);
        }
        merge(&mut self.tree, layer);
        Ok(())
    }

    /// The defaults with every source merged over them, deserialized. A variable
    /// whose text was typed (a number, a boolean) where the key wants a string is
    /// taken as its text.
    fn extract(mut self) -> anyhow::Result<Config> {
        let Value::Object(mut tree) = serde_json::to_value(Config::default())? else {
            unreachable!("Config serializes to a table");
        };
        merge(&mut tree, std::mem::take(&mut self.tree));
        let mut tree = Value::Object(tree);
        loop {
            let error = match serde_path_to_error::deserialize::<_, Config>(&tree) {
                Ok(config) => return Ok(config),
                Err(e) => e,
            };
            let mut path = error.path().to_string();
            let mut inner = error.into_inner();
            if path == "."
                && let Some((p, e)) = engine_error(&tree)
            {
                (path, inner) = (p, e);
            }
            if inner.to_string().contains("expected a string")
                && let Some(text) = self.raw.remove(&path)
                && let Some(leaf) = leaf_mut(&mut tree, &path)
            {
                *leaf = Value::String(text);
                continue;
            }
            anyhow::bail!(
                "configuration: {}",
                self.describe(&path, &inner.to_string())
            );
        }
    }

    /// `path: error`, with the source of the key (or of the nearest key above it).
    fn describe(&self, path: &str, error: &str) -> String {
        // An unknown key at the top is reported at `.` (the engine's settings are
        // flattened into the top table, and serde buffers it); name it in full.
        let unknown = error
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next());
        let full = match (unknown, path) {
            (Some(field), "." | "") => field.to_string(),
            (_, p) => p.to_string(),
        };
        let mut at = full.as_str();
        let source = loop {
            if let Some(s) = self.origin.get(at) {
                break Some(s);
            }
            match at.rfind('.') {
                Some(i) => at = &at[..i],
                None => break None,
            }
        };
        match source {
            Some(s) => format!("{full}: {error} (set by {s})"),
            None => format!("{full}: {error}"),
        }
    }
}

/// The engine's settings are flattened into the top table, and serde reports an
/// error inside them at the top (`.`): read them alone to learn the key's path.
fn engine_error(tree: &Value) -> Option<(String, serde_json::Error)> {
    use engage_core::config::EngineConfig;
    let Ok(Value::Object(engine_keys)) = serde_json::to_value(EngineConfig::default()) else {
        return None;
    };
    let engine: Map<String, Value> = tree
        .as_object()?
        .iter()
        .filter(|(k, _)| engine_keys.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let e = serde_path_to_error::deserialize::<_, EngineConfig>(Value::Object(engine)).err()?;
    Some((e.path().to_string(), e.into_inner()))
}

/// A variable's text as TOML would read it as a value (`3`, `true`, `0.8`,
/// `["a", "b"]`, `{ kind = "x" }`, `"quoted"`), else as the text itself; a list in
/// brackets may leave its strings bare (`[shop.example.com, help.example.com]`).
fn typed(text: &str) -> Value {
    if let Ok(mut t) = toml::from_str::<toml::Table>(&format!("v = {text}")) {
        return t.remove("v").map(to_json).unwrap_or(Value::Null);
    }
    let trimmed = text.trim();
    match trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        Some(items) if !items.contains(['[', ']', '"', '\'']) => Value::Array(
            items
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(typed)
                .collect(),
        ),
        _ => Value::String(text.to_string()),
    }
}

/// TOML's value as JSON; a date or time as its text.
fn to_json(v: toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => Value::from(f),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.into_iter().map(to_json).collect()),
        toml::Value::Table(t) => {
            Value::Object(t.into_iter().map(|(k, v)| (k, to_json(v))).collect())
        }
    }
}

/// Merges `over` into `into`: tables key by key, anything else replaced.
fn merge(into: &mut Map<String, Value>, over: Map<String, Value>) {
    for (k, v) in over {
        match (into.get_mut(&k), v) {
            (Some(Value::Object(a)), Value::Object(b)) => merge(a, b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

fn insert(map: &mut Map<String, Value>, parts: &[&str], value: Value) {
    match parts {
        [] => {}
        [last] => {
            map.insert((*last).to_string(), value);
        }
        [first, rest @ ..] => {
            let entry = map
                .entry((*first).to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(inner) = entry {
                insert(inner, rest, value);
            }
        }
    }
}

/// Every leaf's dotted path (a table's keys; arrays are leaves).
fn paths(v: &Value, prefix: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                paths(v, p, out);
            }
        }
        _ => out.push(prefix),
    }
}

fn leaf_mut<'a>(tree: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    path.split('.').try_fold(tree, |v, k| v.get_mut(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variables_text_is_typed_as_toml_reads_a_value() {
        assert_eq!(typed("3"), Value::from(3));
        assert_eq!(typed("true"), Value::Bool(true));
        assert_eq!(typed("0.8"), Value::from(0.8));
        assert_eq!(typed("[\"a\", \"b\"]"), serde_json::json!(["a", "b"]));
        assert_eq!(typed("\"quoted\""), Value::String("quoted".into()));
        for text in [
            "127.0.0.1:9000",
            "Studio <hi@example.com>",
            "gpt-4o-mini",
            "",
            "0123",
        ] {
            assert_eq!(typed(text), Value::String(text.into()), "{text}");
        }
        assert_eq!(typed("2026-03-02"), Value::String("2026-03-02".into()));
        assert_eq!(
            typed("[shop.example.com, help.example.com]"),
            serde_json::json!(["shop.example.com", "help.example.com"])
        );
        assert_eq!(
            typed("[old-key-0123456789, 3]"),
            serde_json::json!(["old-key-0123456789", 3])
        );
    }

    #[test]
    fn tables_merge_key_by_key_and_leaves_are_replaced() {
        let mut a =
            serde_json::json!({"policy": {"frequency_cap": 1, "quiet_start_hour": 21}, "x": [1]});
        let b = serde_json::json!({"policy": {"frequency_cap": 3}, "x": [2, 3]});
        let (Value::Object(a_map), Value::Object(b_map)) = (&mut a, b) else {
            unreachable!()
        };
        merge(a_map, b_map);
        assert_eq!(
            a,
            serde_json::json!({"policy": {"frequency_cap": 3, "quiet_start_hour": 21}, "x": [2, 3]})
        );
    }

    #[test]
    fn a_variable_that_is_not_utf8_is_refused_by_name() {
        use std::os::unix::ffi::OsStringExt as _;
        let bad = OsString::from_vec(vec![0xff, 0xfe]);
        let e = env_vars(
            [
                (OsString::from("PATH"), bad.clone()),
                (OsString::from("ENGAGE_LLM__MODEL"), bad),
            ]
            .into_iter(),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(e, "configuration: ENGAGE_LLM__MODEL is not valid UTF-8");
    }
}
