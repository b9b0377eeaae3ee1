//! A zero-copy MessagePack reader for the Forward protocol: cutting whole values out of a
//! byte stream (the protocol has no length prefix) and walking them without building a tree.
//!
//! Written by hand like the OTLP wire walker: every read is bounds-checked, frames are cut and
//! values skipped with a counter instead of recursion (a hostile frame cannot overflow the
//! stack; JSON rendering recurses at most 64 levels), and strings, binaries and maps are
//! borrowed slices of the frame. The small writers are public for the load generator.

/// Why a value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MsgpackError {
    /// More bytes are needed (only an error once the stream has ended).
    #[error("msgpack value truncated")]
    Incomplete,
    /// The bytes are not MessagePack (or use a reserved code).
    #[error("invalid msgpack: {0}")]
    Invalid(&'static str),
}

type Result<T> = std::result::Result<T, MsgpackError>;

/// One value's head: scalars carry their value, containers their length.
#[derive(Debug, Clone, Copy, PartialEq)]
// A word-sized tag: with a byte tag, `Bool` and `Ext` put data in bytes 1..8, and every copy
// of a head moved them as overlapping 4-byte stores that stalled the loads after them.
#[repr(u64)]
pub(crate) enum Head<'a> {
    Nil,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(&'a [u8]),
    Bin(&'a [u8]),
    Array(usize),
    Map(usize),
    Ext(i8, &'a [u8]),
}

/// A cursor over one buffer.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// The bytes not read yet.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    /// Moves past `n` bytes the caller has checked are there.
    pub(crate) fn skip(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.buf.len());
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(MsgpackError::Incomplete)?;
        let s = self
            .buf
            .get(self.pos..end)
            .ok_or(MsgpackError::Incomplete)?;
        self.pos = end;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn be(&mut self, n: usize) -> Result<u64> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn len(&mut self, n: usize) -> Result<usize> {
        usize::try_from(self.be(n)?).map_err(|_| MsgpackError::Invalid("length too large"))
    }

    /// Reads the head of the next value (a container's items follow it).
    #[inline]
    pub(crate) fn head(&mut self) -> Result<Head<'a>> {
        // Inline, the heads of most record keys and values: short strings.
        if let Some(&b) = self.buf.get(self.pos) {
            let (start, len) = match b {
                0xa0..=0xbf => (self.pos + 1, usize::from(b & 0x1f)),
                0xd9 => match self.buf.get(self.pos + 1) {
                    Some(&len) => (self.pos + 2, usize::from(len)),
                    None => return Err(MsgpackError::Incomplete),
                },
                _ => return self.any_head(),
            };
            return match self.buf.get(start..start + len) {
                Some(s) => {
                    self.pos = start + len;
                    Ok(Head::Str(s))
                }
                None => Err(MsgpackError::Incomplete),
            };
        }
        self.any_head()
    }

    /// [`Reader::head`] for every kind of head.
    #[inline(never)]
    fn any_head(&mut self) -> Result<Head<'a>> {
        let b = self.byte()?;
        Ok(match b {
            0x00..=0x7f => Head::Uint(u64::from(b)),
            0x80..=0x8f => Head::Map(usize::from(b & 0x0f)),
            0x90..=0x9f => Head::Array(usize::from(b & 0x0f)),
            0xa0..=0xbf => Head::Str(self.take(usize::from(b & 0x1f))?),
            0xc0 => Head::Nil,
            0xc1 => return Err(MsgpackError::Invalid("reserved byte 0xc1")),
            0xc2 => Head::Bool(false),
            0xc3 => Head::Bool(true),
            0xc4..=0xc6 => {
                let n = self.len(1 << (b - 0xc4))?;
                Head::Bin(self.take(n)?)
            }
            0xc7..=0xc9 => {
                let n = self.len(1 << (b - 0xc7))?;
                let ty = self.byte()? as i8;
                Head::Ext(ty, self.take(n)?)
            }
            0xca => Head::Float(f64::from(f32::from_bits(self.be(4)? as u32))),
            0xcb => Head::Float(f64::from_bits(self.be(8)?)),
            0xcc..=0xcf => Head::Uint(self.be(1 << (b - 0xcc))?),
            0xd0 => Head::Int(i64::from(self.byte()? as i8)),
            0xd1 => Head::Int(i64::from(self.be(2)? as u16 as i16)),
            0xd2 => Head::Int(i64::from(self.be(4)? as u32 as i32)),
            0xd3 => Head::Int(self.be(8)? as i64),
            0xd4..=0xd8 => {
                let ty = self.byte()? as i8;
                Head::Ext(ty, self.take(1 << (b - 0xd4))?)
            }
            0xd9..=0xdb => {
                let n = self.len(1 << (b - 0xd9))?;
                Head::Str(self.take(n)?)
            }
            0xdc | 0xdd => Head::Array(self.len(2 << (b - 0xdc))?),
            0xde | 0xdf => Head::Map(self.len(2 << (b - 0xde))?),
            0xe0..=0xff => Head::Int(i64::from(b as i8)),
        })
    }

    /// Skips one whole value (containers included) and returns its bytes.
    pub(crate) fn value(&mut self) -> Result<&'a [u8]> {
        let len = Cutter::default()
            .next(self.rest())?
            .ok_or(MsgpackError::Incomplete)?;
        self.take(len)
    }

    /// Reads one whole value: its bytes and its head. Scalars, strings and binaries are read
    /// once; containers are then skipped whole.
    pub(crate) fn value_and_head(&mut self) -> Result<(&'a [u8], Head<'a>)> {
        let start = self.pos;
        let head = self.head()?;
        if matches!(head, Head::Array(_) | Head::Map(_)) {
            self.pos = start;
            self.value()?;
        }
        Ok((&self.buf[start..self.pos], head))
    }

    /// Reads an array head.
    pub(crate) fn array(&mut self, what: &'static str) -> Result<usize> {
        match self.head()? {
            Head::Array(n) => Ok(n),
            _ => Err(MsgpackError::Invalid(what)),
        }
    }

    /// Reads a string or binary.
    pub(crate) fn str_or_bin(&mut self, what: &'static str) -> Result<&'a [u8]> {
        match self.head()? {
            Head::Str(s) | Head::Bin(s) => Ok(s),
            _ => Err(MsgpackError::Invalid(what)),
        }
    }
}

