//! Sentence pairs for contrastive fine-tuning, as SetFit makes them: for
//! each sentence, `per_sentence` positive pairs (with a sentence of the same
//! label, target similarity 1) and `per_sentence` negative pairs (with a
//! sentence of another label, target 0), drawn with a seeded generator and
//! shuffled. Same labels and seed, same pairs, on every machine (ChaCha8 is
//! specified bit for bit).

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::stance::Stance;

/// Two sentences (indices into the training set) and the cosine similarity
/// their vectors should have.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    pub a: usize,
    pub b: usize,
    /// 1 for the same label, 0 for different labels.
    pub target: f32,
}

/// SetFit's pairs for `labels` (see the module documentation). A positive
/// partner is never the sentence itself; a sentence alone in its label gets
/// no positive pairs, and a training set with one label gets no negative
/// pairs.
pub fn generate(labels: &[Stance], per_sentence: usize, seed: u64) -> Vec<Pair> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let by_label: Vec<Vec<usize>> = Stance::ALL
        .iter()
        .map(|&s| (0..labels.len()).filter(|&i| labels[i] == s).collect())
        .collect();
    let mut pairs = Vec::with_capacity(labels.len() * per_sentence * 2);
    for (i, &label) in labels.iter().enumerate() {
        let same = &by_label[label.index()];
        let other: Vec<usize> = Stance::ALL
            .iter()
            .filter(|&&s| s != label)
            .flat_map(|s| by_label[s.index()].iter().copied())
            .collect();
        // `same` is sorted and holds i: drawing from its other positions
        // is drawing k < len - 1 and stepping over i's position.
        let own = same.binary_search(&i).unwrap_or(0);
        for _ in 0..per_sentence {
            if same.len() > 1 {
                let k = rng.random_range(0..same.len() - 1);
                let j = same[if k >= own { k + 1 } else { k }];
                pairs.push(Pair {
                    a: i,
                    b: j,
                    target: 1.0,
                });
            }
            if !other.is_empty() {
                let j = other[rng.random_range(0..other.len())];
                pairs.push(Pair {
                    a: i,
                    b: j,
                    target: 0.0,
                });
            }
        }
    }
    pairs.shuffle(&mut rng);
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use Stance::*;

    fn toy() -> Vec<Stance> {
        vec![Pro, Anti, Neutral, Pro, Neutral, Anti, Neutral, Pro]
    }

    #[test]
    fn counts_and_labels_are_as_specified() {
        let labels = toy();
        let pairs = generate(&labels, 3, 7);
        assert_eq!(pairs.len(), labels.len() * 3 * 2);
        for (i, _) in labels.iter().enumerate() {
            let mine: Vec<&Pair> = pairs.iter().filter(|p| p.a == i).collect();
            assert_eq!(mine.iter().filter(|p| p.target == 1.0).count(), 3);
            assert_eq!(mine.iter().filter(|p| p.target == 0.0).count(), 3);
        }
        for p in &pairs {
            assert_ne!(p.a, p.b, "a sentence is never paired with itself");
            let same = labels[p.a] == labels[p.b];
            assert_eq!(p.target, if same { 1.0 } else { 0.0 }, "{p:?}");
        }
    }

    #[test]
    fn every_partner_can_be_drawn() {
        // With many draws, each same-label partner of sentence 0 (Pro) shows
        // up: the index skip over sentence 0 itself is not biased away.
        let labels = toy();
        let pairs = generate(&labels, 200, 1);
        for partner in [3, 7] {
            assert!(pairs
                .iter()
                .any(|p| p.a == 0 && p.b == partner && p.target == 1.0));
        }
        for partner in [1, 2, 4, 5, 6] {
            assert!(pairs
                .iter()
                .any(|p| p.a == 0 && p.b == partner && p.target == 0.0));
        }
        // Sentence 7 (the last Pro) must also reach sentence 0 and 3.
        for partner in [0, 3] {
            assert!(pairs
                .iter()
                .any(|p| p.a == 7 && p.b == partner && p.target == 1.0));
        }
    }

    #[test]
    fn same_seed_same_pairs_and_another_seed_other_pairs() {
        let labels = toy();
        assert_eq!(generate(&labels, 4, 42), generate(&labels, 4, 42));
        assert_ne!(generate(&labels, 4, 42), generate(&labels, 4, 43));
        // Pinned: the first pairs of seed 42 never change between versions
        // (ChaCha8 and the draw order are part of the recipe).
        let first: Vec<(usize, usize, f32)> = generate(&labels, 1, 42)
            .iter()
            .take(3)
            .map(|p| (p.a, p.b, p.target))
            .collect();
        assert_eq!(first, PINNED_SEED_42);
    }

    /// Recorded from the first run (ChaCha8, rand 0.9's `random_range` and
    /// `shuffle`); a change here means saved recipes no longer rebuild.
    const PINNED_SEED_42: [(usize, usize, f32); 3] = [(7, 6, 0.0), (4, 6, 1.0), (3, 4, 0.0)];

    #[test]
    fn lonely_labels_get_only_negative_pairs_and_one_label_only_positive() {
        let pairs = generate(&[Pro, Anti, Anti], 2, 0);
        assert_eq!(pairs.iter().filter(|p| p.a == 0).count(), 2);
        assert!(pairs.iter().filter(|p| p.a == 0).all(|p| p.target == 0.0));
        let pairs = generate(&[Neutral, Neutral], 2, 0);
        assert_eq!(pairs.len(), 4);
        assert!(pairs.iter().all(|p| p.target == 1.0));
        assert!(generate(&[], 2, 0).is_empty());
    }
}
