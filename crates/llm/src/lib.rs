//! engage's content generators: implementations of `engage_core::ports::ContentGenerator`.
//!
//! [`TemplateGenerator`] fills a campaign's fallback template deterministically; it is
//! the generator when no LLM is configured and the fallback when the LLM fails or its
//! output fails a guard. The OpenAI-compatible generator will live beside it in its own
//! module and be re-exported here the same way.

mod template;

pub use template::{TemplateGenerator, render_template};
