//! One Forward frame → what it asks for: a keep-alive, a handshake PING, or events in one of the
//! four modes (Message, Forward, PackedForward, CompressedPackedForward) with their options.

use std::io::Read;

use super::msgpack::{Head, MsgpackError, Reader};
use super::record::{Fields, Origin, push_record};
use storage::tables::LogsBlock;

/// A frame the listener refuses; the connection is closed.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error(transparent)]
    Msgpack(#[from] MsgpackError),
    #[error("invalid forward frame: {0}")]
    Invalid(&'static str),
    #[error("unsupported compression `{0}` (gzip and text are accepted)")]
    Compression(String),
    #[error("decompressed entries exceed {limit} bytes")]
    TooLarge { limit: usize },
    #[error("gzip entries could not be read: {0}")]
    Gzip(String),
    #[error("fluent_signal {0} is not logs: only logs are accepted over Forward")]
    Signal(u64),
}

/// What a frame asks for.
#[derive(Debug)]
pub(crate) enum Frame<'a> {
    /// `nil`: a TCP keep-alive.
    KeepAlive,
    /// `["PING", hostname, shared_key_salt, digest, username, password_digest]`.
    Ping([&'a [u8]; 5]),
    /// Events of one tag.
    Events(Events<'a>),
}

/// The options map (last element).
#[derive(Debug, Default)]
pub(crate) struct Options<'a> {
    /// Present: the client waits for `{"ack": chunk}`.
    pub(crate) chunk: Option<&'a [u8]>,
    compressed: Option<&'a [u8]>,
    signal: Option<u64>,
}

#[derive(Debug)]
enum Entries<'a> {
    /// Message mode: one time and one record.
    Message { time: &'a [u8], record: &'a [u8] },
    /// Forward mode: the items of the entries array (count, bytes after the array head).
    Array(usize, &'a [u8]),
    /// PackedForward: a stream of `[time, record]` values, maybe gzip.
    Packed(&'a [u8]),
}

/// An events frame, not yet decoded into rows.
#[derive(Debug)]
pub(crate) struct Events<'a> {
    pub(crate) tag: &'a [u8],
    entries: Entries<'a>,
    pub(crate) options: Options<'a>,
}

/// Reads one frame (a whole msgpack value).
pub(crate) fn parse(frame: &[u8]) -> Result<Frame<'_>, FrameError> {
    let mut r = Reader::new(frame);
    let n = match r.head()? {
        Head::Nil => return Ok(Frame::KeepAlive),
        Head::Array(n) => n,
        _ => return Err(FrameError::Invalid("a frame must be an array or nil")),
    };
    if n < 2 {
        return Err(FrameError::Invalid(
            "an event frame has at least 2 elements",
        ));
    }
    let tag = r.str_or_bin("the tag must be a string")?;
    if tag == b"PING" {
        if n != 6 {
            return Err(FrameError::Invalid("PING must have exactly 6 elements"));
        }
        let mut parts = [&[][..]; 5];
        for p in &mut parts {
            *p = r.str_or_bin("PING elements must be strings")?;
        }
        return Ok(Frame::Ping(parts));
    }
    let second = r.value()?;
    let entries = match Reader::new(second).head()? {
        Head::Array(count) => {
            Entries::Array(count, &second[second.len() - array_body_len(second)?..])
        }
        Head::Str(s) | Head::Bin(s) => Entries::Packed(s),
        _ => {
            // Message mode: [tag, time, record, option?]
            if n < 3 {
                return Err(FrameError::Invalid("a Message needs a time and a record"));
            }
            let record = r.value()?;
            Entries::Message {
                time: second,
                record,
            }
        }
    };
    let used = if matches!(entries, Entries::Message { .. }) {
        3
    } else {
        2
    };
    let mut options = Options::default();
    match n - used {
        0 => {}
        1 => options = parse_options(&mut r)?,
        _ => return Err(FrameError::Invalid("too many elements in an event frame")),
    }
    if !r.is_empty() {
        return Err(FrameError::Invalid("trailing bytes after the frame"));
    }
    if let Some(signal) = options.signal
        && signal != 0
    {
        return Err(FrameError::Signal(signal));
    }
    Ok(Frame::Events(Events {
        tag,
        entries,
        options,
    }))
}

/// The byte length of an array value's items (everything after its head).
fn array_body_len(array: &[u8]) -> Result<usize, MsgpackError> {
    let mut r = Reader::new(array);
    r.head()?;
    Ok(array.len() - r.position())
}

fn parse_options<'a>(r: &mut Reader<'a>) -> Result<Options<'a>, FrameError> {
    let mut options = Options::default();
    match r.head()? {
        Head::Map(n) => {
            for _ in 0..n {
                let key = match r.head()? {
                    Head::Str(k) | Head::Bin(k) => k,
                    _ => {
                        r.value()?;
                        continue;
                    }
                };
                let value = r.value()?;
                let head = Reader::new(value).head()?;
                match (key, head) {
                    (b"chunk", Head::Str(c) | Head::Bin(c)) => options.chunk = Some(c),
                    (b"compressed", Head::Str(c) | Head::Bin(c)) => options.compressed = Some(c),
                    (b"fluent_signal", Head::Uint(s)) => options.signal = Some(s),
                    _ => {} // `size` is only a hint; unknown keys are ignored
                }
            }
        }
        Head::Nil => {}
        _ => return Err(FrameError::Invalid("the options must be a map")),
    }
    Ok(options)
}

