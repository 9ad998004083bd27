//! Batch scoring over inputs of any size: which articles this run scores.
//!
//! `stance score` reads articles lazily ([`crate::corpus::ArticleReader`]),
//! scores a bounded window of them at a time and writes each window before
//! reading the next, so memory does not grow with the input. This module
//! decides, article by article, what a run takes from the stream: only its
//! share of the input under `--shard I/N`, and, under `--resume`, only the
//! articles after the last one already complete in the output. It also
//! gives each article its story ([`crate::corpus::dedup`]): every article of the
//! input goes through one bounded [`StoryIndex`] in input order, those of
//! other shards and those skipped on resuming included, so an article's
//! story is the same whatever the shard, the window or the interruption.

use crate::corpus::dedup::StoryIndex;
use crate::corpus::{Article, InputError};
use anyhow::{bail, Context, Result};
use std::fmt;
use std::str::FromStr;

/// One of `count` disjoint parts of the input (`--shard I/N`, 0 ≤ I < N).
///
/// Every input item, an article or a refused record, takes the next
/// ordinal (0, 1, 2, … in input order), and shard I takes the items whose
/// ordinal is I modulo N. Every shard reads the whole input (so duplicate
/// ids are found across shards) but scores, writes and reports only its
/// own items: the N outputs hold each article exactly once, and their
/// error reports together are the single run's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Whether the item with this input ordinal belongs to the shard.
    pub fn owns(&self, ordinal: usize) -> bool {
        ordinal % self.count == self.index
    }
}

impl FromStr for Shard {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        let (i, n) = s
            .split_once('/')
            .with_context(|| format!("--shard {s:?}: expected I/N, e.g. 0/4"))?;
        let parse = |x: &str, what: &str| {
            x.trim()
                .parse::<usize>()
                .with_context(|| format!("--shard {s:?}: {what} {x:?} is not a whole number"))
        };
        let (index, count) = (parse(i, "shard")?, parse(n, "shard count")?);
        if count == 0 {
            bail!("--shard {s:?}: the shard count must be at least 1");
        }
        if index >= count {
            bail!("--shard {s:?}: shards are numbered 0 to {}", count - 1);
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The items of an input stream this run takes: its shard's, and, when
/// resuming, only those after the article `skip_through`.
///
/// Refused records are passed on (they are reported again on a resumed run:
/// they are still missing from the output); skipped articles are counted.
pub struct Selection<I> {
    items: I,
    shard: Option<Shard>,
    ordinal: usize,
    skip_through: Option<String>,
    skipped: usize,
    stories: StoryIndex,
}

impl<I> Selection<I>
where
    I: Iterator<Item = Result<Article, InputError>>,
{
    pub fn new(items: I, shard: Option<Shard>, skip_through: Option<String>) -> Self {
        Selection {
            items,
            shard,
            ordinal: 0,
            skip_through,
            skipped: 0,
            stories: StoryIndex::default(),
        }
    }

    /// The id of the article still being looked for, while skipping.
    pub fn still_skipping(&self) -> Option<&str> {
        self.skip_through.as_deref()
    }

    /// Articles skipped as already complete.
    pub fn skipped(&self) -> usize {
        self.skipped
    }
}

impl<I> Iterator for Selection<I>
where
    I: Iterator<Item = Result<Article, InputError>>,
{
    /// An article with its story, or a refused record.
    type Item = Result<(Article, String), InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let item = self.items.next()?;
            let ordinal = self.ordinal;
            self.ordinal += 1;
            let story = item
                .as_ref()
                .ok()
                .map(|a| self.stories.assign(&a.id, &a.text));
            if self.shard.is_some_and(|shard| !shard.owns(ordinal)) {
                continue;
            }
            match (item, &self.skip_through) {
                (Ok(article), Some(last)) => {
                    self.skipped += 1;
                    if article.id == *last {
                        self.skip_through = None;
                    }
                }
                (Ok(article), None) => {
                    return Some(Ok((article, story.expect("assigned to every article"))))
                }
                (Err(e), _) => return Some(Err(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::Origin;
    use std::path::PathBuf;

    fn article(id: &str) -> Result<Article, InputError> {
        Ok(Article {
            id: id.into(),
            text: format!("Text of {id}."),
            meta: Default::default(),
            origin: Origin {
                path: PathBuf::from("-"),
                line: None,
            },
        })
    }

    fn refused(line: usize) -> Result<Article, InputError> {
        Err(InputError {
            origin: Origin {
                path: PathBuf::from("-"),
                line: Some(line),
            },
            message: "malformed".into(),
        })
    }

    fn ids(items: impl Iterator<Item = Result<(Article, String), InputError>>) -> Vec<String> {
        items
            .map(|item| match item {
                Ok((a, _)) => a.id,
                Err(e) => format!("error@{}", e.origin.line.unwrap()),
            })
            .collect()
    }

    #[test]
    fn shards_parse_and_refuse_with_the_reason() {
        assert_eq!(
            "1/4".parse::<Shard>().unwrap(),
            Shard { index: 1, count: 4 }
        );
        for (bad, why) in [
            ("4/4", "numbered 0 to 3"),
            ("0/0", "at least 1"),
            ("1", "expected I/N"),
            ("a/2", "not a whole number"),
        ] {
            let err = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn shards_split_every_item_once_errors_included() {
        let input = || {
            vec![
                article("a"),
                refused(2),
                article("c"),
                article("d"),
                article("e"),
            ]
            .into_iter()
        };
        let shard = |index| {
            ids(Selection::new(
                input(),
                Some(Shard { index, count: 2 }),
                None,
            ))
        };
        assert_eq!(shard(0), ["a", "c", "e"]);
        assert_eq!(shard(1), ["error@2", "d"]);
        assert_eq!(ids(Selection::new(input(), None, None)).len(), 5);
    }

    #[test]
    fn resuming_skips_through_the_last_complete_article() {
        let input = || vec![article("a"), refused(2), article("c"), article("d")].into_iter();
        let mut selection = Selection::new(input(), None, Some("c".into()));
        assert_eq!(ids(selection.by_ref()), ["error@2", "d"]);
        assert_eq!(selection.skipped(), 2);
        assert_eq!(selection.still_skipping(), None);

        let mut lost = Selection::new(input(), None, Some("zz".into()));
        assert_eq!(ids(lost.by_ref()), ["error@2"]);
        assert_eq!(lost.still_skipping(), Some("zz"));
    }
}
