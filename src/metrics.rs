//! Agreement metrics over pairs of labels: accuracy, per-class precision,
//! recall and F1, macro-F1, Cohen's kappa, and a bootstrap interval.

use crate::stance::Stance;
use serde::Serialize;

/// Counts of (reference, predicted) label pairs: `counts[reference][predicted]`,
/// indexed by [`Stance::index`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Confusion {
    pub counts: [[usize; 3]; 3],
}

/// Precision, recall, F1 and support of one label.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ClassScores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Reference sentences with this label.
    pub support: usize,
}

impl Confusion {
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = &'a (Stance, Stance)>) -> Self {
        let mut c = Confusion::default();
        for &(reference, predicted) in pairs {
            c.counts[reference.index()][predicted.index()] += 1;
        }
        c
    }

    pub fn total(&self) -> usize {
        self.counts.iter().flatten().sum()
    }

    fn agreed(&self) -> usize {
        (0..3).map(|i| self.counts[i][i]).sum()
    }

    pub fn accuracy(&self) -> f64 {
        ratio(self.agreed(), self.total())
    }

    pub fn class(&self, label: Stance) -> ClassScores {
        let i = label.index();
        let tp = self.counts[i][i];
        let predicted: usize = (0..3).map(|r| self.counts[r][i]).sum();
        let support: usize = self.counts[i].iter().sum();
        let precision = ratio(tp, predicted);
        let recall = ratio(tp, support);
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        ClassScores {
            precision,
            recall,
            f1,
            support,
        }
    }

    /// Mean F1 over the labels that occur in the reference or the predictions
    /// (a label absent from both says nothing about the classifier).
    pub fn macro_f1(&self) -> f64 {
        let present: Vec<Stance> = Stance::ALL
            .into_iter()
            .filter(|&l| {
                let i = l.index();
                self.counts[i].iter().sum::<usize>()
                    + (0..3).map(|r| self.counts[r][i]).sum::<usize>()
                    > 0
            })
            .collect();
        if present.is_empty() {
            return 0.0;
        }
        present.iter().map(|&l| self.class(l).f1).sum::<f64>() / present.len() as f64
    }

    /// Cohen's kappa: agreement corrected for the agreement expected by chance
    /// from each side's label frequencies.
    pub fn kappa(&self) -> f64 {
        let n = self.total() as f64;
        if n == 0.0 {
            return 0.0;
        }
        let observed = self.agreed() as f64 / n;
        let expected: f64 = (0..3)
            .map(|i| {
                let row: usize = self.counts[i].iter().sum();
                let col: usize = (0..3).map(|r| self.counts[r][i]).sum();
                (row as f64 / n) * (col as f64 / n)
            })
            .sum();
        if expected >= 1.0 {
            // Both sides used a single, identical label: perfect but uninformative.
            return if observed >= 1.0 { 1.0 } else { 0.0 };
        }
        (observed - expected) / (1.0 - expected)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// SplitMix64: a small, fixed pseudo-random generator, so that bootstrap
/// intervals are the same on every machine and every run.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }
}

/// The seed every report uses, so its intervals never change between runs.
pub const BOOTSTRAP_SEED: u64 = 20_260_221;
/// Resamples per interval.
pub const BOOTSTRAP_RESAMPLES: usize = 1000;

/// A 95% percentile bootstrap interval of `statistic` over `items`
/// (resampled with replacement, `resamples` times, fixed seed).
pub fn bootstrap_interval<T>(
    items: &[T],
    resamples: usize,
    seed: u64,
    statistic: impl Fn(&[&T]) -> f64,
) -> (f64, f64) {
    bootstrap_interval_partial(items, resamples, seed, |sample| Some(statistic(sample)))
        .unwrap_or((0.0, 0.0))
}

/// As [`bootstrap_interval`], for a statistic that some resamples leave
/// undefined (a ratio whose denominator is zero): those resamples are left
/// out; `None` when no resample defines it.
pub fn bootstrap_interval_partial<T>(
    items: &[T],
    resamples: usize,
    seed: u64,
    statistic: impl Fn(&[&T]) -> Option<f64>,
) -> Option<(f64, f64)> {
    if items.is_empty() {
        return None;
    }
    let mut rng = SplitMix64::new(seed);
    let mut values: Vec<f64> = (0..resamples)
        .filter_map(|_| {
            let sample: Vec<&T> = (0..items.len())
                .map(|_| &items[rng.below(items.len())])
                .collect();
            statistic(&sample)
        })
        .collect();
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let at =
        |q: f64| values[((q * (values.len() - 1) as f64).round() as usize).min(values.len() - 1)];
    Some((at(0.025), at(0.975)))
}

/// 95% bootstrap interval of macro-F1 over sentence pairs.
pub fn macro_f1_interval(pairs: &[(Stance, Stance)]) -> (f64, f64) {
    bootstrap_interval(pairs, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, |sample| {
        Confusion::from_pairs(sample.iter().copied()).macro_f1()
    })
}

/// Bins of the expected calibration error.
pub const CALIBRATION_BINS: usize = 10;