/// Event time in ns and the Fluent Bit metadata map (empty when absent).
fn event_time(raw: &[u8]) -> Result<(u64, &[u8]), FrameError> {
    let mut r = Reader::new(raw);
    let ns = match r.head()? {
        Head::Uint(s) => s.saturating_mul(1_000_000_000),
        Head::Int(s) if s >= 0 => (s as u64).saturating_mul(1_000_000_000),
        Head::Float(f) if f >= 0.0 && f.is_finite() => (f * 1e9) as u64,
        Head::Ext(0, b) if b.len() == 8 => {
            let secs = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            let nanos = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
            u64::from(secs) * 1_000_000_000 + u64::from(nanos)
        }
        Head::Ext(..) => {
            return Err(FrameError::Invalid(
                "EventTime must be extension type 0 with 8 bytes",
            ));
        }
        Head::Array(2) => {
            // Fluent Bit: [[time, metadata], record]
            let time = r.value()?;
            let metadata = r.value()?;
            let (ns, _) = event_time(time)?;
            if !matches!(Reader::new(metadata).head()?, Head::Map(_) | Head::Nil) {
                return Err(FrameError::Invalid("event metadata must be a map"));
            }
            return Ok((ns, metadata));
        }
        _ => return Err(FrameError::Invalid("invalid event time")),
    };
    Ok((ns, &[]))
}

/// Reads `[time, record]` entries from `r` until it is exhausted (or `count` were read).
fn push_entries(
    r: &mut Reader<'_>,
    count: Option<usize>,
    block: &mut LogsBlock,
    origin: &Origin<'_>,
    scratch: &mut Vec<u8>,
) -> Result<(), FrameError> {
    let mut read = 0usize;
    let mut fields = Fields::default();
    while count.map_or(!r.is_empty(), |c| read < c) {
        if r.array("an entry must be [time, record]")? != 2 {
            return Err(FrameError::Invalid("an entry must be [time, record]"));
        }
        let time = r.value()?;
        let (ns, metadata) = event_time(time)?;
        push_record(block, origin, ns, r, metadata, &mut fields, scratch)?;
        read += 1;
    }
    Ok(())
}

/// Appends the frame's events to `block`; `max_decompressed` caps gzip output.
pub(crate) fn push_events(
    events: &Events<'_>,
    origin: &Origin<'_>,
    max_decompressed: usize,
    block: &mut LogsBlock,
) -> Result<(), FrameError> {
    let mut scratch = Vec::new();
    match &events.entries {
        Entries::Message { time, record } => {
            let (ns, metadata) = event_time(time)?;
            push_record(
                block,
                origin,
                ns,
                &mut Reader::new(record),
                metadata,
                &mut Fields::default(),
                &mut scratch,
            )?;
        }
        Entries::Array(count, items) => {
            push_entries(
                &mut Reader::new(items),
                Some(*count),
                block,
                origin,
                &mut scratch,
            )?;
        }
        Entries::Packed(stream) => match events.options.compressed {
            None | Some(b"text") => {
                push_entries(&mut Reader::new(stream), None, block, origin, &mut scratch)?;
            }
            Some(b"gzip") => {
                let mut raw = Vec::with_capacity((stream.len() * 4).min(max_decompressed));
                flate2::read::MultiGzDecoder::new(*stream)
                    .take(max_decompressed as u64 + 1)
                    .read_to_end(&mut raw)
                    .map_err(|e| FrameError::Gzip(e.to_string()))?;
                if raw.len() > max_decompressed {
                    return Err(FrameError::TooLarge {
                        limit: max_decompressed,
                    });
                }
                push_entries(&mut Reader::new(&raw), None, block, origin, &mut scratch)?;
            }
            Some(other) => {
                return Err(FrameError::Compression(
                    String::from_utf8_lossy(other).chars().take(32).collect(),
                ));
            }
        },
    }
    Ok(())
}
