//! ClickHouse Native format: typed column buffers and block encoding.
//!
//! A Native block over HTTP is `varint ncols, varint nrows`, then per column its name, its type
//! name and its data. Decoders append straight into these buffers (no per-row objects); a block is
//! encoded once, when a request has been decoded, and batches are plain concatenations of blocks
//! (ClickHouse squashes many blocks of one INSERT body into parts itself).
//!
//! Every column type here knows its ClickHouse type name, so the DDL (`schema.rs`) and the wire
//! header are generated from the same table definition and cannot drift apart.

/// Appends `v` as a LEB128 varint, the length prefix ClickHouse uses for strings and headers.
#[inline]
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends a length-prefixed string. Every string column holds text, so bytes that are not
/// UTF-8 (OTLP requires it; a msgpack `str` or a header may hold anything) are stored with
/// U+FFFD in place of each invalid sequence — the same rule for every input, and the record is
/// kept, not refused.
#[inline]
pub fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    // ASCII (most of what arrives) is checked a word at a time; only the rest is decoded.
    if !bytes.is_ascii() && std::str::from_utf8(bytes).is_err() {
        let text = String::from_utf8_lossy(bytes);
        put_varint(out, text.len() as u64);
        out.extend_from_slice(text.as_bytes());
        return;
    }
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// A group of one or more physical ClickHouse columns stored under one logical field name.
pub trait ColumnGroup: Default {
    /// `(name suffix, ClickHouse type)` of each physical column, in wire order.
    const PARTS: &'static [(&'static str, &'static str)];
    /// Appends the data of physical column `part` (rows already counted by the block).
    fn write_part(&self, part: usize, out: &mut Vec<u8>);
    /// Bytes held, for batch sizing.
    fn byte_len(&self) -> usize;
    /// Empties the column, keeping its capacity for the next block.
    fn clear(&mut self);
    /// Bytes allocated (capacity), to bound what a reused block keeps.
    fn capacity(&self) -> usize;
}

macro_rules! fixed_column {
    ($(#[$doc:meta])* $name:ident, $ty:ty, $ch:literal) => {
        $(#[$doc])*
        #[derive(Default, Debug)]
        pub struct $name {
            data: Vec<u8>,
        }
        impl $name {
            #[inline]
            pub fn push(&mut self, v: $ty) {
                self.data.extend_from_slice(&v.to_le_bytes());
            }
        }
        impl ColumnGroup for $name {
            const PARTS: &'static [(&'static str, &'static str)] = &[("", $ch)];
            fn write_part(&self, _part: usize, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.data);
            }
            fn byte_len(&self) -> usize {
                self.data.len()
            }
            fn clear(&mut self) {
                self.data.clear();
            }
            fn capacity(&self) -> usize {
                self.data.capacity()
            }
        }
    };
}

fixed_column!(
    /// `UInt8`.
    U8Col, u8, "UInt8"
);
fixed_column!(
    /// `UInt32`.
    U32Col, u32, "UInt32"
);
fixed_column!(
    /// `UInt64`.
    U64Col, u64, "UInt64"
);
fixed_column!(
    /// `Int32`.
    I32Col, i32, "Int32"
);
fixed_column!(
    /// `Int64`.
    I64Col, i64, "Int64"
);
fixed_column!(
    /// `Float64`.
    F64Col, f64, "Float64"
);
fixed_column!(
    /// `DateTime` (seconds since the epoch, UTC); the partition key of every table.
    DateTimeCol, u32, "DateTime"
);

/// `String` (arbitrary bytes; OTLP strings are stored as sent).
#[derive(Default, Debug)]
pub struct StrCol {
    data: Vec<u8>,
}

impl StrCol {
    #[inline]
    pub fn push(&mut self, v: &[u8]) {
        put_bytes(&mut self.data, v);
    }

    /// Appends a value whose encoding was already produced with [`put_bytes`].
    #[inline]
    pub fn push_encoded(&mut self, encoded: &[u8]) {
        self.data.extend_from_slice(encoded);
    }

    /// Appends `bytes` as lowercase hex (trace and span ids).
    #[inline]
    pub fn push_hex(&mut self, bytes: &[u8]) {
        put_hex(&mut self.data, bytes);
    }

    /// Raw access for writers that produce the length prefix themselves.
    pub fn raw(&mut self) -> &mut Vec<u8> {
        &mut self.data
    }
}

impl ColumnGroup for StrCol {
    const PARTS: &'static [(&'static str, &'static str)] = &[("", "String")];
    fn write_part(&self, _part: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.data);
    }
    fn byte_len(&self) -> usize {
        self.data.len()
    }
    fn clear(&mut self) {
        self.data.clear();
    }
    fn capacity(&self) -> usize {
        self.data.capacity()
    }
}

