//! Near-duplicate articles: which articles of a run are copies of one story.
//!
//! The same wire dispatch comes back from many outlets, trimmed, retitled,
//! re-paragraphed or with a paragraph added. Counted once per copy, one
//! story republished ten times would outweigh ten different statements, so
//! `stance compare` counts each story once and `stance score` marks each
//! record with its story.
//!
//! The method is the usual one (Broder 1997; Indyk and Motwani 1998):
//!
//! 1. **Shingles**: the article's words (letters and digits, lower-cased,
//!    everything else a separator, so line breaks and punctuation do not
//!    count), taken [`SHINGLE_WORDS`] at a time, each hashed to 64 bits.
//! 2. **MinHash**: for each of [`HASHES`] fixed hash functions, the
//!    smallest hash over the shingles. Two signatures agree at a position
//!    with probability equal to the Jaccard similarity of the shingle sets.
//! 3. **LSH**: the signature cut into [`BANDS`] bands of [`ROWS`] rows;
//!    articles that share a band are candidates. With 3 rows, a pair at
//!    Jaccard 0.5 shares a band with probability 1 − (1 − 0.5³)⁴⁰ = 0.995,
//!    a pair at 0.05 with probability 0.005; each lookup costs the same
//!    whatever the number of articles, so the whole run is linear.
//! 4. **Check**: a candidate is a copy when the signatures agree on at least
//!    [`THRESHOLD`] of their positions (estimated Jaccard ≥ 0.5: a copy
//!    trimmed to half its length, or with as much text added, still folds;
//!    two stories on the same subject share far fewer five-word runs).
//!
//! **Which story an article joins, deterministically and in bounded
//! memory.** Articles are taken in input order. An article that is a copy
//! of a remembered story joins it (the story whose first article agrees
//! with it most; ties to the older story); otherwise it starts a story of
//! its own. A story is named by the id of its first article, and only that
//! first article's signature is kept. The index remembers the last
//! [`STORY_MEMORY`] stories started (a 480-byte signature, the id and
//! 40 band keys: about 1.3 KB each, so at most about 11 MB); a copy that comes after that many new stories starts a story of
//! its own. The result depends on the input order only, never on windows,
//! threads or shards.

use std::collections::{HashMap, VecDeque};

/// Words per shingle.
pub const SHINGLE_WORDS: usize = 5;
/// MinHash signature length.
pub const HASHES: usize = 120;
/// LSH bands, of [`ROWS`] signature positions each.
pub const BANDS: usize = 40;
pub const ROWS: usize = HASHES / BANDS;
/// Signature positions that must agree for two articles to be one story
/// (estimated Jaccard similarity ≥ 0.5).
pub const THRESHOLD: usize = HASHES / 2;
/// Stories the streaming index remembers (the most recently started).
pub const STORY_MEMORY: usize = 8192;

/// A MinHash signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature([u32; HASHES]);

/// SplitMix64's finaliser: a fixed, well-mixed 64-bit hash step.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The multipliers and offsets of the [`HASHES`] hash functions
/// `(x ^ b) * a >> 32` (a odd), drawn once from a fixed seed.
fn hash_family() -> &'static [(u64, u64); HASHES] {
    static FAMILY: std::sync::OnceLock<[(u64, u64); HASHES]> = std::sync::OnceLock::new();
    FAMILY.get_or_init(|| {
        let mut out = [(0, 0); HASHES];
        for (i, slot) in out.iter_mut().enumerate() {
            let a = mix(0x5354_414e_4345 ^ (2 * i as u64)) | 1;
            let b = mix(0x4445_4455_5000 ^ (2 * i as u64 + 1));
            *slot = (a, b);
        }
        out
    })
}

/// FNV-1a over bytes: a stable hash (std's hasher may change between
/// releases, and signatures must not).
fn fnv1a(bytes: &[u8], mut h: u64) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The hashes of a text's shingles: [`SHINGLE_WORDS`] consecutive words;
/// a text with fewer words is one shingle; a text with no word has none.
pub fn shingles(text: &str) -> Vec<u64> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    if words.is_empty() {
        return vec![];
    }
    let width = SHINGLE_WORDS.min(words.len());
    words
        .windows(width)
        .map(|w| {
            w.iter().fold(0xcbf2_9ce4_8422_2325, |h, word| {
                // A separator byte, so "ab c" and "a bc" differ.
                fnv1a(&[0xff], fnv1a(word.as_bytes(), h))
            })
        })
        .collect()
}

