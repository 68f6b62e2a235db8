//! `report --format md` through the binary, rendered by a Markdown engine
//! we did not write (pulldown-cmark: `CommonMark` with GFM tables): hostile
//! strings in the events show as text — no link, HTML, emphasis or extra
//! table cell comes from data — and the evidence event ids are there.

use crate::support;

use pulldown_cmark::{Options, Parser, html};
use serde_json::json;

use support::kmstop_report;

const EVIL: &str = "arn:aws:iam::111122223333:user/<script>alert(1)</script>|x](http://evil.example)*b*\u{1b}[2J@here";

fn record(id: &str, name: &str, arn: &str, error: Option<&str>) -> serde_json::Value {
    let mut r = json!({
        "eventVersion": "1.08",
        "eventSource": "kms.amazonaws.com",
        "eventName": name,
        "eventTime": "2025-05-20T10:00:00Z",
        "eventID": id,
        "awsRegion": "us-east-1",
        "recipientAccountId": "111122223333",
        "readOnly": name == "Decrypt",
        "userIdentity": { "type": "IAMUser", "arn": arn, "accountId": "111122223333" },
        "requestParameters": { "keyId": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab" },
        "sourceIPAddress": "203.0.113.7",
    });
    if let Some(code) = error {
        r["errorCode"] = json!(code);
    }
    r
}

#[test]
fn the_markdown_report_renders_hostile_strings_as_text() {
    let dir = tempfile::tempdir().expect("dir");
    let records = vec![
        record("evt-1|`x`", "ScheduleKeyDeletion", EVIL, None),
        record("evt-2", "Decrypt", EVIL, Some("AccessDenied")),
        record(
            "evt-3",
            "DisableKey",
            "arn:aws:iam::111122223333:user/Alice",
            None,
        ),
    ];
    std::fs::write(
        dir.path().join("log.json"),
        json!({ "Records": records }).to_string(),
    )
    .expect("log file");
    let home = tempfile::tempdir().expect("home");
    let out = kmstop_report(
        home.path(),
        &[
            "--source",
            dir.path().to_str().expect("utf-8"),
            "--format",
            "md",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = String::from_utf8(out.stdout).expect("utf-8");
    let mut page = String::new();
    html::push_html(&mut page, Parser::new_ext(&md, Options::ENABLE_TABLES));

    // Data is text, never markup.
    assert!(!page.contains("<script"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(!page.contains("<a "), "no link from data: {page}");
    assert!(
        !page.contains("<em>b</em>"),
        "no emphasis from data: {page}"
    );
    assert!(
        !page.contains('\u{1b}'),
        "control characters are shown, not sent"
    );
    assert!(page.contains("\\x1b[2J"), "{page}");
    // Every table row has as many cells as its header: a `|` in data
    // does not make a column.
    for table in page.split("<table>").skip(1) {
        let table = &table[..table.find("</table>").expect("closed")];
        let headers = table.matches("<th>").count();
        for row in table.split("<tr>").skip(2) {
            assert_eq!(row.matches("<td").count(), headers, "{table}");
        }
    }
    // The alerts come with their evidence.
    assert!(page.contains("kms-key-disable-or-delete"), "{page}");
    assert!(page.contains("evt-3"), "{page}");
    assert!(page.contains("evt-1|`x`"), "the id is shown whole: {page}");
    assert!(page.contains("Denied callers"), "{page}");
}
