//! What a rate limit adds to a request: one GCRA check on the in-memory session store
//! (read, compute, compare-and-swap), for a fresh client address and for one address
//! under its quota, against nothing. The limit is the only per-request cost of the abuse
//! limits on the hot path (connection limits are per connection).
//!
//! Run from anywhere: `cargo bench -p idp --bench rate_limit`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{criterion_group, criterion_main, Criterion};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use idp::clock::SystemClock;
use idp::rate_limit::RateLimiter;
use idp::session::{MemoryStore, SharedStore};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let clock = Arc::new(SystemClock);
    let store: SharedStore = Arc::new(MemoryStore::with_max_entries(clock.clone(), 5_000_000));
    let limiter = RateLimiter::new(store, clock);
    let counter = AtomicU64::new(0);
    let mut group = c.benchmark_group("rate_limit");
    group.bench_function("check, a new client address each time", |b| {
        b.iter(|| {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            rt.block_on(limiter.check(&format!("login-start:10.{n}"), 120))
                .unwrap()
        })
    });
    group.bench_function("check, one address within a large quota", |b| {
        b.iter(|| {
            rt.block_on(limiter.check("token:192.0.2.1", u32::MAX))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