impl Signature {
    /// The signature of `text`; `None` when it has no word.
    pub fn of(text: &str) -> Option<Signature> {
        let shingles = shingles(text);
        if shingles.is_empty() {
            return None;
        }
        let family = hash_family();
        let mut sig = [u32::MAX; HASHES];
        for s in shingles {
            let x = mix(s);
            for (slot, &(a, b)) in sig.iter_mut().zip(family) {
                let h = ((x ^ b).wrapping_mul(a) >> 32) as u32;
                if h < *slot {
                    *slot = h;
                }
            }
        }
        Some(Signature(sig))
    }

    /// Positions where two signatures agree (an estimate of Jaccard
    /// similarity × [`HASHES`]).
    pub fn agreement(&self, other: &Signature) -> usize {
        self.0.iter().zip(&other.0).filter(|(a, b)| a == b).count()
    }

    /// The estimated Jaccard similarity of the two texts' shingle sets.
    pub fn similarity(&self, other: &Signature) -> f64 {
        self.agreement(other) as f64 / HASHES as f64
    }

    /// One key per band: the band's index and rows, hashed.
    fn band_keys(&self) -> [u64; BANDS] {
        let mut keys = [0u64; BANDS];
        for (band, key) in keys.iter_mut().enumerate() {
            let rows = &self.0[band * ROWS..(band + 1) * ROWS];
            *key = rows
                .iter()
                .fold(mix(band as u64), |h, &r| mix(h ^ r as u64));
        }
        keys
    }
}

/// A remembered story: its name and its first article's signature.
struct Story {
    serial: u64,
    id: String,
    signature: Signature,
}

/// The streaming index of stories: articles go in, in input order, and
/// each comes out with the id of its story (see the module's rule).
pub struct StoryIndex {
    /// The remembered stories, oldest first.
    stories: VecDeque<Story>,
    /// Band key → serial of the latest story with that band.
    bands: HashMap<u64, u64>,
    next_serial: u64,
    capacity: usize,
}

impl Default for StoryIndex {
    fn default() -> Self {
        StoryIndex::with_capacity(STORY_MEMORY)
    }
}

impl StoryIndex {
    /// An index that remembers the last `capacity` stories (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        StoryIndex {
            stories: VecDeque::new(),
            bands: HashMap::new(),
            next_serial: 0,
            capacity: capacity.max(1),
        }
    }

    fn story(&self, serial: u64) -> Option<&Story> {
        let oldest = self.stories.front()?.serial;
        let at = usize::try_from(serial.checked_sub(oldest)?).ok()?;
        self.stories.get(at)
    }

    /// The story of the next article: the id of the remembered story it
    /// copies, or `id` itself when it starts a new one.
    pub fn assign(&mut self, id: &str, text: &str) -> String {
        let Some(signature) = Signature::of(text) else {
            // No words, nothing to compare: a story of its own, not
            // remembered (an empty page is no story to copy).
            return id.to_string();
        };
        let keys = signature.band_keys();
        let mut best: Option<(usize, u64)> = None;
        for key in &keys {
            let Some(&serial) = self.bands.get(key) else {
                continue;
            };
            let Some(story) = self.story(serial) else {
                continue;
            };
            let agree = story.signature.agreement(&signature);
            let better = match best {
                None => true,
                Some((a, s)) => agree > a || (agree == a && serial < s),
            };
            if agree >= THRESHOLD && better {
                best = Some((agree, serial));
            }
        }
        if let Some((_, serial)) = best {
            return self.story(serial).expect("remembered").id.clone();
        }
        if self.stories.len() == self.capacity {
            let old = self.stories.pop_front().expect("full");
            for key in old.signature.band_keys() {
                if self.bands.get(&key) == Some(&old.serial) {
                    self.bands.remove(&key);
                }
            }
        }
        let serial = self.next_serial;
        self.next_serial += 1;
        for key in keys {
            self.bands.insert(key, serial);
        }
        self.stories.push_back(Story {
            serial,
            id: id.to_string(),
            signature,
        });
        id.to_string()
    }

    /// Stories remembered now.
    pub fn remembered(&self) -> usize {
        self.stories.len()
    }
}

