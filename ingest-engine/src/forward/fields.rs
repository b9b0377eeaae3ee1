//! What a Fluent record's fields are for as it is read: the role of each key (body, level,
//! ids, service) and the pick for each role, and what the record shares with the one before it.
//! Log shippers repeat most fields record after record (host, service, pod…): a record that
//! ends with the previous record's last fields, byte for byte, takes that whole tail over at
//! once, with the attributes it was encoded to, without parsing it again.

use super::msgpack::Head;
use storage::native::AttrMark;

/// What a field's key makes it, beyond an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Body,
    Level,
    Trace,
    Span,
    Service,
}

/// The role of a field key and its rank among that role's keys (0 = preferred): the body is
/// the first of `message`, `log`, `msg`, `body`, `text`; the level of `level`, `severity`,
/// `loglevel`, `log_level`, `priority`, `severityText`, `severity_text`. One match per field
/// (the compiler switches on the length first), not a scan of every list.
pub(crate) fn role(key: &[u8]) -> Option<(Role, u8)> {
    use Role::*;
    Some(match key {
        b"message" => (Body, 0),
        b"log" => (Body, 1),
        b"msg" => (Body, 2),
        b"body" => (Body, 3),
        b"text" => (Body, 4),
        b"level" => (Level, 0),
        b"severity" => (Level, 1),
        b"loglevel" => (Level, 2),
        b"log_level" => (Level, 3),
        b"priority" => (Level, 4),
        b"severityText" => (Level, 5),
        b"severity_text" => (Level, 6),
        b"trace_id" => (Trace, 0),
        b"traceId" => (Trace, 1),
        b"traceid" => (Trace, 2),
        b"span_id" => (Span, 0),
        b"spanId" => (Span, 1),
        b"spanid" => (Span, 2),
        b"service.name" => (Service, 0),
        b"service_name" => (Service, 1),
        _ => return None,
    })
}

fn valid_hex_id(s: &[u8], len: usize) -> bool {
    // Without an early exit the compiler checks many bytes at once.
    s.len() == len && s.iter().fold(true, |ok, b| ok & b.is_ascii_hexdigit())
}

/// A field held for a role (body, level, an id) instead of being an attribute.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Held<'a> {
    rank: u8,
    pub(crate) key: &'a [u8],
    pub(crate) head: Head<'a>,
    /// The value's encoding.
    pub(crate) value: &'a [u8],
}

/// What becomes of a field offered to [`Picks::offer`].
pub(crate) enum Offer<'a> {
    /// It is an attribute (too): append it now.
    Attribute,
    /// It is held for its role.
    Held,
    /// It is held for its role, and the field held before it, worse ranked, is an attribute
    /// after all.
    Displaced(Held<'a>),
}

/// The field picked for each role so far.
#[derive(Debug, Default)]
pub(crate) struct Picks<'a> {
    pub(crate) body: Option<Held<'a>>,
    pub(crate) level: Option<Held<'a>>,
    pub(crate) trace: Option<Held<'a>>,
    pub(crate) span: Option<Held<'a>>,
    /// The service name (its field stays an attribute) and its rank.
    pub(crate) service: Option<(&'a [u8], u8)>,
}

impl<'a> Picks<'a> {
    /// Offers a field with its key's role: the best-ranked field of a role whose value suits
    /// it is held for the role; every other field is an attribute.
    pub(crate) fn offer(
        &mut self,
        role: Option<(Role, u8)>,
        key: &'a [u8],
        head: Head<'a>,
        value: &'a [u8],
    ) -> Offer<'a> {
        let Some((role, rank)) = role else {
            return Offer::Attribute;
        };
        let slot = match (role, head) {
            (Role::Body, _) => &mut self.body,
            (Role::Level, Head::Str(_) | Head::Int(_) | Head::Uint(_)) => &mut self.level,
            (Role::Trace, Head::Str(s)) if valid_hex_id(s, 32) => &mut self.trace,
            (Role::Span, Head::Str(s)) if valid_hex_id(s, 16) => &mut self.span,
            (Role::Service, Head::Str(s)) if !s.is_empty() => {
                if self.service.is_none_or(|(_, best)| rank < best) {
                    self.service = Some((s, rank));
                }
                return Offer::Attribute;
            }
            _ => return Offer::Attribute,
        };
        let held = Held {
            rank,
            key,
            head,
            value,
        };
        match slot {
            None => {
                *slot = Some(held);
                Offer::Held
            }
            Some(best) if rank < best.rank => Offer::Displaced(std::mem::replace(best, held)),
            Some(_) => Offer::Attribute,
        }
    }
}

