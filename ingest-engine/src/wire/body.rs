//! Request bodies: read with a size cap and a deadline, then decompressed with the same cap.

use std::io::Read;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::{BodyExt, Limited};

use crate::error::IngestError;

/// A request's `Content-Encoding` (or gRPC's `grpc-encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContentEncoding {
    Identity,
    Gzip,
    Deflate,
    Zstd,
}

impl ContentEncoding {
    /// Parses the value of `header` (absent = identity).
    pub(crate) fn from_headers(headers: &HeaderMap, header: &str) -> Result<Self, IngestError> {
        let Some(value) = headers.get(header) else {
            return Ok(Self::Identity);
        };
        let value = value.to_str().unwrap_or("").trim().to_ascii_lowercase();
        match value.as_str() {
            "" | "identity" => Ok(Self::Identity),
            "gzip" | "x-gzip" => Ok(Self::Gzip),
            "deflate" => Ok(Self::Deflate),
            "zstd" => Ok(Self::Zstd),
            _ => Err(IngestError::UnsupportedEncoding(
                value.chars().take(64).collect(),
            )),
        }
    }
}

/// Reads a whole body, refusing more than `limit` bytes or a body slower than `timeout`.
pub(crate) async fn read_limited(
    headers: &HeaderMap,
    body: axum::body::Body,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, IngestError> {
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(IngestError::PayloadTooLarge { limit });
    }
    let hint = declared.map_or(0, |n| n as usize);
    match tokio::time::timeout(timeout, gather(Limited::new(body, limit), hint)).await {
        Err(_) => Err(IngestError::BodyTimeout(timeout)),
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e))
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(IngestError::PayloadTooLarge { limit })
        }
        Ok(Err(e)) => Err(IngestError::BadCompression(format!(
            "body read failed: {e}"
        ))),
    }
}

/// The body's data frames as one `Bytes`: a single frame as it is, several gathered into a
/// recycled buffer (see [`crate::wire::buffers`]).
async fn gather<B>(mut body: B, hint: usize) -> Result<Bytes, B::Error>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    let mut first: Option<Bytes> = None;
    let mut buf: Option<Vec<u8>> = None;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue; // trailers
        };
        if let Some(buf) = &mut buf {
            buf.extend_from_slice(&data);
        } else if let Some(prev) = first.take() {
            let mut gathered = crate::wire::buffers::take(hint.max(prev.len() + data.len()));
            gathered.extend_from_slice(&prev);
            gathered.extend_from_slice(&data);
            buf = Some(gathered);
        } else {
            first = Some(data);
        }
    }
    Ok(match (buf, first) {
        (Some(buf), _) => crate::wire::buffers::freeze(buf),
        (None, Some(only)) => only,
        (None, None) => Bytes::new(),
    })
}

/// Decompresses `data`, refusing output larger than `limit` (decompression bombs).
pub(crate) fn decompress(
    encoding: ContentEncoding,
    data: Bytes,
    limit: usize,
) -> Result<Bytes, IngestError> {
    fn read_capped(mut reader: impl Read, limit: usize, hint: usize) -> Result<Bytes, IngestError> {
        let mut out = Vec::with_capacity(hint.min(limit));
        let mut capped = reader.by_ref().take(limit as u64 + 1);
        capped
            .read_to_end(&mut out)
            .map_err(|e| IngestError::BadCompression(e.to_string()))?;
        if out.len() > limit {
            return Err(IngestError::PayloadTooLarge { limit });
        }
        Ok(Bytes::from(out))
    }
    let hint = data.len() * 4;
    match encoding {
        ContentEncoding::Identity => Ok(data),
        ContentEncoding::Gzip => {
            read_capped(flate2::read::MultiGzDecoder::new(&data[..]), limit, hint)
        }
        ContentEncoding::Deflate => {
            // HTTP's "deflate" is zlib-wrapped; some clients send raw deflate, so try both.
            read_capped(flate2::read::ZlibDecoder::new(&data[..]), limit, hint).or_else(|e| match e
            {
                IngestError::PayloadTooLarge { .. } => Err(e),
                _ => read_capped(flate2::read::DeflateDecoder::new(&data[..]), limit, hint),
            })
        }
        ContentEncoding::Zstd => {
            let decoder = zstd::stream::read::Decoder::new(&data[..])
                .map_err(|e| IngestError::BadCompression(e.to_string()))?;
            read_capped(decoder, limit, hint)
        }
    }
}

/// Reads a body of at most `limit` bytes within `timeout`, with how it is compressed (from
/// `Content-Encoding`; [`decompress`] holds the decompressed size to the same limit).
pub(crate) async fn read_encoded(
    headers: &HeaderMap,
    body: axum::body::Body,
    limit: usize,
    timeout: Duration,
) -> Result<(Bytes, ContentEncoding), IngestError> {
    let encoding = ContentEncoding::from_headers(headers, "content-encoding")?;
    Ok((read_limited(headers, body, limit, timeout).await?, encoding))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn decompression_is_capped() {
        let raw = vec![b'a'; 1 << 20];
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&raw).unwrap();
        let gz = Bytes::from(gz.finish().unwrap());
        assert_eq!(
            decompress(ContentEncoding::Gzip, gz.clone(), 1 << 20)
                .unwrap()
                .len(),
            1 << 20
        );
        assert!(matches!(
            decompress(ContentEncoding::Gzip, gz, (1 << 20) - 1),
            Err(IngestError::PayloadTooLarge { .. })
        ));
        let z = Bytes::from(zstd::encode_all(&raw[..], 3).unwrap());
        assert!(matches!(
            decompress(ContentEncoding::Zstd, z, 1000),
            Err(IngestError::PayloadTooLarge { .. })
        ));
        assert!(matches!(
            decompress(ContentEncoding::Gzip, Bytes::from_static(b"not gzip"), 100),
            Err(IngestError::BadCompression(_))
        ));
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(b"hello").unwrap();
        let z = Bytes::from(z.finish().unwrap());
        assert_eq!(
            &decompress(ContentEncoding::Deflate, z, 100).unwrap()[..],
            b"hello"
        );
    }
}