/// Expected calibration error of top-label confidences: sentences are put in
/// ten equal-width bins by the probability of the predicted label, and the
/// gaps between each bin's mean confidence and its accuracy are averaged,
/// weighted by bin size. 0 means the probabilities mean what they say.
pub fn expected_calibration_error(confidence_correct: &[(f32, bool)]) -> f64 {
    let n = confidence_correct.len();
    if n == 0 {
        return 0.0;
    }
    let mut bins = [(0.0f64, 0usize, 0usize); CALIBRATION_BINS];
    for &(p, correct) in confidence_correct {
        let b = ((p as f64 * CALIBRATION_BINS as f64) as usize).min(CALIBRATION_BINS - 1);
        bins[b].0 += p as f64;
        bins[b].1 += 1;
        bins[b].2 += correct as usize;
    }
    bins.iter()
        .filter(|b| b.1 > 0)
        .map(|&(sum, count, correct)| {
            let gap = (sum / count as f64 - correct as f64 / count as f64).abs();
            gap * count as f64 / n as f64
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Stance::{Anti, Neutral, Pro};

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    /// Hand-computed: reference/predicted pairs
    ///   pro: 3 → pro 2, neutral 1; anti: 2 → anti 1, pro 1; neutral: 5 → neutral 4, anti 1.
    fn example() -> Confusion {
        let mut pairs = vec![
            (Pro, Pro),
            (Pro, Pro),
            (Pro, Neutral),
            (Anti, Anti),
            (Anti, Pro),
        ];
        pairs.extend([(Neutral, Neutral); 4]);
        pairs.push((Neutral, Anti));
        Confusion::from_pairs(&pairs)
    }

    #[test]
    fn accuracy_precision_recall_f1_by_hand() {
        let c = example();
        assert_eq!(c.total(), 10);
        assert!(close(c.accuracy(), 0.7));
        let pro = c.class(Pro); // tp 2, predicted 3, support 3
        assert!(
            close(pro.precision, 2.0 / 3.0)
                && close(pro.recall, 2.0 / 3.0)
                && close(pro.f1, 2.0 / 3.0)
        );
        let anti = c.class(Anti); // tp 1, predicted 2, support 2
        assert!(close(anti.precision, 0.5) && close(anti.recall, 0.5) && close(anti.f1, 0.5));
        let neutral = c.class(Neutral); // tp 4, predicted 5, support 5
        assert!(close(neutral.f1, 0.8));
        assert_eq!(neutral.support, 5);
        assert!(close(c.macro_f1(), (2.0 / 3.0 + 0.5 + 0.8) / 3.0));
    }

    #[test]
    fn kappa_by_hand() {
        // po = 0.7; row marginals .3 .2 .5; column marginals .3 .2 .5
        // pe = .09 + .04 + .25 = .38; kappa = (.7 - .38) / .62
        assert!(close(example().kappa(), 0.32 / 0.62));
        let perfect = Confusion::from_pairs(&[(Pro, Pro), (Anti, Anti), (Neutral, Neutral)]);
        assert!(close(perfect.kappa(), 1.0));
        let constant = Confusion::from_pairs(&[(Neutral, Neutral), (Neutral, Neutral)]);
        assert!(close(constant.kappa(), 1.0));
        // Chance-level: kappa 0.
        let chance = Confusion::from_pairs(&[(Pro, Pro), (Pro, Anti), (Anti, Pro), (Anti, Anti)]);
        assert!(close(chance.kappa(), 0.0));
    }

    #[test]
    fn zero_divisions_give_zero_and_absent_labels_leave_the_macro_average() {
        let c = Confusion::from_pairs(&[(Neutral, Neutral), (Pro, Neutral)]);
        assert_eq!(c.class(Pro).precision, 0.0);
        assert_eq!(c.class(Pro).f1, 0.0);
        // Anti never occurs: the average is over pro (0) and neutral (2/3).
        assert!(close(c.macro_f1(), (0.0 + 2.0 / 3.0) / 2.0));
    }

    #[test]
    fn bootstrap_is_deterministic_and_brackets_the_estimate() {
        let c = example();
        let mut pairs = Vec::new();
        for r in Stance::ALL {
            for p in Stance::ALL {
                pairs.extend(std::iter::repeat_n((r, p), c.counts[r.index()][p.index()]));
            }
        }
        let (lo, hi) = macro_f1_interval(&pairs);
        assert_eq!((lo, hi), macro_f1_interval(&pairs));
        assert!(lo <= c.macro_f1() && c.macro_f1() <= hi, "{lo} {hi}");
        assert!(lo < hi);
    }

    #[test]
    fn calibration_error_by_hand() {
        // Bin 0.9: two sentences, confidence 0.9, one right: gap 0.4, weight 2/4.
        // Bin 0.6: two sentences, confidence 0.6, both right: gap 0.4, weight 2/4.
        let ece =
            expected_calibration_error(&[(0.9, true), (0.9, false), (0.6, true), (0.6, true)]);
        // Confidences are f32: compare at f32 precision.
        assert!((ece - 0.4).abs() < 1e-6, "{ece}");
        let perfect = expected_calibration_error(&[(1.0, true), (0.5, true), (0.5, false)]);
        assert!(perfect.abs() < 1e-6, "{perfect}");
    }

    #[test]
    fn below_stays_in_range() {
        let mut rng = SplitMix64::new(1);
        assert!((0..10_000).all(|_| rng.below(7) < 7));
    }
}
