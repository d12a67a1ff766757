//! The request bodies of the client writes: the JSON `POST /api/v1/users`,
//! `PATCH /api/v1/users/{id}` and `POST /api/v1/users/{id}/activity` accept, kept
//! apart from the domain's values so that changing one does not change the other.
//!
//! Each body refuses fields it does not know, is described in the OpenAPI document
//! under the component name the document has always used (`NewClient`,
//! `ClientPatch`, `Activity`, `StyleProfile`), and becomes a checked domain value
//! through [`TryIntoDomain`]. Serde's messages name the type a value was expected
//! to be (`expected struct NewClient`); each body says `expecting` with the name its
//! refusals always had.
//!
//! - `clients`: [`NewClientBody`], [`ClientPatchBody`] and their [`StyleProfileBody`];
//! - `activity`: [`ActivityBody`].

mod activity;
mod clients;

pub(crate) use activity::ActivityBody;
pub(crate) use clients::{ClientPatchBody, NewClientBody};

use engage_core::ValidationError;

/// A body that becomes a domain value once its fields pass the domain's checks; a
/// refusal names the field.
pub(crate) trait TryIntoDomain {
    type Domain;
    fn try_into_domain(self) -> Result<Self::Domain, ValidationError>;
}

#[cfg(test)]
mod tests;