/// Cuts whole values from a growing stream buffer. It remembers how far the current value was
/// walked, so a large frame arriving in many reads is walked once, not once per read.
#[derive(Debug, Default)]
pub(crate) struct Cutter {
    pos: usize,
    pending: usize,
}

impl Cutter {
    /// The length of the value at the start of `buf` once it is complete (the caller then
    /// removes those bytes); `Ok(None)` while more bytes are needed. `buf` may only grow
    /// between calls that return `Ok(None)`.
    pub(crate) fn next(&mut self, buf: &[u8]) -> Result<Option<usize>> {
        if self.pending == 0 {
            self.pos = 0;
            self.pending = 1;
        }
        let mut r = Reader { buf, pos: self.pos };
        while self.pending > 0 {
            let at = r.pos;
            match r.head() {
                Ok(h) => {
                    self.pending -= 1;
                    match h {
                        Head::Array(n) => self.pending = self.pending.saturating_add(n),
                        Head::Map(n) => {
                            self.pending = self.pending.saturating_add(n.saturating_mul(2));
                        }
                        _ => {}
                    }
                    self.pos = r.pos;
                }
                Err(MsgpackError::Incomplete) => {
                    self.pos = at;
                    return Ok(None);
                }
                Err(e) => {
                    self.pending = 0;
                    return Err(e);
                }
            }
        }
        let len = self.pos;
        self.pos = 0;
        Ok(Some(len))
    }
}

/// The length of the first complete value in `buf`: `Ok(None)` when more bytes are needed.
#[cfg(test)]
pub(crate) fn frame_len(buf: &[u8]) -> Result<Option<usize>> {
    Cutter::default().next(buf)
}