/// Where one field of a record starts (in the record) and where its attribute starts (in the
/// row's attribute columns).
type Place = (usize, AttrMark);

/// What the last record read left for the next one, and the places of the record being read.
/// Kept across the records of a frame.
#[derive(Default)]
pub(crate) struct Fields<'a> {
    current: Vec<Place>,
    previous: Vec<Place>,
    /// The encoding of the last record's fields.
    record: &'a [u8],
    /// Where the last row's in-order attributes ended.
    end: AttrMark,
    /// The first of the last record's fields from which on none has a role.
    plain_from: usize,
    /// Fields displaced from a role in the record being read (attributes after the others).
    pub(crate) displaced: Vec<Held<'a>>,
}

/// The rest of the record being read, equal to the rest of the previous record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tail {
    /// Its length in bytes.
    pub(crate) len: usize,
    /// The first of its fields in the previous record.
    from: usize,
    /// The previous row's attributes of those fields, to be copied as they are.
    pub(crate) attributes: (AttrMark, AttrMark),
}

impl<'a> Fields<'a> {
    /// Starts a record.
    pub(crate) fn start(&mut self) {
        std::mem::swap(&mut self.current, &mut self.previous);
        self.current.clear();
        self.displaced.clear();
    }

    /// Notes that the next field starts at `at` in the record and its attribute (if it is
    /// one) at `mark`.
    #[inline]
    pub(crate) fn place(&mut self, at: usize, mark: AttrMark) {
        self.current.push((at, mark));
    }

    /// Whether `rest`, the last `remaining` fields of the record being read, are the previous
    /// record's last fields, none of them with a role.
    #[inline]
    pub(crate) fn tail(&self, rest: &[u8], remaining: usize) -> Option<Tail> {
        let from = self.previous.len().checked_sub(remaining)?;
        if from < self.plain_from {
            return None;
        }
        let (at, mark) = *self.previous.get(from)?;
        let same = self.record.get(at..)?;
        // The first field inline (most records differ there), then the whole rest.
        let first = self
            .previous
            .get(from + 1)
            .map_or(same.len(), |&(next, _)| next - at);
        if !starts_with(rest, same.get(..first)?) || !rest.starts_with(same) {
            return None;
        }
        Some(Tail {
            len: same.len(),
            from,
            attributes: (mark, self.end),
        })
    }

    /// Notes the places of a tail taken over at `at` with its attributes copied to `mark`.
    pub(crate) fn take_tail(&mut self, tail: Tail, at: usize, mark: AttrMark) {
        let Some(&(from_at, from_mark)) = self.previous.get(tail.from) else {
            return;
        };
        for &(field_at, field_mark) in self.previous.get(tail.from..).unwrap_or_default() {
            self.current
                .push((field_at - from_at + at, field_mark.moved(from_mark, mark)));
        }
    }

    /// Ends the record `record`, whose fields from `plain_from` on have no role and whose
    /// in-order attributes ended at `end`.
    pub(crate) fn finish(&mut self, record: &'a [u8], end: AttrMark, plain_from: usize) {
        self.record = record;
        self.end = end;
        self.plain_from = plain_from;
    }
}

/// `hay.starts_with(needle)` for the short needles of record fields, compared a word at a time
/// inline: a call to `memcmp` per field cost more than the comparison itself.
fn starts_with(hay: &[u8], needle: &[u8]) -> bool {
    let Some(hay) = hay.get(..needle.len()) else {
        return false;
    };
    let word = |s: &[u8], at: usize| {
        s.get(at..at + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map(u64::from_ne_bytes)
    };
    let n = needle.len();
    if n < 8 {
        return hay.iter().zip(needle).all(|(a, b)| a == b);
    }
    let mut at = 0;
    while at + 8 <= n {
        if word(hay, at) != word(needle, at) {
            return false;
        }
        at += 8;
    }
    // The last, partial word, read overlapping the one before it.
    word(hay, n - 8) == word(needle, n - 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_with_matches_the_standard_library() {
        let hay: Vec<u8> = (0..40u8).collect();
        for len in 0..=41usize {
            for flip in [None, Some(0), Some(len / 2), Some(len.saturating_sub(1))] {
                let mut needle: Vec<u8> = (0..len as u8).collect();
                if let Some(at) = flip.filter(|&at| at < needle.len()) {
                    needle[at] ^= 0x80;
                }
                assert_eq!(
                    starts_with(&hay, &needle),
                    hay.starts_with(&needle),
                    "{needle:?}"
                );
            }
        }
    }
}
