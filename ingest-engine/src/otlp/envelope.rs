//! The resource → scope → record nesting shared by all three OTLP signals.
//!
//! Resource and scope fields are encoded once per resource/scope into ready-to-copy column bytes,
//! then appended to every row below them (`push_envelope!`).

use super::DecodeError;
use super::anyvalue::prepare_attrs;
use super::wire::Fields;
use storage::native::{PreparedAttrs, put_bytes};

/// What every row copies from its resource and scope, pre-encoded.
#[derive(Default)]
pub(crate) struct Envelope {
    /// `service.name` as an encoded String value.
    pub(crate) service: Vec<u8>,
    pub(crate) resource_attrs: PreparedAttrs,
    pub(crate) resource_dropped: u32,
    pub(crate) resource_schema_url: Vec<u8>,
    pub(crate) scope_name: Vec<u8>,
    pub(crate) scope_version: Vec<u8>,
    pub(crate) scope_attrs: PreparedAttrs,
    pub(crate) scope_dropped: u32,
    pub(crate) scope_schema_url: Vec<u8>,
    /// Reusable buffer for value rendering.
    pub(crate) scratch: Vec<u8>,
}

/// Service name stored when a resource has no string `service.name` (the OTel SDK default).
const UNKNOWN_SERVICE: &[u8] = b"unknown_service";

impl Envelope {
    fn set_resource(&mut self, resource: &[u8], schema_url: &[u8]) -> Result<(), DecodeError> {
        let service = prepare_attrs(resource, 1, &mut self.resource_attrs, &mut self.scratch)?;
        self.service.clear();
        put_bytes(&mut self.service, service.unwrap_or(UNKNOWN_SERVICE));
        self.resource_dropped = 0;
        let mut fields = Fields::new(resource);
        while let Some((n, v)) = fields.next_field()? {
            if n == 2 {
                self.resource_dropped = v.varint("Resource.dropped_attributes_count")? as u32;
            }
        }
        self.resource_schema_url.clear();
        put_bytes(&mut self.resource_schema_url, schema_url);
        Ok(())
    }

    fn set_scope(&mut self, scope: &[u8], schema_url: &[u8]) -> Result<(), DecodeError> {
        prepare_attrs(scope, 3, &mut self.scope_attrs, &mut self.scratch)?;
        let (mut name, mut version): (&[u8], &[u8]) = (b"", b"");
        self.scope_dropped = 0;
        let mut fields = Fields::new(scope);
        while let Some((n, v)) = fields.next_field()? {
            match n {
                1 => name = v.bytes("InstrumentationScope.name")?,
                2 => version = v.bytes("InstrumentationScope.version")?,
                4 => self.scope_dropped = v.varint("InstrumentationScope.dropped")? as u32,
                _ => {}
            }
        }
        self.scope_name.clear();
        put_bytes(&mut self.scope_name, name);
        self.scope_version.clear();
        put_bytes(&mut self.scope_version, version);
        self.scope_schema_url.clear();
        put_bytes(&mut self.scope_schema_url, schema_url);
        Ok(())
    }
}

/// Returns fields `first` and `third` of a `{1: message, 2: repeated, 3: string}` envelope
/// (both `Resource*` and `Scope*` messages have this shape), wherever they appear.
fn head_and_schema<'a>(
    msg: &'a [u8],
    what: &'static str,
) -> Result<(&'a [u8], &'a [u8]), DecodeError> {
    let (mut head, mut schema): (&[u8], &[u8]) = (b"", b"");
    let mut fields = Fields::new(msg);
    while let Some((n, v)) = fields.next_field()? {
        match n {
            1 => head = v.bytes(what)?,
            3 => schema = v.bytes("schema_url")?,
            _ => {}
        }
    }
    Ok((head, schema))
}

/// Walks `request → resource_* (1) → scope_* (2) → items (2)`, calling `each` for every item
/// with the envelope of its resource and scope set.
pub(crate) fn walk<'a>(
    request: &'a [u8],
    env: &mut Envelope,
    mut each: impl FnMut(&mut Envelope, &'a [u8]) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    let mut resources = Fields::new(request);
    while let Some((n, v)) = resources.next_field()? {
        if n != 1 {
            continue;
        }
        let resource_msg = v.bytes("resource_*")?;
        let (resource, schema) = head_and_schema(resource_msg, "resource")?;
        env.set_resource(resource, schema)?;
        let mut scopes = Fields::new(resource_msg);
        while let Some((n, v)) = scopes.next_field()? {
            if n != 2 {
                continue;
            }
            let scope_msg = v.bytes("scope_*")?;
            let (scope, schema) = head_and_schema(scope_msg, "scope")?;
            env.set_scope(scope, schema)?;
            let mut items = Fields::new(scope_msg);
            while let Some((n, v)) = items.next_field()? {
                if n == 2 {
                    each(env, v.bytes("records")?)?;
                }
            }
        }
    }
    Ok(())
}

/// Appends the project, service, resource and scope columns of one row.
macro_rules! push_envelope {
    ($block:expr, $env:expr, $project:expr) => {{
        let b = &mut *$block;
        let e = &*$env;
        b.project_id.push($project);
        b.service_name.push_encoded(&e.service);
        b.resource_attributes.push_prepared(&e.resource_attrs);
        b.resource_dropped_attributes_count.push(e.resource_dropped);
        b.resource_schema_url.push_encoded(&e.resource_schema_url);
        b.scope_name.push_encoded(&e.scope_name);
        b.scope_version.push_encoded(&e.scope_version);
        b.scope_attributes.push_prepared(&e.scope_attrs);
        b.scope_dropped_attributes_count.push(e.scope_dropped);
        b.scope_schema_url.push_encoded(&e.scope_schema_url);
    }};
}

pub(crate) use push_envelope;
