//! Splitting a Native block by rows, so that a batch ClickHouse refuses can be narrowed down to
//! the rows it refuses (poison isolation). Knows the column types this engine writes.

use super::native::put_varint;

/// A Native block this engine cannot read back (which would be a bug).
#[derive(Debug, thiserror::Error)]
#[error("cannot split Native block: {0}")]
pub struct SplitError(&'static str);

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn varint(&mut self) -> Result<u64, SplitError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self
                .data
                .get(self.pos)
                .ok_or(SplitError("truncated varint"))?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(SplitError("varint too long"))
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], SplitError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(SplitError("length overflow"))?;
        let out = self
            .data
            .get(self.pos..end)
            .ok_or(SplitError("truncated column"))?;
        self.pos = end;
        Ok(out)
    }

    fn string(&mut self) -> Result<&'a [u8], SplitError> {
        let n = self.varint()? as usize;
        self.bytes(n)
    }

    /// Advances over `n` values of `ty` and returns their bytes.
    fn values(&mut self, ty: &str, n: u64) -> Result<&'a [u8], SplitError> {
        let start = self.pos;
        if let Some(width) = fixed_width(ty) {
            self.bytes(width * n as usize)?;
        } else if ty == "String" {
            for _ in 0..n {
                self.string()?;
            }
        } else {
            return Err(SplitError("unsupported nested type"));
        }
        Ok(&self.data[start..self.pos])
    }
}

fn fixed_width(ty: &str) -> Option<usize> {
    Some(match ty {
        "UInt8" | "Int8" => 1,
        "UInt16" | "Int16" => 2,
        "UInt32" | "Int32" | "Float32" | "DateTime" => 4,
        "UInt64" | "Int64" | "Float64" => 8,
        _ => return None,
    })
}

/// Splits `block` (raw Native, one block) into rows `[0, at)` and `[at, rows)`.
pub fn split(block: &[u8], at: u64) -> Result<(Vec<u8>, Vec<u8>), SplitError> {
    let mut c = Cursor {
        data: block,
        pos: 0,
    };
    let ncols = c.varint()?;
    let rows = c.varint()?;
    if at > rows {
        return Err(SplitError("split point past the last row"));
    }
    let (mut left, mut right) = (
        Vec::with_capacity(block.len()),
        Vec::with_capacity(block.len()),
    );
    for (out, n) in [(&mut left, at), (&mut right, rows - at)] {
        put_varint(out, ncols);
        put_varint(out, n);
    }
    for _ in 0..ncols {
        let name = c.string()?;
        let ty = std::str::from_utf8(c.string()?).map_err(|_| SplitError("type name"))?;
        for out in [&mut left, &mut right] {
            put_varint(out, name.len() as u64);
            out.extend_from_slice(name);
            put_varint(out, ty.len() as u64);
            out.extend_from_slice(ty.as_bytes());
        }
        if let Some(inner) = ty
            .strip_prefix("Nullable(")
            .and_then(|t| t.strip_suffix(')'))
        {
            let nulls = c.bytes(rows as usize)?;
            let l = c.values(inner, at)?;
            let r = c.values(inner, rows - at)?;
            left.extend_from_slice(&nulls[..at as usize]);
            left.extend_from_slice(l);
            right.extend_from_slice(&nulls[at as usize..]);
            right.extend_from_slice(r);
        } else if let Some(inner) = ty.strip_prefix("Array(").and_then(|t| t.strip_suffix(')')) {
            let offsets: Vec<u64> = c
                .bytes(8 * rows as usize)?
                .chunks_exact(8)
                .map(|b| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
                .collect();
            let cut = if at == 0 { 0 } else { offsets[at as usize - 1] };
            let total = offsets.last().copied().unwrap_or(0);
            for off in &offsets[..at as usize] {
                left.extend_from_slice(&off.to_le_bytes());
            }
            for off in &offsets[at as usize..] {
                right.extend_from_slice(&(off - cut).to_le_bytes());
            }
            let l = c.values(inner, cut)?;
            let r = c.values(inner, total - cut)?;
            left.extend_from_slice(l);
            right.extend_from_slice(r);
        } else {
            let l = c.values(ty, at)?;
            let r = c.values(ty, rows - at)?;
            left.extend_from_slice(l);
            right.extend_from_slice(r);
        }
    }
    if c.pos != block.len() {
        return Err(SplitError("bytes after the block"));
    }
    Ok((left, right))
}

/// The row count in a raw Native block's header.
pub fn rows(block: &[u8]) -> Result<u64, SplitError> {
    let mut c = Cursor {
        data: block,
        pos: 0,
    };
    c.varint()?;
    c.varint()
}

#[cfg(test)]
#[allow(dead_code, unreachable_pub)] // the test block's generated helpers, public as every table's are
mod tests {
    use super::*;
    use crate::native::native_block;
    use crate::native::{ArrStrCol, AttrCols, NullableF64Col, StrCol, U64Col};

    native_block!(
        /// Every column kind the splitter must handle.
        T { s: StrCol, a: AttrCols, n: U64Col, f: NullableF64Col, arr: ArrStrCol }
    );

    fn block(rows: &[(&str, &[&str], u64, Option<f64>)]) -> Vec<u8> {
        let mut b = T::default();
        for (s, attrs, n, f) in rows {
            b.s.push(s.as_bytes());
            for k in *attrs {
                b.a.keys.push(k.len() as u8);
                b.a.keys.extend_from_slice(k.as_bytes());
                b.a.values.extend_from_slice(b"\x01v");
                b.a.types.push(1);
            }
            b.a.close_row(attrs.len() as u64);
            b.n.push(*n);
            b.f.push(*f);
            for k in *attrs {
                crate::native::put_bytes(&mut b.arr.values, k.as_bytes());
            }
            b.arr.offsets.close_row(attrs.len() as u64);
            b.rows += 1;
        }
        let mut out = Vec::new();
        b.encode(&mut out);
        out
    }

    #[test]
    fn split_halves_equal_blocks_of_those_rows() {
        let rows: [(&str, &[&str], u64, Option<f64>); 4] = [
            ("a", &["k1"], 1, Some(1.5)),
            ("bb", &[], 2, None),
            ("", &["k2", "k3"], 3, Some(-2.0)),
            ("dddd", &["k4"], 4, None),
        ];
        let whole = block(&rows);
        assert_eq!(rows_of(&whole), 4);
        for at in 0..=4 {
            let (l, r) = split(&whole, at as u64).unwrap();
            assert_eq!(l, block(&rows[..at]), "left at {at}");
            assert_eq!(r, block(&rows[at..]), "right at {at}");
        }
        assert!(split(&whole[..whole.len() - 1], 2).is_err());
        assert!(split(&whole, 5).is_err());
    }

    fn rows_of(b: &[u8]) -> u64 {
        rows(b).unwrap()
    }
}
