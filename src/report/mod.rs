//! What the reports share, whichever stage prints them (the eval report, the
//! comparison by actor): a table built once and shown as Markdown or HTML.

pub mod table;
