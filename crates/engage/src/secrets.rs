//! The process's secrets: the admin API token and the unsubscribe key. Both come from
//! the environment when set; otherwise they are created once and kept in the data
//! directory (the token only as a SHA-256 hash, shown in plain text once).

use anyhow::Context as _;
use engage_embedded::Store;
use rand::Rng as _;
use std::path::Path;

const ADMIN_TOKEN_KEY: &str = "admin_token_sha256";

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill(&mut buf[..]);
    hex::encode(buf)
}

pub use engage_host::token_hash;

/// The accepted admin token hashes, and the token created now (if this is the first
/// start without `ENGAGE_ADMIN_TOKEN`), which the caller prints once.
pub async fn admin_tokens(
    store: &Store,
    from_env: Option<&str>,
) -> anyhow::Result<(Vec<[u8; 32]>, Option<String>)> {
    let mut hashes = Vec::new();
    if let Some(t) = from_env {
        anyhow::ensure!(
            t.len() >= 16,
            "ENGAGE_ADMIN_TOKEN must be at least 16 characters"
        );
        hashes.push(token_hash(t));
    }
    let stored = store.meta_get(ADMIN_TOKEN_KEY).await?;
    let mut created = None;
    match stored {
        Some(h) => hashes.push(parse_hash(&h)?),
        None if from_env.is_none() => {
            let token = format!("eng_{}", random_hex(24));
            let h = hex::encode(token_hash(&token));
            let kept = store.meta_init(ADMIN_TOKEN_KEY, &h).await?;
            hashes.push(parse_hash(&kept)?);
            if kept == h {
                created = Some(token);
            }
        }
        None => {}
    }
    Ok((hashes, created))
}

/// Replaces the stored admin token with a new one and returns it.
pub async fn rotate_admin_token(store: &Store) -> anyhow::Result<String> {
    let token = format!("eng_{}", random_hex(24));
    store
        .meta_set(ADMIN_TOKEN_KEY, &hex::encode(token_hash(&token)))
        .await?;
    Ok(token)
}

fn parse_hash(h: &str) -> anyhow::Result<[u8; 32]> {
    let bytes = hex::decode(h).context("stored admin token hash is not hex")?;
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("stored admin token hash has the wrong length"))
}

/// The unsubscribe key: from configuration, else `{data_dir}/unsubscribe.key`,
/// created with owner-only permissions on first use.
pub fn unsubscribe_secret(configured: Option<&str>, data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    if let Some(s) = configured {
        anyhow::ensure!(
            s.len() >= 16,
            "ENGAGE_UNSUBSCRIBE_SECRET must be at least 16 characters"
        );
        return Ok(s.as_bytes().to_vec());
    }
    let path = data_dir.join("unsubscribe.key");
    if let Ok(s) = std::fs::read_to_string(&path) {
        let s = s.trim();
        anyhow::ensure!(s.len() >= 32, "{} is too short to be a key", path.display());
        return Ok(s.as_bytes().to_vec());
    }
    let key = random_hex(32);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    use std::io::Write as _;
    let mut f = opts
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(key.as_bytes())?;
    f.sync_all()?;
    Ok(key.into_bytes())
}