/// Appends `v` (one msgpack value) to `out` as JSON: maps become objects (non-string keys as
/// their JSON text), binaries base64 strings, extension values `{"ext":type,"data":base64}`.
pub(crate) fn to_json(v: &[u8], out: &mut Vec<u8>) -> Result<()> {
    json_value(&mut Reader::new(v), out, 0)
}

/// Nesting rendered as JSON; deeper values are refused (the recursion stays shallow).
const MAX_JSON_DEPTH: usize = 64;

fn json_value(r: &mut Reader<'_>, out: &mut Vec<u8>, depth: usize) -> Result<()> {
    use base64::Engine as _;
    if depth > MAX_JSON_DEPTH {
        return Err(MsgpackError::Invalid("nested deeper than 64 levels"));
    }
    match r.head()? {
        Head::Array(n) => {
            out.push(b'[');
            for i in 0..n {
                if i > 0 {
                    out.push(b',');
                }
                json_value(r, out, depth + 1)?;
            }
            out.push(b']');
        }
        Head::Map(n) => {
            out.push(b'{');
            for i in 0..n {
                if i > 0 {
                    out.push(b',');
                }
                match r.head()? {
                    Head::Str(k) => json_string(k, out),
                    other => {
                        let mut text = Vec::new();
                        scalar_json(other, &mut text)?;
                        json_string(&text, out);
                    }
                }
                out.push(b':');
                json_value(r, out, depth + 1)?;
            }
            out.push(b'}');
        }
        Head::Bin(b) => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(b);
            json_string(encoded.as_bytes(), out);
        }
        Head::Ext(ty, data) => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(data);
            out.extend_from_slice(format!("{{\"ext\":{ty},\"data\":\"{encoded}\"}}").as_bytes());
        }
        other => scalar_json(other, out)?,
    }
    Ok(())
}

fn scalar_json(h: Head<'_>, out: &mut Vec<u8>) -> Result<()> {
    match h {
        Head::Nil => out.extend_from_slice(b"null"),
        Head::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        Head::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes()),
        Head::Uint(u) => out.extend_from_slice(itoa::Buffer::new().format(u).as_bytes()),
        Head::Float(f) if f.is_finite() => {
            out.extend_from_slice(ryu::Buffer::new().format_finite(f).as_bytes());
        }
        Head::Float(_) => out.extend_from_slice(b"null"),
        Head::Str(s) => json_string(s, out),
        Head::Bin(_) | Head::Ext(..) | Head::Array(_) | Head::Map(_) => {
            return Err(MsgpackError::Invalid(
                "container where a scalar was expected",
            ));
        }
    }
    Ok(())
}

