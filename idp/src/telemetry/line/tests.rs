use std::io;
use std::sync::{Arc, Mutex};

use tracing_subscriber::layer::SubscriberExt as _;

use super::*;

/// Everything written to it, for reading back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| io::Error::other("poisoned"))?
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8(bytes).unwrap_or_default()
    }
}

#[derive(Debug)]
struct Failure;

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the store did not answer")
    }
}

impl std::error::Error for Failure {}

/// The events of a request as the IdP writes them, in the `request` span, and one
/// outside it.
fn a_request() {
    tracing::info!(started = true, "listening");
    let span = tracing::info_span!("request", request_id = %"7f3c-a1", method = %"POST");
    span.in_scope(|| {
        tracing::info!(status = 200_u16, route = %"/oidc/token", elapsed_ms = 3_u64, "request finished");
        tracing::warn!(
            client = "region \"appen\"",
            delta = -4_i64,
            ratio = 0.25,
            whole = 2.0,
            values = ?vec![1, 2],
            error = &Failure as &(dyn std::error::Error + 'static),
            "a value with {} in it",
            "formatting"
        );
    });
}

/// Which formatter writes the lines.
#[derive(Clone, Copy)]
enum Format {
    OurJson,
    TheirJson,
    OurText,
    TheirText,
}

/// The lines `format` writes for the events `emit` makes.
fn lines(format: Format, emit: impl Fn()) -> String {
    let out = Captured::default();
    let writer = {
        let out = out.clone();
        move || out.clone()
    };
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(writer);
    let run = |dispatch: tracing::Dispatch| tracing::dispatcher::with_default(&dispatch, &emit);
    match format {
        Format::OurJson => run(tracing_subscriber::registry()
            .with(layer.fmt_fields(JsonFields).event_format(JsonLine))
            .into()),
        Format::TheirJson => run(tracing_subscriber::registry()
            .with(layer.json().with_current_span(true).with_span_list(false))
            .into()),
        Format::OurText => run(tracing_subscriber::registry()
            .with(layer.fmt_fields(TextFields).event_format(TextLine))
            .into()),
        Format::TheirText => run(tracing_subscriber::registry().with(layer).into()),
    }
    out.text()
}

fn json_lines(format: Format) -> Vec<serde_json::Value> {
    lines(format, a_request)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

#[test]
fn json_lines_are_what_tracing_subscriber_wrote_but_the_time() {
    let mut ours = json_lines(Format::OurJson);
    let mut theirs = json_lines(Format::TheirJson);
    assert_eq!(ours.len(), 3);
    for line in &ours {
        let timestamp = line["timestamp"].as_str().unwrap_or_default();
        assert_eq!(timestamp.len(), 27, "{timestamp}");
        assert!(time::OffsetDateTime::parse(
            timestamp,
            &time::format_description::well_known::Rfc3339
        )
        .is_ok());
    }
    for line in ours.iter_mut().chain(theirs.iter_mut()) {
        line.as_object_mut().map(|o| o.remove("timestamp"));
    }
    assert_eq!(ours, theirs);
    assert_eq!(ours[1]["fields"]["message"], "request finished");
    assert_eq!(ours[1]["fields"]["status"], 200);
    assert_eq!(ours[1]["span"]["request_id"], "7f3c-a1");
    assert_eq!(ours[1]["span"]["name"], "request");
    assert_eq!(ours[2]["fields"]["client"], "region \"appen\"");
    assert_eq!(ours[2]["fields"]["error"], "the store did not answer");
}

#[test]
fn text_lines_are_what_tracing_subscriber_wrote_but_the_time() {
    let ours = lines(Format::OurText, a_request);
    let theirs = lines(Format::TheirText, a_request);
    let without_time = |text: &str| -> Vec<String> {
        text.lines()
            .map(|line| line.split_once(' ').map(|(_, rest)| rest.to_owned()))
            .collect::<Option<_>>()
            .unwrap_or_default()
    };
    assert_eq!(without_time(&ours), without_time(&theirs), "{ours}");
    assert!(ours.contains(
        "  INFO request{request_id=7f3c-a1 method=POST}: idp::telemetry::line::tests: \
         request finished status=200 route=/oidc/token elapsed_ms=3\n"
    ));
}

#[test]
fn a_value_cannot_start_a_line_or_send_a_terminal_escape() {
    let forged = "ok\n2026-12-07T00:00:00.000000Z  INFO forged: \u{1b}[2J \u{9b}2J Åsa";
    let emit = || tracing::info!(route = %forged, name = forged, "request finished");
    for format in [Format::OurJson, Format::OurText] {
        let text = lines(format, emit);
        assert_eq!(text.matches('\n').count(), 1, "one line: {text}");
        assert!(!text.contains(['\u{1b}', '\u{9b}']), "no escape: {text}");
        assert!(text.contains("Åsa"), "other text unchanged: {text}");
        if let Format::OurJson = format {
            let line: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            assert_eq!(
                line["fields"]["route"], forged,
                "the value survives: {text}"
            );
        }
    }
}

#[test]
fn the_time_is_written_in_utc_with_microseconds() {
    let written = |at: OffsetDateTime| {
        let mut text = String::new();
        assert!(write_timestamp(&mut text, at).is_ok());
        text
    };
    let at = time::macros::datetime!(2026-12-07 17:04:33.000042 UTC);
    assert_eq!(written(at), "2026-12-07T17:04:33.000042Z");
    // The second's text is kept per thread: the next second and an offset are right.
    let later = at + time::Duration::milliseconds(1_500);
    assert_eq!(written(later), "2026-12-07T17:04:34.500042Z");
    let stockholm = later.to_offset(time::macros::offset!(+1));
    assert_eq!(written(stockholm), "2026-12-07T17:04:34.500042Z");
    assert_eq!(
        written(time::macros::datetime!(2027-01-01 00:00:00 UTC)),
        "2027-01-01T00:00:00.000000Z"
    );
}
