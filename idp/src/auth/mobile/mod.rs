//! Mobile app login: the order engine behind the QR code (app on another device) and the
//! autostart link (app on this device), modelled on the public BankID RP API v6 shape.
//!
//! The browser starts an order for its pending login and polls it; the phone app claims
//! it (scanned QR content or autostart token), shows the user where they are logging in,
//! signs the challenge with the certificate's key and returns signature and chain; the
//! certificate then goes through the same engine as every certificate login. Orders live
//! in the session store (any node serves any poll) and move between states only by
//! compare-and-swap, so each step happens once even under races.
//!
//! `external/` is the other backend: a relying party of an external national eID service
//! of the same shape; `router.rs` picks the backend by tenant.

mod backend;
mod certificate;
mod engine;
mod error;
pub mod external;
mod order;
mod qr;
mod router;
mod signature;

pub use backend::{AppLinks, MobileBackend, OrderSummary, StartRequest};
pub use engine::{ClaimStart, Claimed, OrderEngine, OrderSettings, StartedOrder};
pub use error::MobileError;
pub use order::{Collect, Hint, OrderDisplay, Status};
pub use qr::{qr_content, service_qr_content, QR_PREFIX};
pub use router::MobileBackends;
