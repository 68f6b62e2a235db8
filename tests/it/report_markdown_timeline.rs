//! `report --format md`'s timeline through the binary, over the shipped
//! real logs and a generated corpus: rendered by a Markdown engine we did
//! not write (pulldown-cmark), it is one fenced text block of sparkline
//! rows (calls, denied calls, alert digits) with a labelled time axis, and
//! a table of the busiest intervals. Its intervals are the HTML page's
//! (each busiest interval is one of the page's bars, with the same
//! counts), every alert is a digit where it first fired, and no character
//! of an event reaches the block.

use crate::support;

use std::path::Path;

use kmstop::synth::{CorpusSpec, write_corpus};
use pulldown_cmark::{Options, Parser, html};
use serde_json::Value;

use support::{json_of, kmstop_report};

fn report_of(source: &Path, format: &str) -> std::process::Output {
    let home = tempfile::tempdir().expect("home");
    let source = source.to_str().expect("utf-8");
    let out = kmstop_report(home.path(), &["--source", source, "--format", format]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The rows of the fenced block, by label: (calls, denied, alerts, axis)
/// per row of bars.
struct Block {
    calls: Vec<Vec<char>>,
    denied: Vec<Vec<char>>,
    alerts: Vec<Vec<char>>,
    axes: Vec<String>,
}

fn cells(line: &str, label: &str) -> Option<Vec<char>> {
    let rest = line.strip_prefix(label)?;
    Some(rest.chars().skip(8 - label.len()).collect())
}

fn block_of(md: &str) -> Block {
    let start = md.find("## Timeline").expect("a timeline section");
    let fence = &md[start..];
    let body = fence
        .split("```text\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .expect("a fenced text block");
    let mut block = Block {
        calls: Vec::new(),
        denied: Vec::new(),
        alerts: Vec::new(),
        axes: Vec::new(),
    };
    for line in body.lines() {
        if let Some(c) = cells(line, "calls") {
            block.calls.push(c);
        } else if let Some(c) = cells(line, "denied") {
            block.denied.push(c);
        } else if let Some(c) = cells(line, "alerts") {
            block.alerts.push(c);
        } else if line.contains(" to ") {
            block.axes.push(line.trim().to_owned());
        } else {
            assert!(
                line.is_empty() || line.trim().chars().all(|c| c == '^' || c == ' '),
                "a line the block does not make: {line:?}"
            );
        }
    }
    block
}

/// The busiest intervals' rows: from, to, calls, denied.
fn busiest(md: &str) -> Vec<(String, String, u64, u64)> {
    let table = md
        .split("Busiest intervals:")
        .nth(1)
        .expect("the busiest intervals");
    table
        .lines()
        .skip(4)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let c: Vec<&str> = l.split(" | ").collect();
            let n = |i: usize| c[i].trim().parse::<u64>().expect("a count");
            (
                c[0].trim_start_matches("| ").to_owned(),
                c[1].to_owned(),
                n(2),
                n(3),
            )
        })
        .collect()
}

fn check(source: &Path) -> Block {
    let md = String::from_utf8(report_of(source, "md").stdout).expect("utf-8");
    let page = String::from_utf8(report_of(source, "html").stdout).expect("utf-8");
    let report: Value = json_of(&report_of(source, "json"));
    let mut rendered = String::new();
    html::push_html(&mut rendered, Parser::new_ext(&md, Options::ENABLE_TABLES));
    assert!(rendered.contains("<h2>Timeline</h2>"), "{rendered}");
    assert!(
        rendered.contains("<pre><code class=\"language-text\">calls"),
        "one fenced block: {rendered}"
    );
    let block = block_of(&md);
    let rows = block.calls.len();
    assert!(rows >= 1 && block.denied.len() == rows && block.alerts.len() == rows);
    assert_eq!(block.axes.len(), rows, "a time axis under each row");
    for row in block.calls.iter().chain(&block.denied).chain(&block.alerts) {
        assert!(row.len() <= 60, "{row:?}");
        assert!(
            row.iter().all(|c| " ▁▂▃▄▅▆▇█123456789+".contains(*c)),
            "only the block's own marks: {row:?}"
        );
    }
    // The page's bars: as many with calls as the block shows.
    let shown: usize = block
        .calls
        .iter()
        .map(|r| r.iter().filter(|c| **c != ' ').count())
        .sum();
    assert_eq!(shown, page.matches("<rect class=\"calls\"").count());
    assert!(shown > 0);
    // Every alert, where it first fired.
    let alerts: u64 = block
        .alerts
        .iter()
        .flatten()
        .filter_map(|c| c.to_digit(10))
        .map(u64::from)
        .sum();
    let plus = block.alerts.iter().flatten().any(|c| *c == '+');
    let total = report["alerts"].as_array().map_or(0, Vec::len) as u64;
    if plus {
        assert!(alerts < total, "{alerts} of {total}");
    } else {
        assert_eq!(alerts, total);
    }
    // The busiest intervals are the page's bars, with the same counts; the
    // busiest is the full block.
    let busiest = busiest(&md);
    assert!(!busiest.is_empty() && busiest.len() <= 5);
    for (from, to, calls, denied) in &busiest {
        let title = format!("<title>{from} to {to}: {calls} calls, {denied} denied</title>");
        assert!(page.contains(&title), "{title}");
    }
    let peak = busiest.iter().map(|b| b.2).max().unwrap_or(0);
    assert!(md.contains(&format!("`█` is {peak} calls")), "{md}");
    assert!(block.calls.iter().flatten().any(|c| *c == '█'));
    // The axis spans the summary's range (dates compare as text).
    let first = block.axes[0].split(" to ").next().unwrap_or_default();
    let last = block.axes[rows - 1]
        .split(" to ")
        .nth(1)
        .unwrap_or_default();
    let day = |t: &Value| t.as_str().map(|t| t[..10].to_owned()).unwrap_or_default();
    assert!(first[..10] <= *day(&report["from"]), "{first}");
    assert!(last[..10] >= *day(&report["to"]), "{last}");
    block
}

#[test]
fn the_markdown_timeline_of_the_real_logs_is_the_pages() {
    let block = check(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cloudtrail"));
    assert_eq!(block.calls.len(), 2, "120 bars in two rows of 60");
}

#[test]
fn the_markdown_timeline_of_a_generated_corpus_shows_denied_calls() {
    let dir = tempfile::tempdir().expect("corpus dir");
    write_corpus(dir.path(), &CorpusSpec::small(7)).expect("corpus written");
    let block = check(dir.path());
    assert!(
        block.denied.iter().flatten().any(|c| *c != ' '),
        "the corpus has denied calls"
    );
}
