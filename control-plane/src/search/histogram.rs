//! Percentiles of OTLP explicit-bucket histograms, from their bucket counts: the explorer's
//! metric charts and metrics monitors read p50/p95/p99 the same way.

/// The `q` quantile of a histogram from its buckets: linear within the bucket the rank falls
/// in (the first bucket starts at 0, the last ends at its lower bound).
pub(crate) fn quantile(q: f64, bounds: &[f64], counts: &[f64]) -> Option<f64> {
    let total: f64 = counts.iter().sum();
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut seen = 0.0;
    for (i, count) in counts.iter().enumerate() {
        if *count > 0.0 && seen + count >= rank {
            let low = if i == 0 {
                0.0_f64.min(bounds.first().copied().unwrap_or(0.0))
            } else {
                bounds[i - 1]
            };
            let high = bounds.get(i).copied().unwrap_or(low);
            return Some(low + (high - low) * ((rank - seen) / count).clamp(0.0, 1.0));
        }
        seen += count;
    }
    bounds.last().copied()
}

/// The quantile a percentile's name stands for (`p50`, `p95`, `p99`).
pub(crate) fn percentile(name: &str) -> Option<f64> {
    match name {
        "p50" => Some(0.5),
        "p95" => Some(0.95),
        "p99" => Some(0.99),
        _ => None,
    }
}

/// A JSON array of numbers as ClickHouse writes them (64-bit integers are quoted).
pub(crate) fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    x.as_f64()
                        .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
                        .unwrap_or(0.0)
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_within_their_bucket() {
        // Bounds 0,5,10,25,50,75,100,250 and values 1, 7, 30, 200.
        let bounds = [0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0];
        let counts = [0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0];
        assert_eq!(quantile(0.5, &bounds, &counts), Some(10.0));
        let p95 = quantile(0.95, &bounds, &counts).unwrap();
        assert!((p95 - 220.0).abs() < 1e-9, "{p95}");
        assert_eq!(quantile(0.5, &bounds, &[0.0; 9]), None);
    }
}
