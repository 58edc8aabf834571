//! The DOT output of a trace: uploaded text is escaped so it cannot end a string, a
//! statement or a comment.

use super::*;

/// Node ids and labels from uploaded events come back as DOT strings: quotes, markup and
/// entities cannot end a string, a statement or a comment.
#[tokio::test]
async fn uploaded_text_is_escaped_in_the_dot_output() {
    let s = TestServer::start().await;
    let hostile_lot = "FIL \"1\"<script>\\";
    let mut e = common::event("dot-1");
    e["material"][0]["lot"] = json!(hostile_lot);
    e["equipment"][0]["role"] = json!(common::HOSTILE);
    let (status, r) = s.post_events(&e).await;
    assert_eq!(status, 201, "{r}");
    let index = r["index"].as_u64().unwrap();
    let path = "/v1/thread/serial:SN-dot-1?direction=backward";
    let (status, answer) = s.get_json(path).await;
    assert_eq!(status, 200, "{answer}");
    let resp = s
        .client
        .get(format!("{}{path}&format=dot", s.url))
        .bearer_auth(&s.auditor)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    let dot = resp.text().await.unwrap();
    assert!(!dot.contains("<script>"), "{dot}");
    let node = r#""lot:FIL \"1\"&lt;script&gt;\\""#;
    assert!(dot.contains(&format!("  {node} [shape=box3d];\n")), "{dot}");
    assert!(
        dot.contains(&format!(
            "  \"equipment:printer-07\" -> \"serial:SN-dot-1\" [label=\"equipment #{index} \
             (&lt;script&gt;alert(1)&lt;/script&gt; &amp; co | left)\"];\n"
        )),
        "{dot}"
    );
    // One line per statement: every node and edge, and nothing else inside the graph.
    let body: Vec<&str> = dot
        .split_once("digraph thread {\n")
        .unwrap()
        .1
        .lines()
        .collect();
    assert_eq!(body.last(), Some(&"}"), "{dot}");
    let statements = body.iter().filter(|l| l.starts_with("  \"")).count();
    assert_eq!(
        statements,
        answer["nodes"].as_array().unwrap().len() + answer["edges"].as_array().unwrap().len(),
        "{dot}"
    );
    assert_eq!(body.len(), statements + 4, "{dot}");
    assert!(
        dot.lines()
            .take_while(|l| !l.starts_with("digraph"))
            .all(|l| l.starts_with("//")),
        "{dot}"
    );
    s.stop().await;
}
