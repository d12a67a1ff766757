//! The email processor (`engage_core::processor`) driven directly, over the in-memory
//! reference store and scripted fakes (`engage_core::testing::memory`): fast, no I/O,
//! every time from a manual clock. Each module is one concern; `world` builds the
//! engine and plays the stream processor.

mod compose;
mod consent;
mod decisions;
mod delivery;
mod feedback;
mod races;
mod timing;
mod world;
