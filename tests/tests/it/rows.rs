//! Reading stored rows back in the shape a user would check them.

use serde_json::Value;

/// `(key, value, type)` of the attribute columns `<prefix>_keys/_values/_types` of `row`.
pub(crate) fn attrs(row: &Value, prefix: &str) -> Vec<(String, String, u64)> {
    let keys = row[format!("{prefix}_keys")]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let values = row[format!("{prefix}_values")]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let types = row[format!("{prefix}_types")]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        keys.len(),
        values.len(),
        "parallel attribute arrays in {row}"
    );
    assert_eq!(
        keys.len(),
        types.len(),
        "parallel attribute arrays in {row}"
    );
    keys.iter()
        .zip(values.iter())
        .zip(types.iter())
        .map(|((k, v), t)| {
            (
                k.as_str().unwrap().to_owned(),
                v.as_str().unwrap().to_owned(),
                t.as_u64().unwrap(),
            )
        })
        .collect()
}

/// Asserts `attrs` holds `(key, value, type)`.
pub(crate) fn assert_attr(attrs: &[(String, String, u64)], key: &str, value: &str, ty: u64) {
    assert!(
        attrs
            .iter()
            .any(|(k, v, t)| k == key && v == value && *t == ty),
        "attribute {key}={value} (type {ty}) missing from {attrs:?}"
    );
}

/// The row whose `column` equals `value`.
pub(crate) fn find<'a>(rows: &'a [Value], column: &str, value: &str) -> &'a Value {
    rows.iter()
        .find(|r| r[column].as_str() == Some(value))
        .unwrap_or_else(|| panic!("no row with {column}={value} in {rows:?}"))
}

/// The JSON stored in a String column element.
pub(crate) fn json_cell(v: &Value) -> Value {
    serde_json::from_str(v.as_str().expect("a string cell")).expect("valid JSON in the cell")
}
