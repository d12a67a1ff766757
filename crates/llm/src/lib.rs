//! engage's content generators: implementations of `engage_core::ports::ContentGenerator`.
//!
//! [`TemplateGenerator`] fills a campaign's fallback template deterministically; it is
//! the generator when no LLM is configured and the fallback when the LLM fails or its
//! output fails a guard. [`OpenAiGenerator`] writes each email with a model behind any
//! OpenAI-compatible chat-completions endpoint; [`prompt`] is what it is told.

mod limits;
mod openai;
pub mod prompt;
mod spend;
mod template;
#[cfg(feature = "testing")]
pub mod testing;

pub use openai::{Moderation, OpenAiGenerator, OpenAiSettings};
pub use spend::Prices;
pub use template::{TemplateGenerator, render_template};
