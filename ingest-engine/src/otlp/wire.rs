//! A zero-copy protobuf wire-format reader.
//!
//! The OTLP decoders walk messages field by field and copy only the bytes they store, instead of
//! building prost's object tree (one allocation per string, attribute and record). This is the
//! hot path of the engine, so it is written by hand; it is small and fully bounds-checked.

use super::DecodeError;

/// One field's value as it appears on the wire.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Len(&'a [u8]),
    Fixed32(u32),
}

impl<'a> Value<'a> {
    /// A length-delimited field (string, bytes, message, packed repeated).
    #[inline]
    pub(crate) fn bytes(self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        match self {
            Value::Len(b) => Ok(b),
            _ => Err(DecodeError::wire_type(what)),
        }
    }

    #[inline]
    pub(crate) fn varint(self, what: &'static str) -> Result<u64, DecodeError> {
        match self {
            Value::Varint(v) => Ok(v),
            _ => Err(DecodeError::wire_type(what)),
        }
    }

    #[inline]
    pub(crate) fn fixed64(self, what: &'static str) -> Result<u64, DecodeError> {
        match self {
            Value::Fixed64(v) => Ok(v),
            _ => Err(DecodeError::wire_type(what)),
        }
    }

    #[inline]
    pub(crate) fn fixed32(self, what: &'static str) -> Result<u32, DecodeError> {
        match self {
            Value::Fixed32(v) => Ok(v),
            _ => Err(DecodeError::wire_type(what)),
        }
    }

    #[inline]
    pub(crate) fn double(self, what: &'static str) -> Result<f64, DecodeError> {
        self.fixed64(what).map(f64::from_bits)
    }
}

/// Iterates the fields of one message.
#[derive(Clone)]
pub(crate) struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    #[inline]
    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(DecodeError::truncated());
            };
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(DecodeError::new(
            "invalid protobuf: varint longer than 10 bytes",
        ))
    }

    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or_else(DecodeError::truncated)?;
        let s = self
            .buf
            .get(self.pos..end)
            .ok_or_else(DecodeError::truncated)?;
        self.pos = end;
        Ok(s)
    }

    /// The next `(field number, value)`, or `None` at the end of the message.
    #[inline]
    pub(crate) fn next_field(&mut self) -> Result<Option<(u32, Value<'a>)>, DecodeError> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = (key >> 3) as u32;
        if field == 0 {
            return Err(DecodeError::new("invalid protobuf: field number 0"));
        }
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => Value::Fixed64(u64::from_le_bytes(
                self.take(8)?.try_into().unwrap_or([0; 8]),
            )),
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| DecodeError::truncated())?;
                Value::Len(self.take(len)?)
            }
            5 => Value::Fixed32(u32::from_le_bytes(
                self.take(4)?.try_into().unwrap_or([0; 4]),
            )),
            _ => return Err(DecodeError::new("invalid protobuf: unsupported wire type")),
        };
        Ok(Some((field, value)))
    }
}

/// Iterates a packed (or single unpacked) repeated fixed64/double field.
pub(crate) fn packed_fixed64(
    value: Value<'_>,
    what: &'static str,
    mut each: impl FnMut(u64),
) -> Result<(), DecodeError> {
    match value {
        Value::Fixed64(v) => each(v),
        Value::Len(b) => {
            if !b.len().is_multiple_of(8) {
                return Err(DecodeError::new("invalid protobuf: packed fixed64 length"));
            }
            for c in b.chunks_exact(8) {
                each(u64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
            }
        }
        _ => return Err(DecodeError::wire_type(what)),
    }
    Ok(())
}

/// Iterates a packed (or single unpacked) repeated varint field.
pub(crate) fn packed_varint(
    value: Value<'_>,
    what: &'static str,
    mut each: impl FnMut(u64),
) -> Result<(), DecodeError> {
    match value {
        Value::Varint(v) => each(v),
        Value::Len(b) => {
            let mut f = Fields::new(b);
            while f.pos < b.len() {
                each(f.varint()?);
            }
        }
        _ => return Err(DecodeError::wire_type(what)),
    }
    Ok(())
}

/// Decodes a zigzag-encoded `sint32`.
#[inline]
pub(crate) fn zigzag32(v: u64) -> i32 {
    let v = v as u32;
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_wire_type_and_rejects_truncation() {
        // field 1 varint 150, field 2 "hi", field 3 fixed64 1, field 4 fixed32 2
        let mut msg = vec![0x08, 0x96, 0x01, 0x12, 2, b'h', b'i', 0x19];
        msg.extend_from_slice(&1u64.to_le_bytes());
        msg.push(0x25);
        msg.extend_from_slice(&2u32.to_le_bytes());
        let mut f = Fields::new(&msg);
        assert!(matches!(
            f.next_field().unwrap(),
            Some((1, Value::Varint(150)))
        ));
        assert!(matches!(
            f.next_field().unwrap(),
            Some((2, Value::Len(b"hi")))
        ));
        assert!(matches!(
            f.next_field().unwrap(),
            Some((3, Value::Fixed64(1)))
        ));
        assert!(matches!(
            f.next_field().unwrap(),
            Some((4, Value::Fixed32(2)))
        ));
        assert!(f.next_field().unwrap().is_none());
        for cut in 1..msg.len() {
            let mut f = Fields::new(&msg[..cut]);
            let mut failed = false;
            loop {
                match f.next_field() {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(_) => {
                        failed = true;
                        break;
                    }
                }
            }
            // Cuts between fields are valid shorter messages; every other cut must fail.
            if ![3, 7, 16].contains(&cut) {
                assert!(failed, "cut at {cut} accepted");
            }
        }
    }

    #[test]
    fn zigzag() {
        assert_eq!(zigzag32(0), 0);
        assert_eq!(zigzag32(1), -1);
        assert_eq!(zigzag32(2), 1);
        assert_eq!(zigzag32(3), -2);
    }
}
