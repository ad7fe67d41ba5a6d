//! Mobile app login: the order engine behind the QR code (app on another device) and the
//! autostart link (app on this device), modelled on the public BankID RP API v6 shape.
//!
//! The browser starts an order for its pending login and polls it; the phone app claims
//! it (scanned QR content or autostart token), shows the user where they are logging in,
//! signs the challenge with the certificate's key and returns signature and chain; the
//! certificate then goes through the same engine as every certificate login. Orders live
//! in the session store (any node serves any poll) and move between states only by
//! compare-and-swap, so each step happens once even under races.

mod backend;
mod engine;
mod error;
mod order;
mod qr;
mod signature;

pub use backend::{MobileBackend, OrderSummary};
pub use engine::{ClaimStart, Claimed, OrderEngine, OrderSettings, StartedOrder};
pub use error::MobileError;
pub use order::{Collect, Hint, OrderDisplay, Status};
pub use qr::{qr_content, QR_PREFIX};
