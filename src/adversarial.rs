//! Adversarial pages: texts of any size in shapes that scrapers produce and
//! that make a careless stage quadratic. `stance bench scaling` times the
//! pipeline on them from 1 KB to 1 MB; the tests and fuzz regressions use
//! them small.

/// A shape of adversarial text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shape {
    /// One unbroken "sentence": words and commas, no sentence boundary (a
    /// page of minified text, a list).
    OneSentence,
    /// The same abbreviation over and over ("U.S. U.S. …"): never a boundary.
    Abbreviations,
    /// Actor names, speech verbs and titles with names, no boundary.
    Actors,
    /// Short sentences, each naming a new person by title, in one paragraph
    /// (names learnt, pronouns carried, a long history).
    ManySentences,
    /// Quotation marks, paired and unpaired, straight and curly.
    Quotes,
    /// Brackets nested deeper and deeper, then closed.
    Brackets,
    /// Clause after clause, holders set against each other ("while", "but").
    Clauses,
    /// One short line after another: many paragraphs.
    Paragraphs,
}

impl Shape {
    pub const ALL: [Shape; 8] = [
        Shape::OneSentence,
        Shape::Abbreviations,
        Shape::Actors,
        Shape::ManySentences,
        Shape::Quotes,
        Shape::Brackets,
        Shape::Clauses,
        Shape::Paragraphs,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Shape::OneSentence => "one-sentence",
            Shape::Abbreviations => "abbreviations",
            Shape::Actors => "actors",
            Shape::ManySentences => "many-sentences",
            Shape::Quotes => "quotes",
            Shape::Brackets => "brackets",
            Shape::Clauses => "clauses",
            Shape::Paragraphs => "paragraphs",
        }
    }
}

/// A text of `shape`, `bytes` long or a little shorter (never empty, ends
/// on a char boundary).
pub fn text(shape: Shape, bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 64);
    let mut i = 0usize;
    let push = |out: &mut String, piece: &str| {
        if out.len() + piece.len() > bytes && !out.is_empty() {
            return false;
        }
        out.push_str(piece);
        true
    };
    loop {
        let piece = match shape {
            Shape::OneSentence => {
                const WORDS: [&str; 8] = [
                    "negotiations",
                    "with",
                    "armed",
                    "groups",
                    "rejected",
                    "dialogue,",
                    "talks",
                    "the",
                ];
                format!("{} ", WORDS[i % WORDS.len()])
            }
            Shape::Abbreviations => "U.S. ".to_string(),
            Shape::Actors => {
                const PARTS: [&str; 10] = [
                    "France",
                    "Mali",
                    "the JNIM",
                    "Minister Abdoulaye Diop",
                    "said",
                    "the junta",
                    "Bamako",
                    "according to",
                    "the Tuareg rebels",
                    "rejected talks with",
                ];
                format!("{} ", PARTS[i % PARTS.len()])
            }
            Shape::ManySentences => {
                let name = name_of(i);
                match i % 4 {
                    0 => format!("Malian Minister {name} rejected talks with the jihadists. "),
                    1 => "He said they would never negotiate. ".to_string(),
                    2 => format!("{name} agreed, and the group accepted. "),
                    _ => format!("“We refuse dialogue,” {name} told France. "),
                }
            }
            Shape::Quotes => {
                const QUOTES: [&str; 6] = [
                    "“talks” ",
                    "\"dialogue\" ",
                    "« négocier » ",
                    "“open ",
                    "\" ",
                    "» ",
                ];
                QUOTES[i % QUOTES.len()].to_string()
            }
            Shape::Brackets => {
                // Nest to a quarter of the size, then close every bracket.
                let depth = bytes / 4 / 6;
                if i < depth {
                    "(talk ".to_string()
                } else if i < 2 * depth {
                    ") ".to_string()
                } else {
                    "[Mali] ".to_string()
                }
            }
            Shape::Clauses => {
                const CLAUSES: [&str; 4] = [
                    "Bamako supports the opening of talks, ",
                    "while Paris believes that negotiations are a mistake, ",
                    "but the JNIM rejected any dialogue ",
                    "and the junta said it would talk; ",
                ];
                CLAUSES[i % CLAUSES.len()].to_string()
            }
            Shape::Paragraphs => match i % 3 {
                0 => "Mali.\n".to_string(),
                1 => "The group rejected talks.\n".to_string(),
                _ => "JNIM.\n".to_string(),
            },
        };
        if !push(&mut out, &piece) {
            break;
        }
        i += 1;
    }
    out
}

/// A distinct two-word capitalised name for each `i`.
fn name_of(i: usize) -> String {
    let letters = |mut n: usize| {
        let mut s = String::new();
        for _ in 0..4 {
            s.push((b'a' + (n % 26) as u8) as char);
            n /= 26;
        }
        s
    };
    let (a, b) = (letters(i), letters(i / 7 + 13));
    format!(
        "{}{} {}{}",
        a[..1].to_uppercase(),
        &a[1..],
        b[..1].to_uppercase(),
        &b[1..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_fills_its_size() {
        for shape in Shape::ALL {
            for bytes in [100, 1000, 10_000] {
                let t = text(shape, bytes);
                assert!(t.len() <= bytes && t.len() > bytes / 2, "{shape:?} {bytes}");
            }
        }
    }
}
