//! ClickHouse's own compressed framing for request bodies (`?decompress=1`).
//!
//! Each frame is `checksum[16] | method u8 | compressed_size u32 LE | raw_size u32 LE | payload`,
//! where `compressed_size` counts the 9 header bytes plus the payload and the checksum is
//! CityHash128 v1.0.2 over everything after it (high 64 bits first). ClickHouse 18.16 and every
//! later release read it, unlike `Content-Encoding: zstd`/`br`, and LZ4 keeps our CPU low.

/// How an INSERT body is framed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// ClickHouse framing with LZ4 blocks (method 0x82).
    Lz4,
    /// ClickHouse framing with uncompressed blocks (method 0x02): cheapest on loopback.
    None,
}

/// Raw bytes per frame; ClickHouse's own writers use 1 MiB blocks.
const FRAME_RAW_BYTES: usize = 1 << 20;
const HEADER: usize = 16 + 9;

/// An upper bound of the framed size of `pieces` inputs totalling `raw` bytes (for capacity).
pub fn max_framed_len(raw: usize, pieces: usize) -> usize {
    let frames = raw / FRAME_RAW_BYTES + pieces + 1;
    lz4_flex::block::get_maximum_output_size(raw) + frames * (HEADER + 16)
}

thread_local! {
    // LZ4 output buffer reused across calls: compressing into `out` directly would mean
    // zero-filling (and faulting in) a worst-case-sized tail of it for every block.
    static LZ4_OUT: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Reused LZ4 buffers above this size are dropped after use.
const MAX_KEPT_SCRATCH: usize = 8 << 20;

/// `raw` framed for `?decompress=1`, in a buffer of its own (for blocks built one at a time).
pub fn framed(raw: &[u8], compression: Compression) -> Vec<u8> {
    let mut out = Vec::with_capacity(max_framed_len(raw.len(), 1));
    frame(raw, compression, &mut out);
    out
}

/// Frames `raw` for `?decompress=1`, appending to `out`. Frames are independent, so a batch
/// may be framed block by block into one body.
pub fn frame(raw: &[u8], compression: Compression, out: &mut Vec<u8>) {
    for chunk in raw.chunks(FRAME_RAW_BYTES) {
        let start = out.len();
        out.extend_from_slice(&[0u8; HEADER]);
        let method = match compression {
            Compression::Lz4 => LZ4_OUT.with(|cell| {
                let mut scratch = cell.borrow_mut();
                let max = lz4_flex::block::get_maximum_output_size(chunk.len());
                if scratch.len() < max {
                    scratch.resize(max, 0);
                }
                // The buffer is sized by lz4_flex's own bound, so this cannot fail; fall back
                // to an uncompressed frame rather than panic if it ever did.
                let method = match lz4_flex::block::compress_into(chunk, &mut scratch[..]) {
                    Ok(n) => {
                        out.extend_from_slice(&scratch[..n]);
                        0x82
                    }
                    Err(_) => {
                        out.extend_from_slice(chunk);
                        0x02
                    }
                };
                if scratch.len() > MAX_KEPT_SCRATCH {
                    *scratch = Vec::new();
                }
                method
            }),
            Compression::None => {
                out.extend_from_slice(chunk);
                0x02
            }
        };
        let payload = out.len() - start - HEADER;
        out[start + 16] = method;
        out[start + 17..start + 21].copy_from_slice(&((payload + 9) as u32).to_le_bytes());
        out[start + 21..start + 25].copy_from_slice(&(chunk.len() as u32).to_le_bytes());
        let hash = cityhash_rs::cityhash_102_128(&out[start + 16..]);
        out[start..start + 8].copy_from_slice(&((hash >> 64) as u64).to_le_bytes());
        out[start + 8..start + 16].copy_from_slice(&(hash as u64).to_le_bytes());
    }
}

/// Reverses [`frame`]: the raw bytes of a framed body (checksums are verified).
pub fn unframe(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut raw = Vec::new();
    while !body.is_empty() {
        let header = body.get(..HEADER).ok_or("truncated frame header")?;
        let method = header[16];
        let size = u32::from_le_bytes([header[17], header[18], header[19], header[20]]) as usize;
        let raw_size =
            u32::from_le_bytes([header[21], header[22], header[23], header[24]]) as usize;
        let end = 16 + size;
        let frame = body
            .get(16..end)
            .filter(|_| size >= 9)
            .ok_or("truncated frame")?;
        let hash = cityhash_rs::cityhash_102_128(frame);
        if body[..8] != ((hash >> 64) as u64).to_le_bytes()
            || body[8..16] != (hash as u64).to_le_bytes()
        {
            return Err("frame checksum mismatch".into());
        }
        let payload = &frame[9..];
        match method {
            0x82 => raw
                .extend(lz4_flex::block::decompress(payload, raw_size).map_err(|e| e.to_string())?),
            0x02 => raw.extend_from_slice(payload),
            m => return Err(format!("unknown frame method {m:#x}")),
        }
        body = &body[end..];
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let raw: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        for c in [Compression::Lz4, Compression::None] {
            let mut out = Vec::new();
            frame(&raw, c, &mut out);
            assert_eq!(unframe(&out).unwrap(), raw);
        }
    }
}
