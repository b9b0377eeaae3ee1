//! The WAL record format: a fixed 32-byte header, then the payload (one framed Native block).
//!
//! ```text
//! len u32 | crc u32 | seq u64 | unix_ms u64 | rows u32 | raw_len u32 | payload[len]
//! ```
//! All little-endian. `crc` is CRC-32C over the header bytes after it and the payload, so a
//! torn write (short payload) or a flipped bit anywhere is detected and the record refused.

/// Header bytes before each payload.
pub(crate) const HEADER_LEN: usize = 32;

/// Larger lengths can only come from corruption (requests are capped far below).
const MAX_PAYLOAD: u32 = 1 << 30;

/// What a record's header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// Payload bytes.
    pub(crate) len: u32,
    /// Position in the table's log; consecutive within a log.
    pub(crate) seq: u64,
    /// When the record was appended (for the oldest-unflushed-age gauge).
    pub(crate) unix_ms: u64,
    /// Rows in the Native block.
    pub(crate) rows: u32,
    /// Native bytes before framing (batch sizing).
    pub(crate) raw_len: u32,
}

/// Milliseconds since the Unix epoch, the clock of `Header::unix_ms`.
pub(crate) fn now_unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The header of a record holding `payload`.
pub(crate) fn header(
    seq: u64,
    unix_ms: u64,
    rows: u32,
    raw_len: u32,
    payload: &[u8],
) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    h[8..16].copy_from_slice(&seq.to_le_bytes());
    h[16..24].copy_from_slice(&unix_ms.to_le_bytes());
    h[24..28].copy_from_slice(&rows.to_le_bytes());
    h[28..32].copy_from_slice(&raw_len.to_le_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&h[8..]), payload);
    h[4..8].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Appends one record (header and payload) to `out`.
#[cfg(test)]
pub(crate) fn put(
    out: &mut Vec<u8>,
    seq: u64,
    unix_ms: u64,
    rows: u32,
    raw_len: u32,
    payload: &[u8],
) {
    out.extend_from_slice(&header(seq, unix_ms, rows, raw_len, payload));
    out.extend_from_slice(payload);
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Reads a header; `Err` names why it cannot be one (the payload is checked by [`verify`]).
pub(crate) fn parse_header(h: &[u8; HEADER_LEN]) -> Result<Header, &'static str> {
    let header = Header {
        len: u32_at(h, 0),
        seq: u64_at(h, 8),
        unix_ms: u64_at(h, 16),
        rows: u32_at(h, 24),
        raw_len: u32_at(h, 28),
    };
    if header.len == 0 && header.seq == 0 && u32_at(h, 4) == 0 {
        return Err("zero-filled header (preallocated or torn)");
    }
    if header.len > MAX_PAYLOAD {
        return Err("record length out of range");
    }
    Ok(header)
}

/// Whether `payload` matches the checksum in header `h`.
pub(crate) fn verify(h: &[u8; HEADER_LEN], payload: &[u8]) -> bool {
    crc32c::crc32c_append(crc32c::crc32c(&h[8..]), payload) == u32_at(h, 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_flipped_bit_is_caught() {
        let mut out = Vec::new();
        put(&mut out, 7, 1_700_000_000_000, 3, 99, b"native block");
        let header: [u8; HEADER_LEN] = out[..HEADER_LEN].try_into().unwrap();
        let h = parse_header(&header).unwrap();
        assert_eq!((h.len, h.seq, h.rows, h.raw_len), (12, 7, 3, 99));
        assert!(verify(&header, &out[HEADER_LEN..]));
        for bit in 32..out.len() * 8 {
            let mut bad = out.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            let header: [u8; HEADER_LEN] = bad[..HEADER_LEN].try_into().unwrap();
            assert!(!verify(&header, &bad[HEADER_LEN..]), "bit {bit}");
        }
        assert!(parse_header(&[0; HEADER_LEN]).is_err());
    }
}