/// A JSON string literal of `s` (invalid UTF-8 replaced).
pub(crate) fn json_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for ch in String::from_utf8_lossy(s).chars() {
        match ch {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes());
            }
            c => {
                let mut b = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// Appends a str header and bytes.
pub fn write_str(out: &mut Vec<u8>, s: &[u8]) {
    match s.len() {
        n @ 0..=31 => out.push(0xa0 | n as u8),
        n @ 32..=0xff => out.extend_from_slice(&[0xd9, n as u8]),
        n @ 0x100..=0xffff => {
            out.push(0xda);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0xdb);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }
    out.extend_from_slice(s);
}

/// Appends a bin header and bytes (random bytes must be bin: a client may decode a str as
/// UTF-8 and change them).
pub fn write_bin(out: &mut Vec<u8>, b: &[u8]) {
    match b.len() {
        n @ 0..=0xff => out.extend_from_slice(&[0xc4, n as u8]),
        n @ 0x100..=0xffff => {
            out.push(0xc5);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0xc6);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }
    out.extend_from_slice(b);
}

/// Appends an array header.
pub fn write_array_len(out: &mut Vec<u8>, n: u32) {
    container_len(out, n, 0x90, 0xdc);
}

/// Appends a map header.
pub fn write_map_len(out: &mut Vec<u8>, n: u32) {
    container_len(out, n, 0x80, 0xde);
}

/// `fix` is the fix-size marker; `wide` the 16-bit one (the 32-bit one follows it).
fn container_len(out: &mut Vec<u8>, n: u32, fix: u8, wide: u8) {
    match u16::try_from(n) {
        Ok(n) if n < 16 => out.push(fix | n as u8),
        Ok(n) => {
            out.push(wide);
            out.extend_from_slice(&n.to_be_bytes());
        }
        Err(_) => {
            out.push(wide + 1);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

/// Appends a bool.
pub fn write_bool(out: &mut Vec<u8>, b: bool) {
    out.push(if b { 0xc3 } else { 0xc2 });
}

/// Appends nil.
pub fn write_nil(out: &mut Vec<u8>) {
    out.push(0xc0);
}

/// Appends a signed integer (always as int 64).
pub fn write_i64(out: &mut Vec<u8>, v: i64) {
    out.push(0xd3);
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends an unsigned integer (always as uint 64).
pub fn write_u64(out: &mut Vec<u8>, v: u64) {
    out.push(0xcf);
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a float 64.
pub fn write_f64(out: &mut Vec<u8>, v: f64) {
    out.push(0xcb);
    out.extend_from_slice(&v.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn frames_are_cut_at_value_boundaries() {
        let msg = hex("93a87461672e6e616d65ce55ece6f881a76d657373616765a3626172");
        for cut in 0..msg.len() {
            assert_eq!(frame_len(&msg[..cut]), Ok(None), "cut at {cut}");
        }
        let mut two = msg.clone();
        two.extend_from_slice(&msg);
        assert_eq!(frame_len(&two), Ok(Some(msg.len())));
        assert_eq!(
            frame_len(&[0xc1]),
            Err(MsgpackError::Invalid("reserved byte 0xc1"))
        );
        // An array claiming 2^32-1 items in 5 bytes is not a reason to spin.
        assert_eq!(frame_len(&[0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0]), Ok(None));
    }

    #[test]
    fn the_cutter_resumes_across_reads() {
        let msg = hex("93a87461672e6e616d65ce55ece6f881a76d657373616765a3626172");
        let mut stream = msg.clone();
        stream.extend_from_slice(&[0xc0]);
        stream.extend_from_slice(&msg);
        let mut cutter = Cutter::default();
        let mut buf = Vec::new();
        let mut frames = Vec::new();
        for b in stream {
            buf.push(b);
            while let Some(n) = cutter.next(&buf).unwrap() {
                frames.push(buf.drain(..n).collect::<Vec<u8>>());
            }
        }
        assert_eq!(frames, vec![msg.clone(), vec![0xc0], msg]);
        assert!(buf.is_empty());
    }

    #[test]
    fn heads_of_every_width() {
        let mut r = Reader::new(&[0xcd, 0x01, 0x00, 0xd1, 0xff, 0xfe, 0xe0, 0xcb]);
        assert_eq!(r.head(), Ok(Head::Uint(256)));
        assert_eq!(r.head(), Ok(Head::Int(-2)));
        assert_eq!(r.head(), Ok(Head::Int(-32)));
        assert_eq!(r.head(), Err(MsgpackError::Incomplete));
        let et = hex("d70055ece6f8075bcd15");
        assert_eq!(
            Reader::new(&et).head(),
            Ok(Head::Ext(0, &hex("55ece6f8075bcd15")[..]))
        );
    }

    #[test]
    fn values_render_as_json() {
        // {"a":[1,-2,"x\"y",nil,true,1.5],"b":{"c":bin(01 02)}}
        let v = hex("82a1619601fea3782279c0c3cb3ff8000000000000a16281a163c4020102");
        let mut out = Vec::new();
        to_json(&v, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a":[1,-2,"x\"y",null,true,1.5],"b":{"c":"AQI="}}"#
        );
        let mut out = Vec::new();
        to_json(&hex("90"), &mut out).unwrap();
        assert_eq!(out, b"[]");
    }
}
