//! The log line for files, pipes and collectors, in the shapes of tracing-subscriber's
//! `json()` and plain `fmt` formats, written straight into the line's buffer.
//!
//! tracing-subscriber's own formatters are general: its JSON format builds each line
//! through serde, reparsing the span's fields from the JSON text it stored for them, and
//! its plain format paints every part with an (empty) colour. That was a third of the
//! CPU of a small request (docs/benchmarks.md, "The access line"). These formatters keep
//! tracing-subscriber's layer, filter and writer, and only write the line themselves:
//! the same keys and order for collectors, the timestamp's date and time made once a
//! second, values escaped as they are written.
//!
//! The plain line escapes control characters in every value (a value cannot start a
//! line of its own or send a terminal escape), as tracing-subscriber's does.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use time::OffsetDateTime;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_log::NormalizeEvent as _;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use crate::clock::{Clock as _, SystemClock};

/// One JSON object per line: `timestamp`, `level`, `fields` (the message among them),
/// `target`, and `span` (the innermost span's fields and its `name`).
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonLine;

/// A span's fields as JSON members (`"key":value,...`), for [`JsonLine`].
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonFields;

/// `timestamp  LEVEL span{key=value}: target: message key=value ...`
#[derive(Debug, Clone, Copy, Default)]
pub struct TextLine;

/// A span's fields as `key=value` pairs, for [`TextLine`].
#[derive(Debug, Clone, Copy, Default)]
pub struct TextFields;

impl<S> FormatEvent<S, JsonFields> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        writer.write_str("{\"timestamp\":\"")?;
        write_timestamp(&mut writer, SystemClock.now())?;
        writer.write_str("\",\"level\":\"")?;
        writer.write_str(meta.level().as_str())?;
        writer.write_str("\",\"fields\":{")?;
        write_fields(Style::Json, &mut writer, true, event)?;
        writer.write_str("},\"target\":")?;
        json_string(&mut writer, meta.target())?;
        let span = event
            .parent()
            .and_then(|id| ctx.span(id))
            .or_else(|| ctx.lookup_current());
        if let Some(span) = span {
            writer.write_str(",\"span\":{")?;
            let extensions = span.extensions();
            if let Some(fields) = extensions.get::<FormattedFields<JsonFields>>() {
                if !fields.fields.is_empty() {
                    writer.write_str(&fields.fields)?;
                    writer.write_char(',')?;
                }
            }
            writer.write_str("\"name\":")?;
            json_string(&mut writer, span.metadata().name())?;
            writer.write_char('}')?;
        }
        writer.write_str("}\n")
    }
}

impl<S> FormatEvent<S, TextFields> for TextLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, TextFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        write_timestamp(&mut writer, SystemClock.now())?;
        writer.write_str(padded_level(*meta.level()))?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                writer.write_str(span.metadata().name())?;
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<TextFields>>() {
                    if !fields.fields.is_empty() {
                        writer.write_char('{')?;
                        writer.write_str(&fields.fields)?;
                        writer.write_char('}')?;
                    }
                }
                writer.write_char(':')?;
            }
            writer.write_char(' ')?;
        }
        writer.write_str(meta.target())?;
        writer.write_str(": ")?;
        write_fields(Style::Text, &mut writer, true, event)?;
        writer.write_char('\n')
    }
}

/// Both formats keep a span's fields as they write an event's: [`JsonFields`] as JSON
/// members, [`TextFields`] as `key=value` pairs.
macro_rules! span_fields {
    ($fields:ty, $style:expr) => {
        impl<'w> FormatFields<'w> for $fields {
            fn format_fields<R: RecordFields>(
                &self,
                mut writer: Writer<'w>,
                fields: R,
            ) -> fmt::Result {
                write_fields($style, &mut writer, true, fields)
            }

            fn add_fields(
                &self,
                current: &'w mut FormattedFields<Self>,
                fields: &tracing::span::Record<'_>,
            ) -> fmt::Result {
                let first = current.fields.is_empty();
                write_fields($style, &mut current.as_writer(), first, fields)
            }
        }
    };
}

span_fields!(JsonFields, Style::Json);
span_fields!(TextFields, Style::Text);

/// The level as the plain line shows it: right-aligned in five, one space either side.
fn padded_level(level: Level) -> &'static str {
    match level {
        Level::TRACE => " TRACE ",
        Level::DEBUG => " DEBUG ",
        Level::INFO => "  INFO ",
        Level::WARN => "  WARN ",
        Level::ERROR => " ERROR ",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    /// `"key":value` members, separated by commas; text and other values as JSON
    /// strings, numbers and booleans as themselves.
    Json,
    /// `key=value` pairs, separated by spaces; the message bare, text quoted, other
    /// values as they debug-format; control characters escaped everywhere.
    Text,
}

/// Writes `fields` in `style`; `first` when nothing is written before them.
fn write_fields(
    style: Style,
    writer: &mut Writer<'_>,
    first: bool,
    fields: impl RecordFields,
) -> fmt::Result {
    let mut visitor = FieldWriter {
        style,
        writer,
        first,
        result: Ok(()),
    };
    fields.record(&mut visitor);
    visitor.result
}

