//! Printing answers: aligned tables and `name: value` blocks for people, pretty JSON with `--json`.

use serde_json::Value;
use unicode_width::UnicodeWidthStr;

/// Where answers go, and in which form.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Out {
    pub(crate) json: bool,
}

impl Out {
    /// Prints `value` as JSON with `--json`, else the text `text()` makes.
    pub(crate) fn show(&self, value: &Value, text: impl FnOnce() -> String) {
        if self.json {
            emit(&format!("{}\n", serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())));
        } else {
            let t = text();
            if t.ends_with('\n') {
                emit(&t);
            } else {
                emit(&format!("{t}\n"));
            }
        }
    }
}

/// Whether anything was written to stdout (a failure after a printed result, such as a
/// receipt of a transaction still pending, adds no second JSON document).
static PRINTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether [`emit`] wrote anything.
pub(crate) fn printed() -> bool {
    PRINTED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Writes `text` to stdout. When whoever reads it has gone (`bct watch | head -1`), there is
/// nobody left to tell anything: the command ends quietly with success instead of a panic.
pub(crate) fn emit(text: &str) {
    use std::io::Write;
    PRINTED.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("error: cannot write the output: {e}");
            std::process::exit(i32::from(super::EXIT_FAILURE));
        }
    }
}

fn pad(s: &str, width: usize) -> String {
    let w = UnicodeWidthStr::width(s);
    let mut out = s.to_string();
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(w)));
    out
}

/// Columns of text, aligned by display width (CJK names take two columns per character).
pub(crate) struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new(headers: &[&str]) -> Table {
        Table { headers: headers.iter().map(|h| h.to_string()).collect(), rows: Vec::new() }
    }

    /// Adds a row; characters that would hide or spoof what is shown (line breaks, bidirectional
    /// and invisible characters) are escaped as `\u{...}`.
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells.into_iter().map(|c| bct_ledger::text::printable(&c).into_owned()).collect());
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub(crate) fn render(&self) -> String {
        let n = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| UnicodeWidthStr::width(h.as_str())).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(n) {
                widths[i] = widths[i].max(UnicodeWidthStr::width(c.as_str()));
            }
        }
        let line = |cells: &[String]| {
            let mut parts = Vec::with_capacity(n);
            for (i, c) in cells.iter().enumerate().take(n) {
                if i + 1 == n {
                    parts.push(c.clone());
                } else {
                    parts.push(pad(c, widths[i]));
                }
            }
            parts.join("  ").trim_end().to_string()
        };
        let mut out = String::new();
        out.push_str(&line(&self.headers));
        out.push('\n');
        for r in &self.rows {
            out.push_str(&line(r));
            out.push('\n');
        }
        out
    }
}

/// `name:  value` lines with the values aligned; empty values are left out. A value cannot
/// add a line or reorder what is shown: line breaks, bidirectional and invisible characters
/// are escaped as `\u{...}`.
pub(crate) fn fields(items: &[(&str, String)]) -> String {
    let width = items.iter().filter(|(_, v)| !v.is_empty()).map(|(k, _)| k.len() + 1).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in items {
        if v.is_empty() {
            continue;
        }
        out.push_str(&pad(&format!("{k}:"), width));
        out.push_str("  ");
        out.push_str(&bct_ledger::text::printable(v));
        out.push('\n');
    }
    out
}

/// A heading line followed by `body`, or `empty` when there is nothing.
pub(crate) fn section(title: &str, table: &Table, empty: &str) -> String {
    if table.is_empty() {
        format!("\n{title}: {empty}\n")
    } else {
        format!("\n{title}:\n{}", table.render())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_by_display_width() {
        let mut t = Table::new(&["name", "quantity"]);
        t.row(vec!["红树林".into(), "3875t".into()]);
        t.row(vec!["kelp".into(), "6000t".into()]);
        assert_eq!(t.render(), "name    quantity\n红树林  3875t\nkelp    6000t\n");
    }

    /// The audit's spoof: a beneficiary with a line break printed a second `beneficiary:` line
    /// chosen by the retiree. Values are escaped, so one field is one line.
    #[test]
    fn a_value_cannot_add_a_line_or_reorder_the_text() {
        let shown =
            fields(&[("beneficiary", "Zhangzhou\nbeneficiary: Mallory".into()), ("note", "abc\u{202E}fed".into())]);
        assert_eq!(shown, "beneficiary:  Zhangzhou\\u{000A}beneficiary: Mallory\nnote:         abc\\u{202E}fed\n");
        assert_eq!(shown.lines().count(), 2);
        let mut t = Table::new(&["name"]);
        t.row(vec!["a\u{200B}b".into()]);
        assert_eq!(t.render(), "name\na\\u{200B}b\n");
    }

    #[test]
    fn fields_skip_empty_values() {
        assert_eq!(fields(&[("a", "1".into()), ("bbb", String::new()), ("cc", "2".into())]), "a:   1\ncc:  2\n");
    }
}
