//! Recycled request-body buffers: a body that arrives in many HTTP/2 DATA frames is gathered
//! into one of these instead of a fresh allocation, because a fresh multi-hundred-kilobyte
//! buffer per request costs page faults on every first touch. Bounded: at most
//! [`MAX_POOLED`] idle buffers of at most [`MAX_POOLED_CAPACITY`] bytes each are kept.

use std::sync::Mutex;

use bytes::Bytes;

/// Idle buffers kept for reuse.
const MAX_POOLED: usize = 32;
/// Larger buffers are freed instead of kept (32 × 2 MiB = 64 MiB at most held idle).
const MAX_POOLED_CAPACITY: usize = 2 << 20;

static POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// An empty buffer with room for at least `hint` bytes (capped at the pooled size).
pub(crate) fn take(hint: usize) -> Vec<u8> {
    let reused = POOL.lock().ok().and_then(|mut pool| pool.pop());
    let mut buf = reused.unwrap_or_default();
    buf.reserve(hint.min(MAX_POOLED_CAPACITY));
    buf
}

/// Shares `buf` as `Bytes`; its memory goes back to the pool when the last clone is dropped.
pub(crate) fn freeze(buf: Vec<u8>) -> Bytes {
    Bytes::from_owner(Pooled(buf))
}

struct Pooled(Vec<u8>);

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let mut buf = std::mem::take(&mut self.0);
        if buf.capacity() > MAX_POOLED_CAPACITY {
            return;
        }
        buf.clear();
        if let Ok(mut pool) = POOL.lock()
            && pool.len() < MAX_POOLED
        {
            pool.push(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_empty_and_the_pool_is_bounded() {
        let mut buf = take(1000);
        buf.extend_from_slice(b"hello");
        let bytes = freeze(buf);
        let clone = bytes.clone();
        drop(bytes);
        assert_eq!(&clone[..], b"hello", "clones keep the data alive");
        drop(clone);
        let again = take(10);
        assert!(again.is_empty());
        // Returning more than the bound keeps only MAX_POOLED.
        let many: Vec<Bytes> = (0..MAX_POOLED + 10).map(|_| freeze(take(16))).collect();
        drop(many);
        assert!(POOL.lock().map(|p| p.len()).unwrap_or(0) <= MAX_POOLED);
        // Oversized buffers are not kept.
        drop(freeze(Vec::with_capacity(MAX_POOLED_CAPACITY + 1)));
        assert!(
            POOL.lock()
                .map(|p| p.iter().all(|b| b.capacity() <= MAX_POOLED_CAPACITY))
                .unwrap_or(false)
        );
    }
}
