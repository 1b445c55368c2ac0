//! What the services' HTTP APIs share: bearer-token authentication with partner tenancy, RFC 9457
//! problem+json errors, and extractors that turn client mistakes into problems.

pub mod auth;
pub mod extract;
pub mod problem;
