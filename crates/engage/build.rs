//! A release build embeds the console's files (`web/dist`, the `console` feature)
//! through rust-embed, whose derive reads the folder once and tracks only the files it
//! found. So that a build cannot keep a stale or missing console, the release build
//! reruns (and re-embeds) whenever anything under `web/dist` changes, or while it does
//! not exist. `make run` relies on this: it builds the console beside cargo, then runs
//! cargo once more, which recompiles only if the console's files changed after the
//! first build read them.
//!
//! Debug builds read `web/dist` from disk at each request, so they track nothing.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let console = std::env::var_os("CARGO_FEATURE_CONSOLE").is_some();
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    if console && release {
        println!("cargo:rerun-if-changed=../../web/dist");
    }
}
