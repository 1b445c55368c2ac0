//! The HTTP routes, each documented for the OpenAPI document with `#[utoipa::path]`.

pub mod ace;
pub mod agenda;
pub mod applications;
pub mod calendar;
pub mod dead_letters;
pub mod engagement;
pub mod preflight;
pub mod system;
pub mod withdrawal;
