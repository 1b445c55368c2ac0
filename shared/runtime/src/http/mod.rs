//! What the services' HTTP APIs share: bearer-token authentication with partner tenancy, RFC 9457
//! problem+json errors, and extractors that turn client mistakes into problems.

pub mod auth;
pub mod extract;
pub mod listener;
pub mod problem;

/// Installs the process's TLS crypto provider (ring, the one NATS uses) if none is yet. Every HTTP
/// client in the workspace shares reqwest's rustls, which takes the process default; call this
/// before building one. Calling it again is harmless.
pub fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