/// Appends `bytes` as a length-prefixed lowercase hex string.
#[inline]
pub fn put_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    put_varint(out, (bytes.len() * 2) as u64);
    out.reserve(bytes.len() * 2);
    for b in bytes {
        out.push(HEX[(b >> 4) as usize]);
        out.push(HEX[(b & 0xf) as usize]);
    }
}

/// `Nullable(Float64)`: optional OTLP doubles (histogram sum, min, max).
#[derive(Default, Debug)]
pub struct NullableF64Col {
    nulls: Vec<u8>,
    values: Vec<u8>,
}

impl NullableF64Col {
    #[inline]
    pub fn push(&mut self, v: Option<f64>) {
        self.nulls.push(u8::from(v.is_none()));
        self.values
            .extend_from_slice(&v.unwrap_or(0.0).to_le_bytes());
    }
}

impl ColumnGroup for NullableF64Col {
    const PARTS: &'static [(&'static str, &'static str)] = &[("", "Nullable(Float64)")];
    fn write_part(&self, _part: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.nulls);
        out.extend_from_slice(&self.values);
    }
    fn byte_len(&self) -> usize {
        self.nulls.len() + self.values.len()
    }
    fn clear(&mut self) {
        self.nulls.clear();
        self.values.clear();
    }
    fn capacity(&self) -> usize {
        self.nulls.capacity() + self.values.capacity()
    }
}

/// Cumulative `UInt64` offsets of an `Array(T)` column, one per row.
#[derive(Default, Debug)]
pub struct Offsets {
    data: Vec<u8>,
    total: u64,
}

impl Offsets {
    fn clear(&mut self) {
        self.data.clear();
        self.total = 0;
    }

    /// Ends a row that holds `items` elements.
    #[inline]
    pub fn close_row(&mut self, items: u64) {
        self.total += items;
        self.data.extend_from_slice(&self.total.to_le_bytes());
    }
}

