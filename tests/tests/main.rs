//! The end-to-end suite: one test binary (one link step), one module per concern.
//! Run it with `tests/run`, which starts PostgreSQL and installs what is missing.

mod dev_pki;
mod server;
mod session_store;
mod storage;
