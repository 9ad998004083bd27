//! A table of text cells that the reports print as Markdown or as HTML: each
//! table is built once, so both formats show the same rows.

use std::fmt::Write;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Rows of cells under a header; the first `text_columns` columns are text
/// (left-aligned), the rest figures (right-aligned).
#[derive(Debug, Clone)]
pub struct Table {
    header: Vec<String>,
    text_columns: usize,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<S: ToString>(header: &[S], text_columns: usize) -> Self {
        Table {
            header: header.iter().map(ToString::to_string).collect(),
            text_columns,
            rows: Vec::new(),
        }
    }

    /// Adds a row; it must have one cell per header column.
    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.header.len(), "one cell per column");
        self.rows.push(cells);
    }

    /// A GitHub-flavoured Markdown table, ending with a newline.
    pub fn to_markdown(&self) -> String {
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        let mut md = line(&self.header);
        md.push('|');
        for i in 0..self.header.len() {
            md.push_str(if i < self.text_columns {
                "---|"
            } else {
                "---:|"
            });
        }
        md.push('\n');
        for row in &self.rows {
            md.push_str(&line(row));
        }
        md
    }

    /// An HTML `<table>`, cells escaped.
    pub fn to_html(&self) -> String {
        self.to_html_linking(None)
    }

    /// The same, with each cell of column `anchors` a link to the element
    /// whose id is its text (the page's section about that row).
    pub fn to_html_linking(&self, anchors: Option<usize>) -> String {
        let mut h = String::from("<table><tr>");
        for cell in &self.header {
            let _ = write!(h, "<th>{}</th>", escape(cell));
        }
        h.push_str("</tr>");
        for row in &self.rows {
            h.push_str("<tr>");
            for (i, cell) in row.iter().enumerate() {
                let cell = escape(cell);
                if anchors == Some(i) {
                    let _ = write!(h, "<td><a href=\"#{cell}\">{cell}</a></td>");
                } else {
                    let _ = write!(h, "<td>{cell}</td>");
                }
            }
            h.push_str("</tr>");
        }
        h.push_str("</table>");
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats_show_the_same_cells() {
        let mut t = Table::new(&["classifier", "macro-F1"], 1);
        t.row(vec!["a<b".into(), "0.500".into()]);
        assert_eq!(
            t.to_markdown(),
            "| classifier | macro-F1 |\n|---|---:|\n| a<b | 0.500 |\n"
        );
        assert_eq!(
            t.to_html(),
            "<table><tr><th>classifier</th><th>macro-F1</th></tr>\
             <tr><td>a&lt;b</td><td>0.500</td></tr></table>"
        );
        assert!(t
            .to_html_linking(Some(0))
            .contains("<td><a href=\"#a&lt;b\">a&lt;b</a></td>"));
    }
}