macro_rules! array_column {
    ($(#[$doc:meta])* $name:ident, $ch:literal) => {
        $(#[$doc])*
        #[derive(Default, Debug)]
        pub struct $name {
            pub offsets: Offsets,
            /// Flat element data, encoded as the element type.
            pub values: Vec<u8>,
        }
        impl ColumnGroup for $name {
            const PARTS: &'static [(&'static str, &'static str)] = &[("", $ch)];
            fn write_part(&self, _part: usize, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.offsets.data);
                out.extend_from_slice(&self.values);
            }
            fn byte_len(&self) -> usize {
                self.offsets.data.len() + self.values.len()
            }
            fn clear(&mut self) {
                self.offsets.clear();
                self.values.clear();
            }
            fn capacity(&self) -> usize {
                self.offsets.data.capacity() + self.values.capacity()
            }
        }
    };
}

array_column!(
    /// `Array(String)`.
    ArrStrCol, "Array(String)"
);
array_column!(
    /// `Array(UInt64)`.
    ArrU64Col, "Array(UInt64)"
);
array_column!(
    /// `Array(UInt32)`.
    ArrU32Col, "Array(UInt32)"
);
array_column!(
    /// `Array(Float64)`.
    ArrF64Col, "Array(Float64)"
);
array_column!(
    /// `Array(Int64)`.
    ArrI64Col, "Array(Int64)"
);
array_column!(
    /// `Array(UInt8)`.
    ArrU8Col, "Array(UInt8)"
);

/// A position in [`AttrCols`] (see [`AttrCols::mark`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttrMark(usize, usize, usize);

impl AttrMark {
    /// This mark, within a run that was copied from `from` to `to`.
    pub fn moved(self, from: AttrMark, to: AttrMark) -> AttrMark {
        AttrMark(
            to.0 + self.0.saturating_sub(from.0),
            to.1 + self.1.saturating_sub(from.1),
            to.2 + self.2.saturating_sub(from.2),
        )
    }
}

/// An attribute list as three parallel arrays: `<name>_keys Array(String)`,
/// `<name>_values Array(String)` and `<name>_types Array(UInt8)` (the OTLP value type, see
/// `otlp::anyvalue::ValueType`), so every key, value and type survives on ClickHouse 18.16.
#[derive(Default, Debug)]
pub struct AttrCols {
    offsets: Offsets,
    pub keys: Vec<u8>,
    pub values: Vec<u8>,
    pub types: Vec<u8>,
}

impl AttrCols {
    /// Ends a row with `items` attributes appended to `keys`, `values` and `types`.
    #[inline]
    pub fn close_row(&mut self, items: u64) {
        self.offsets.close_row(items);
    }

    /// Where the columns stand, so that attributes appended for a row that then turns out
    /// invalid can be taken back with [`AttrCols::rollback`].
    #[inline]
    pub fn mark(&self) -> AttrMark {
        AttrMark(self.keys.len(), self.values.len(), self.types.len())
    }

    /// Drops what was appended since `mark` (the row was not closed).
    #[inline]
    pub fn rollback(&mut self, mark: AttrMark) {
        self.keys.truncate(mark.0);
        self.values.truncate(mark.1);
        self.types.truncate(mark.2);
    }

    /// Appends again the attributes between two marks of this row or earlier ones (a run of
    /// attributes repeated from the previous row); false, appending nothing, when the marks are
    /// not such a range.
    #[inline]
    pub fn repeat(&mut self, from: AttrMark, to: AttrMark) -> bool {
        let fits = from.0 <= to.0
            && from.1 <= to.1
            && from.2 <= to.2
            && to.0 <= self.keys.len()
            && to.1 <= self.values.len()
            && to.2 <= self.types.len();
        if fits {
            self.keys.extend_from_within(from.0..to.0);
            self.values.extend_from_within(from.1..to.1);
            self.types.extend_from_within(from.2..to.2);
        }
        fits
    }

    /// Appends a whole prepared attribute list as one row (resource and scope attributes are
    /// encoded once per resource and copied into every row).
    #[inline]
    pub fn push_prepared(&mut self, prepared: &PreparedAttrs) {
        self.keys.extend_from_slice(&prepared.keys);
        self.values.extend_from_slice(&prepared.values);
        self.types.extend_from_slice(&prepared.types);
        self.offsets.close_row(prepared.count);
    }
}

impl ColumnGroup for AttrCols {
    const PARTS: &'static [(&'static str, &'static str)] = &[
        ("_keys", "Array(String)"),
        ("_values", "Array(String)"),
        ("_types", "Array(UInt8)"),
    ];
    fn write_part(&self, part: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.offsets.data);
        match part {
            0 => out.extend_from_slice(&self.keys),
            1 => out.extend_from_slice(&self.values),
            _ => out.extend_from_slice(&self.types),
        }
    }
    fn byte_len(&self) -> usize {
        self.offsets.data.len() * 3 + self.keys.len() + self.values.len() + self.types.len()
    }
    fn clear(&mut self) {
        self.offsets.clear();
        self.keys.clear();
        self.values.clear();
        self.types.clear();
    }
    fn capacity(&self) -> usize {
        self.offsets.data.capacity()
            + self.keys.capacity()
            + self.values.capacity()
            + self.types.capacity()
    }
}

/// An attribute list encoded once in the element encoding of [`AttrCols`].
#[derive(Default, Debug, Clone)]
pub struct PreparedAttrs {
    pub keys: Vec<u8>,
    pub values: Vec<u8>,
    pub types: Vec<u8>,
    pub count: u64,
}

impl PreparedAttrs {
    pub fn clear(&mut self) {
        self.keys.clear();
        self.values.clear();
        self.types.clear();
        self.count = 0;
    }
}

