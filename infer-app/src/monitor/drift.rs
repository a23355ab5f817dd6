//! Distribution drift by the population stability index (PSI) over fixed bins:
//! PSI = Σ (cᵢ − rᵢ) · ln(cᵢ / rᵢ) over bin shares r (reference) and c (current), with empty
//! bins floored at 0.1 % so one empty bin does not make it infinite. The usual reading, which
//! the report uses: below 0.1 stable, 0.1–0.2 moderate shift, above 0.2 drift.

/// PSI above this is reported as drift.
pub const DRIFT_PSI: f64 = 0.2;

/// Fixed bin edges for one feature: `edges[i]..edges[i+1]`, the last bin open-ended.
#[derive(Debug, Clone)]
pub struct Bins {
    /// Short name (the `feature` label on `/metrics`).
    pub key: &'static str,
    /// What is binned, for people.
    pub name: &'static str,
    /// Lower edges, increasing.
    pub edges: Vec<f64>,
}

impl Bins {
    /// Bin counts of `values` (values below the first edge go to the first bin).
    pub fn counts(&self, values: impl IntoIterator<Item = f64>) -> Vec<u64> {
        let mut counts = vec![0u64; self.edges.len()];
        for v in values.into_iter().filter(|v| v.is_finite()) {
            let i = self.edges.partition_point(|&e| e <= v).saturating_sub(1);
            counts[i] += 1;
        }
        counts
    }
}

/// The population stability index of `current` against `reference` (same bins); `None` when
/// either is empty.
pub fn psi(reference: &[u64], current: &[u64]) -> Option<f64> {
    let (rn, cn) = (
        reference.iter().sum::<u64>() as f64,
        current.iter().sum::<u64>() as f64,
    );
    if rn == 0.0 || cn == 0.0 {
        return None;
    }
    let floor = 1e-3;
    Some(
        reference
            .iter()
            .zip(current)
            .map(|(&r, &c)| {
                let (r, c) = ((r as f64 / rn).max(floor), (c as f64 / cn).max(floor));
                (c - r) * (c / r).ln()
            })
            .sum(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_distribution_is_stable_and_a_shifted_one_drifts() {
        let bins = Bins {
            key: "x",
            name: "x",
            edges: (0..8).map(|i| f64::from(i) * 32.0).collect(),
        };
        let light: Vec<f64> = (0..1000).map(|i| 200.0 + f64::from(i % 40)).collect();
        let also_light: Vec<f64> = (0..500).map(|i| 201.0 + f64::from(i % 39)).collect();
        let dark: Vec<f64> = (0..500).map(|i| 60.0 + f64::from(i % 50)).collect();
        let r = bins.counts(light.iter().copied());
        assert!(psi(&r, &bins.counts(also_light)).expect("psi") < 0.1);
        assert!(psi(&r, &bins.counts(dark)).expect("psi") > DRIFT_PSI);
        assert_eq!(psi(&r, &[0; 8]), None);
        assert_eq!(
            bins.counts([-5.0, 0.0, 31.9, 32.0, 1e9]),
            vec![3, 1, 0, 0, 0, 0, 0, 1]
        );
    }
}
