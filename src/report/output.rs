//! Writing sentence records: JSONL and CSV for other tools, a table for people.
//!
//! Writers stream: records are written as each chunk of articles is scored,
//! so output starts early and memory stays bounded.

use crate::pipeline::{ScoredSentence, SplitSentence};
use crate::segment::boilerplate::Kind;
use crate::stance::Stance;
use anyhow::Result;
use std::io::Write;

/// Output format of `stance score`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per sentence (the command-line contract's record).
    Jsonl,
    /// One row per sentence with a header; scores as three columns.
    Csv,
    /// An aligned table for reading in a terminal.
    Table,
}

/// Streams scored sentences in one format.
pub struct ScoreWriter<W: Write> {
    format: Format,
    out: W,
    rows: usize,
}

const CSV_HEADER: [&str; 13] = [
    "doc",
    "idx",
    "start",
    "end",
    "boilerplate",
    "stance",
    "pro-dialogue",
    "anti-dialogue",
    "neutral",
    "holder",
    "target",
    "boilerplate_kind",
    "text",
];

/// Width of the text column of the table; longer texts are cut with "…".
const TABLE_TEXT_WIDTH: usize = 90;

impl<W: Write> ScoreWriter<W> {
    pub fn new(format: Format, out: W) -> Self {
        ScoreWriter {
            format,
            out,
            rows: 0,
        }
    }

    /// Writes the records of one document.
    pub fn write(&mut self, records: &[ScoredSentence]) -> Result<()> {
        for r in records {
            match self.format {
                Format::Jsonl => {
                    serde_json::to_writer(&mut self.out, r)?;
                    self.out.write_all(b"\n")?;
                }
                Format::Csv => self.write_csv(r)?,
                Format::Table => self.write_table_row(r)?,
            }
            self.rows += 1;
        }
        Ok(())
    }

    fn write_csv(&mut self, r: &ScoredSentence) -> Result<()> {
        if self.rows == 0 {
            let mut header = csv::Writer::from_writer(Vec::new());
            header.write_record(CSV_HEADER)?;
            self.out.write_all(&header.into_inner()?)?;
        }
        let s = &r.sentence;
        let score = |l: Stance| format!("{:.4}", r.scores.get(l));
        let mut row = csv::Writer::from_writer(Vec::new());
        row.write_record([
            s.doc.clone(),
            s.idx.to_string(),
            s.start.to_string(),
            s.end.to_string(),
            s.boilerplate.to_string(),
            r.stance.to_string(),
            score(Stance::Pro),
            score(Stance::Anti),
            score(Stance::Neutral),
            r.holder.map(|h| h.as_str()).unwrap_or_default().to_string(),
            r.target.map(|t| t.as_str()).unwrap_or_default().to_string(),
            s.boilerplate_kind
                .map(Kind::as_str)
                .unwrap_or_default()
                .to_string(),
            s.text.clone(),
        ])?;
        self.out.write_all(&row.into_inner()?)?;
        Ok(())
    }

    fn write_table_row(&mut self, r: &ScoredSentence) -> Result<()> {
        if self.rows == 0 {
            writeln!(
                self.out,
                "{:<22} {:>4} {:<13} {:>5}  text",
                "doc", "idx", "stance", "p"
            )?;
        }
        let s = &r.sentence;
        let stance = if s.boilerplate {
            "(boilerplate)".to_string()
        } else {
            r.stance.to_string()
        };
        writeln!(
            self.out,
            "{:<22} {:>4} {:<13} {:>5.2}  {}",
            s.doc,
            s.idx,
            stance,
            r.scores.get(r.stance),
            shorten(&s.text, TABLE_TEXT_WIDTH)
        )?;
        Ok(())
    }

    /// Hands on what is written so far: to a reader waiting on a pipe, or
    /// to the file a resumed run carries on.
    pub fn flush(&mut self) -> Result<()> {
        Ok(self.out.flush()?)
    }

    /// Flushes and returns the sink.
    pub fn finish(mut self) -> Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// `text` on one line, cut to `width` characters with an ellipsis.
pub fn shorten(text: &str, width: usize) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= width {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(width - 1).collect();
    cut.push('…');
    cut
}

/// Writes `stance split` records as JSONL.
pub fn write_split_jsonl<W: Write>(out: &mut W, sentences: &[SplitSentence]) -> Result<()> {
    for s in sentences {
        serde_json::to_writer(&mut *out, s)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stance::Scores;

    fn record(text: &str, boilerplate: bool) -> ScoredSentence {
        ScoredSentence {
            sentence: SplitSentence {
                doc: "d1".into(),
                idx: 0,
                start: 0,
                end: text.chars().count(),
                text: text.into(),
                boilerplate,
                boilerplate_kind: None,
                cut: false,
            },
            stance: Stance::Pro,
            scores: Scores([0.7, 0.1, 0.2]),
            holder: Some(crate::stance::Holder::Mali),
            target: Some(crate::stance::Target::Jihadists),
            mixed: false,
            claims: vec![crate::stance::Claim {
                holder: crate::stance::Holder::Mali,
                stance: Stance::Pro,
                target: crate::stance::Target::Jihadists,
            }
            .into()],
            speaker: None,
            story: None,
            truncated: false,
        }
    }

    #[test]
    fn jsonl_has_the_contract_fields_in_order() {
        let mut w = ScoreWriter::new(Format::Jsonl, Vec::new());
        w.write(&[record("Talks, now.", false)]).unwrap();
        let out = String::from_utf8(w.finish().unwrap()).unwrap();
        assert_eq!(
            out,
            "{\"doc\":\"d1\",\"idx\":0,\"start\":0,\"end\":11,\"text\":\"Talks, now.\",\"boilerplate\":false,\"stance\":\"pro-dialogue\",\"scores\":{\"pro-dialogue\":0.7,\"anti-dialogue\":0.1,\"neutral\":0.2},\"holder\":\"mali\",\"target\":\"jihadists\",\"mixed\":false,\"claims\":[{\"holder\":\"mali\",\"stance\":\"pro-dialogue\",\"target\":\"jihadists\"}]}\n"
        );
    }

    #[test]
    fn a_truncated_sentence_says_so_last_in_its_record() {
        let mut r = record("Talks, now.", false);
        r.truncated = true;
        let mut w = ScoreWriter::new(Format::Jsonl, Vec::new());
        w.write(&[r]).unwrap();
        let out = String::from_utf8(w.finish().unwrap()).unwrap();
        assert!(out.ends_with("}],\"truncated\":true}\n"), "{out}");
    }

    #[test]
    fn csv_quotes_text_and_writes_one_header() {
        let mut w = ScoreWriter::new(Format::Csv, Vec::new());
        w.write(&[record("He said, \"no\".", false), record("x", false)])
            .unwrap();
        let out = String::from_utf8(w.finish().unwrap()).unwrap();
        let mut reader = csv::Reader::from_reader(out.as_bytes());
        assert_eq!(reader.headers().unwrap().len(), CSV_HEADER.len());
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(&rows[0][12], "He said, \"no\".");
        assert_eq!(&rows[0][6], "0.7000");
    }

    #[test]
    fn table_marks_boilerplate_and_shortens_text() {
        let long = "word ".repeat(40);
        let mut w = ScoreWriter::new(Format::Table, Vec::new());
        w.write(&[record(&long, false), record("Share", true)])
            .unwrap();
        let out = String::from_utf8(w.finish().unwrap()).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].ends_with('…'));
        assert!(lines[2].contains("(boilerplate)"));
    }
}
