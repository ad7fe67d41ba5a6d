//! Structured logs with tracing: pretty for a terminal (coloured only there), JSON for
//! collectors. Every line of a request carries its request id (the `request` span);
//! each request ends with one access line (`request finished`: status, route, time).
//! Lines for a file, a pipe or a collector are written by [`line`]'s formatters, in
//! tracing-subscriber's shapes at a fraction of their cost; a person at a terminal
//! gets tracing-subscriber's coloured lines.
//!
//! Lines are formatted on the request's thread and written by a writer thread
//! (tracing-appender's non-blocking writer, kept rather than hand-written): a request
//! never waits on a write to the terminal, a pipe or a log collector, and the lines of
//! a burst go out together, one write for all of them. It is not lossy: when the
//! writer falls 128,000 lines behind, requests wait rather than lines being dropped.

use std::io::IsTerminal as _;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LoggingConfig};

pub mod line;

/// Installs the subscriber. Keep the guard until the process ends: dropping it writes
/// the lines still waiting.
pub fn init(logging: &LoggingConfig) -> Option<WorkerGuard> {
    let filter = EnvFilter::try_new(&logging.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let colour = std::io::stdout().is_terminal();
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("idp-log-writer")
        .finish(std::io::BufWriter::new(std::io::stdout()));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match logging.format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .fmt_fields(line::JsonFields)
                    .event_format(line::JsonLine)
                    .with_writer(writer),
            )
            .try_init(),
        // Colour only for a person at a terminal: escape codes in a file or a
        // collector are noise and cost.
        LogFormat::Pretty if colour => registry
            .with(tracing_subscriber::fmt::layer().with_writer(writer))
            .try_init(),
        LogFormat::Pretty => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .fmt_fields(line::TextFields)
                    .event_format(line::TextLine)
                    .with_ansi(false)
                    .with_writer(writer),
            )
            .try_init(),
    };
    if result.is_err() {
        eprintln!("tracing was already initialised");
        return None;
    }
    Some(guard)
}