/// Declares a ClickHouse table's row block: a struct of column groups, its column list (for DDL)
/// and its Native encoder, all from one definition.
macro_rules! native_block {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $col:ident : $kind:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Default, Debug)]
        pub struct $name {
            /// Rows appended so far.
            pub rows: u64,
            $($(#[$fdoc])* pub $col: $kind,)*
        }

        impl $name {
            /// Every physical column as `(name, ClickHouse type)`, in wire and DDL order.
            pub fn columns() -> Vec<(String, &'static str)> {
                use $crate::native::ColumnGroup;
                let mut out = Vec::new();
                $(
                    for (suffix, ty) in <$kind as ColumnGroup>::PARTS {
                        out.push((format!("{}{}", stringify!($col), suffix), *ty));
                    }
                )*
                out
            }

            /// Bytes held by all columns (an estimate of the encoded block size).
            pub fn byte_len(&self) -> usize {
                use $crate::native::ColumnGroup;
                0 $(+ self.$col.byte_len())*
            }

            /// Empties every column, keeping capacity (blocks are reused across requests).
            // Blocks built once per request (server metrics, incoming requests) never clear.
            #[allow(dead_code)]
            pub fn clear(&mut self) {
                use $crate::native::ColumnGroup;
                self.rows = 0;
                $(self.$col.clear();)*
            }

            /// Bytes allocated by all columns.
            #[allow(dead_code)]
            pub fn capacity(&self) -> usize {
                use $crate::native::ColumnGroup;
                0 $(+ self.$col.capacity())*
            }

            /// Appends this block in Native format to `out`.
            pub fn encode(&self, out: &mut Vec<u8>) {
                use $crate::native::{ColumnGroup, put_varint};
                let mut ncols = 0u64;
                $(ncols += <$kind as ColumnGroup>::PARTS.len() as u64;)*
                out.reserve(self.byte_len() + 64 * ncols as usize);
                put_varint(out, ncols);
                put_varint(out, self.rows);
                $(
                    for (part, (suffix, ty)) in <$kind as ColumnGroup>::PARTS.iter().enumerate() {
                        let name = stringify!($col);
                        put_varint(out, (name.len() + suffix.len()) as u64);
                        out.extend_from_slice(name.as_bytes());
                        out.extend_from_slice(suffix.as_bytes());
                        $crate::native::put_bytes(out, ty.as_bytes());
                        self.$col.write_part(part, out);
                    }
                )*
            }
        }
    };
}

pub(crate) use native_block;

#[cfg(test)]
#[allow(unreachable_pub)] // the test table's generated items are public as every table's are
mod tests {
    use super::*;

    native_block!(
        /// A two-column test table.
        TestBlock { name: StrCol, attrs: AttrCols, n: U64Col }
    );

    #[test]
    fn strings_that_are_not_utf8_get_replacement_characters() {
        let mut out = Vec::new();
        put_bytes(&mut out, b"ok \xff\xfe end");
        let text = "ok \u{fffd}\u{fffd} end";
        assert_eq!(out[0] as usize, text.len());
        assert_eq!(&out[1..], text.as_bytes());
        let mut out = Vec::new();
        put_bytes(&mut out, "caf\u{e9}".as_bytes());
        assert_eq!(&out[1..], "caf\u{e9}".as_bytes());
    }

    #[test]
    fn varint_matches_leb128() {
        let check = |v: u64, want: &[u8]| {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out, want, "{v}");
        };
        check(0, &[0]);
        check(127, &[0x7f]);
        check(128, &[0x80, 0x01]);
        check(300, &[0xac, 0x02]);
    }

    #[test]
    fn block_layout_is_native() {
        let mut b = TestBlock::default();
        b.name.push(b"ab");
        b.attrs.keys.extend_from_slice(b"\x01k");
        b.attrs.values.extend_from_slice(b"\x01v");
        b.attrs.types.push(1);
        b.attrs.close_row(1);
        b.n.push(7);
        b.rows = 1;
        let mut out = Vec::new();
        b.encode(&mut out);
        let mut want = vec![5u8, 1];
        want.extend_from_slice(b"\x04name\x06String\x02ab");
        want.extend_from_slice(b"\x0aattrs_keys\x0dArray(String)");
        want.extend_from_slice(&1u64.to_le_bytes());
        want.extend_from_slice(b"\x01k");
        want.extend_from_slice(b"\x0cattrs_values\x0dArray(String)");
        want.extend_from_slice(&1u64.to_le_bytes());
        want.extend_from_slice(b"\x01v");
        want.extend_from_slice(b"\x0battrs_types\x0cArray(UInt8)");
        want.extend_from_slice(&1u64.to_le_bytes());
        want.push(1);
        want.extend_from_slice(b"\x01n\x06UInt64");
        want.extend_from_slice(&7u64.to_le_bytes());
        assert_eq!(out, want);
        let kept = b.capacity();
        b.clear();
        assert_eq!(
            (b.rows, b.byte_len(), b.capacity()),
            (0, 0, kept),
            "clear keeps capacity"
        );
        assert_eq!(
            TestBlock::columns()
                .iter()
                .map(|c| c.0.as_str())
                .collect::<Vec<_>>(),
            ["name", "attrs_keys", "attrs_values", "attrs_types", "n"]
        );
    }

    #[test]
    fn hex_is_lowercase() {
        let mut out = Vec::new();
        put_hex(&mut out, &[0xAB, 0x01, 0xff]);
        assert_eq!(out, b"\x06ab01ff");
    }
}
