//! Uploaded text is escaped in the Markdown and HTML reports.

use super::*;

/// Uploaded text comes back as text in the Markdown and HTML reports, never as markup:
/// no raw `<script>`, every table row keeps its cells, and the HTML page is served with a
/// policy that would not run a script anyway.
#[tokio::test]
async fn uploaded_text_is_escaped_in_the_markdown_and_html_reports() {
    let s = TestServer::start().await;
    let token = assessor_named(&s, "assessor-1").await;
    assert_eq!(s.post_events(&event("e-1")).await.0, 201);
    let mut r = result("x-3.1.1", "3.1.1", "not_met");
    r["assessor"] = json!(HOSTILE);
    r["plan_of_action"] = json!({"milestone": "2027-02-28", "description": HOSTILE});
    // A line break never gets into a result's text.
    let mut broken = r.clone();
    broken["plan_of_action"]["description"] = json!(format!("{HOSTILE}\nright"));
    let (status, body) = s
        .post_raw("/v1/controls/results", &token, broken.to_string())
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = s
        .post_raw("/v1/controls/results", &token, r.to_string())
        .await;
    assert_eq!(status, 201, "{body}");

    let get = |format: &'static str| {
        s.client
            .get(format!(
                "{}/v1/compliance/report?framework=nist-800-171r2&format={format}",
                s.url
            ))
            .bearer_auth(&s.auditor)
            .send()
    };

    let resp = get("md").await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    let md = resp.text().await.unwrap();
    assert!(!md.contains("<script>"), "{md}");
    let row = md
        .lines()
        .find(|l| l.contains("&lt;script&gt;"))
        .unwrap_or_else(|| panic!("the plan is not in the report: {md}"));
    assert!(
        row.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; co \\| left |"),
        "{row}"
    );
    assert!(row.starts_with("| 3.1.1 "), "{row}");
    // Six columns: seven separators, as in the table's header row.
    let header = md
        .lines()
        .find(|l| l.starts_with("| requirement | status | points lost | milestone | plan"))
        .unwrap();
    assert_eq!(cell_pipes(header), 7, "{header}");
    assert_eq!(cell_pipes(row), 7, "{row}");

    let resp = get("html").await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-security-policy"],
        "default-src 'none'; style-src 'unsafe-inline'"
    );
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    let html = resp.text().await.unwrap();
    assert!(!html.contains("<script"), "{html}");
    let escaped = "<td>&lt;script&gt;alert(1)&lt;/script&gt; &amp; co | left</td>";
    let at = html.find(escaped).unwrap_or_else(|| panic!("{html}"));
    // The row around it keeps its six cells.
    let start = html[..at].rfind("<tr>").unwrap();
    let end = at + html[at..].find("</tr>").unwrap();
    let tr = &html[start..end];
    assert_eq!(tr.matches("<td").count(), 6, "{tr}");
    assert_eq!(tr.matches("</td>").count(), 6, "{tr}");

    // JSON carries the text as it was uploaded; only the renderings escape it.
    let resp = get("json").await.unwrap();
    assert!(resp.headers().get("content-security-policy").is_none());
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["poam"][0]["description"], HOSTILE, "{v}");
    s.stop().await;
}
