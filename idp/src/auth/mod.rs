//! Certificate login: one validation path (chain, validity, key usage, policy → LoA,
//! revocation) used by every login method, identity mapping through the directory, and
//! the mutual-TLS login listener.

pub mod revocation;