struct FieldWriter<'a, 'w> {
    style: Style,
    writer: &'a mut Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl FieldWriter<'_, '_> {
    /// Writes one field: the separator unless it is the first, its name, then `value`,
    /// escaped for the style (as the inside of a JSON string when `quoted`).
    fn field(&mut self, field: &Field, value: fmt::Arguments<'_>, quoted: bool) {
        let name = field.name();
        // A `log` record's `log.` fields are already in its normalized metadata.
        if self.result.is_ok() && !name.starts_with("log.") {
            let name = name.strip_prefix("r#").unwrap_or(name);
            let first = std::mem::take(&mut self.first);
            self.result = self.write_field(first, name, value, quoted);
        }
    }

    fn write_field(
        &mut self,
        first: bool,
        name: &str,
        value: fmt::Arguments<'_>,
        quoted: bool,
    ) -> fmt::Result {
        let writer = &mut *self.writer;
        match self.style {
            Style::Json => {
                if !first {
                    writer.write_char(',')?;
                }
                json_string(writer, name)?;
                writer.write_char(':')?;
                if !quoted {
                    return writer.write_fmt(value);
                }
                writer.write_char('"')?;
                JsonEscaped(&mut *writer).write_fmt(value)?;
                writer.write_char('"')
            }
            Style::Text => {
                if !first {
                    writer.write_char(' ')?;
                }
                if name != "message" {
                    writer.write_str(name)?;
                    writer.write_char('=')?;
                }
                ControlEscaped(writer).write_fmt(value)
            }
        }
    }
}

impl Visit for FieldWriter<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.style == Style::Text && field.name() != "message" {
            self.field(field, format_args!("{value:?}"), true);
        } else {
            self.field(field, format_args!("{value}"), true);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.field(field, format_args!("{value:?}"), true);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.field(field, format_args!("{value}"), true);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, format_args!("{value}"), false);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, format_args!("{value}"), false);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, format_args!("{value}"), false);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // JSON has no NaN nor infinity: those are null, as serde_json writes them.
        if self.style == Style::Json && !value.is_finite() {
            self.field(field, format_args!("null"), false);
        } else {
            self.field(field, format_args!("{value:?}"), false);
        }
    }
}

/// `s` as a JSON string, quotes included.
fn json_string(writer: &mut impl fmt::Write, s: &str) -> fmt::Result {
    writer.write_char('"')?;
    JsonEscaped(writer).write_str(s)?;
    writer.write_char('"')
}

/// Writes what it is given escaped for the inside of a JSON string: quotes, backslashes
/// and control characters, C1 included (JSON allows those raw, a terminal showing the
/// line may not).
struct JsonEscaped<'a, W: ?Sized>(&'a mut W);

impl<W: fmt::Write + ?Sized> fmt::Write for JsonEscaped<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let bytes = s.as_bytes();
        let mut plain = 0;
        for (i, &byte) in bytes.iter().enumerate() {
            let (escape, width) = match byte {
                b'"' => ("\\\"", 1),
                b'\\' => ("\\\\", 1),
                b'\n' => ("\\n", 1),
                b'\r' => ("\\r", 1),
                b'\t' => ("\\t", 1),
                0..=0x1f | 0x7f => ("", 1),
                0xc2 if matches!(bytes.get(i + 1), Some(0x80..=0x9f)) => ("", 2),
                _ => continue,
            };
            self.0.write_str(&s[plain..i])?;
            if escape.is_empty() {
                let code = s[i..i + width].chars().next().map_or(0, u32::from);
                write!(self.0, "\\u{code:04x}")?;
            } else {
                self.0.write_str(escape)?;
            }
            plain = i + width;
        }
        self.0.write_str(&s[plain..])
    }
}

/// Writes what it is given with control characters escaped (`\n`, `\u{1b}`).
struct ControlEscaped<'a, W: ?Sized>(&'a mut W);

impl<W: fmt::Write + ?Sized> fmt::Write for ControlEscaped<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Control characters are C0 and DEL (one byte each) and C1 (0xC2 and a second
        // byte): text without those bytes is written as it is, most text.
        let Some(start) = s.bytes().position(|b| b < 0x20 || b == 0x7f || b == 0xc2) else {
            return self.0.write_str(s);
        };
        self.0.write_str(&s[..start])?;
        let s = &s[start..];
        let mut plain = 0;
        for (i, c) in s.char_indices() {
            if c.is_control() {
                self.0.write_str(&s[plain..i])?;
                write!(self.0, "{}", c.escape_default())?;
                plain = i + c.len_utf8();
            }
        }
        self.0.write_str(&s[plain..])
    }
}

/// `now` as RFC 3339 in UTC with microseconds (`2026-12-07T17:04:33.123456Z`), as
/// tracing-subscriber writes it. The date and time to the second are formatted once a
/// second on each thread.
fn write_timestamp(writer: &mut impl fmt::Write, now: OffsetDateTime) -> fmt::Result {
    let now = now.to_offset(time::UtcOffset::UTC);
    let second = now.unix_timestamp();
    thread_local! {
        static SECOND: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
    }
    SECOND.with(|cached| {
        let mut cached = cached.borrow_mut();
        if cached.0 != second {
            cached.1.clear();
            write!(
                cached.1,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                now.year(),
                u8::from(now.month()),
                now.day(),
                now.hour(),
                now.minute(),
                now.second()
            )?;
            cached.0 = second;
        }
        writer.write_str(&cached.1)
    })?;
    let mut digits = *b".000000Z";
    let mut rest = now.microsecond();
    for digit in digits[1..7].iter_mut().rev() {
        *digit = b'0' + u8::try_from(rest % 10).unwrap_or(0);
        rest /= 10;
    }
    writer.write_str(std::str::from_utf8(&digits).map_err(|_| fmt::Error)?)
}

#[cfg(test)]
mod tests;
