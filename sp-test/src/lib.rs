//! `sp-test` as a library: the parts the end-to-end tests drive directly.
//!
//! - [`phone`]: the reference phone app for certificate login by QR code or autostart.

pub mod phone;