/// The story of every article, in input order: `(id, text)` pairs in,
/// story ids out, one per article.
pub fn stories<'a>(articles: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<String> {
    let mut index = StoryIndex::default();
    articles
        .into_iter()
        .map(|(id, text)| index.assign(id, text))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STORY: &str = "The foreign minister said on Tuesday that the government would not \
        open talks with the armed groups until they laid down their weapons. \
        Speaking at a press conference in the capital, he added that the army \
        would continue its operations in the centre of the country. \
        Several opposition parties have called for a national dialogue, arguing \
        that years of fighting have not brought security to the villages. \
        A spokesman for the rebel coalition said the group was ready to meet \
        mediators but rejected any preconditions. \
        Diplomats in the region expect the question to be raised at next month's summit.";

    #[test]
    fn shingles_ignore_case_punctuation_and_line_breaks() {
        let a = shingles("The talks, said the minister, will go on.");
        let b = shingles("the talks\nsaid the MINISTER —\n\nwill go on");
        assert_eq!(a, b);
        assert_eq!(a.len(), 8 - SHINGLE_WORDS + 1);
        assert_eq!(shingles("Two words").len(), 1);
        assert!(shingles(" … — ").is_empty());
        assert_ne!(shingles("ab c"), shingles("a bc"));
    }

    #[test]
    fn similarity_estimates_jaccard() {
        let a = Signature::of(STORY).unwrap();
        assert_eq!(a.similarity(&a), 1.0);
        // Half the text: Jaccard about 0.45 of the shingles (the cut ones
        // are lost), well above a different text.
        let half = &STORY[..STORY.len() / 2];
        let h = Signature::of(half).unwrap();
        let other = Signature::of(
            "Heavy rains flooded the river valley on Tuesday, and the harvest of \
             millet and sorghum is expected to fall by a third this year, farmers said.",
        )
        .unwrap();
        assert!(a.similarity(&h) > 0.3, "{}", a.similarity(&h));
        assert!(a.similarity(&other) < 0.05, "{}", a.similarity(&other));
    }

    #[test]
    fn copies_join_the_first_article_and_others_stay_apart() {
        let retitled = format!("Minister rules out talks\n\n{STORY}");
        let reparagraphed = STORY.replace(". ", ".\n\n");
        let added = format!("{STORY} The ministry later confirmed the statement in a communiqué.");
        let different = "Heavy rains flooded the river valley on Tuesday, and the harvest of \
            millet and sorghum is expected to fall by a third this year, farmers said.";
        let got = stories([
            ("wire", STORY),
            ("rain", different),
            ("retitled", retitled.as_str()),
            ("paras", reparagraphed.as_str()),
            ("added", added.as_str()),
            ("empty", " "),
            ("empty-too", " "),
        ]);
        assert_eq!(
            got,
            ["wire", "rain", "wire", "wire", "wire", "empty", "empty-too"]
        );
    }

    #[test]
    fn memory_is_bounded_and_forgets_the_oldest_story() {
        let mut index = StoryIndex::with_capacity(2);
        assert_eq!(index.assign("a", STORY), "a");
        assert_eq!(index.assign("b", "one two three four five six seven"), "b");
        assert_eq!(
            index.assign("c", "eight nine ten eleven twelve thirteen"),
            "c"
        );
        assert_eq!(index.remembered(), 2);
        // "a" was forgotten when "c" started: its copy starts a new story.
        assert_eq!(index.assign("a-copy", STORY), "a-copy");
        assert_eq!(
            index.assign("c-copy", "eight nine ten eleven twelve thirteen"),
            "c"
        );
        assert!(index.bands.len() <= 2 * BANDS);
    }
}
