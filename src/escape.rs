//! Escaping text for the documents threadlog writes: HTML, Markdown and Graphviz DOT.
//!
//! Owns the one way every renderer puts a string it did not write itself (an assessor's
//! name, a plan of action, an SBOM component, a node id, an edge label) into an output
//! language, so that such a string is always shown as text and never read as markup.
//! Pure: a string in, its escaped form out.

/// Text for HTML element content and quoted attribute values: `&`, `<`, `>`, `"` and
/// `'` become character references.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        push_html(&mut out, c);
    }
    out
}

fn push_html(out: &mut String, c: char) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '"' => out.push_str("&quot;"),
        '\'' => out.push_str("&#39;"),
        c => out.push(c),
    }
}

/// Text for Markdown (GitHub-flavoured, a table cell included): what `html` escapes,
/// plus `\` and `|` backslash-escaped (so a cell keeps its place in its row) and every
/// line break a space (a row is one line).
pub fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push(' ');
            }
            '\n' | '\u{2028}' | '\u{2029}' => out.push(' '),
            c => push_html(&mut out, c),
        }
    }
    out
}

/// A Graphviz DOT quoted string, quotes included: `\` and `"` backslash-escaped, a line
/// break as `\n` (Graphviz's own line break in labels), and `&`, `<`, `>` as the
/// character references Graphviz decodes in labels.
pub fn dot(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text for one line of a DOT `//` comment: what `dot` escapes, without the quotes.
pub fn dot_comment(s: &str) -> String {
    let quoted = dot(s);
    quoted[1..quoted.len() - 1].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NASTY: &str = "<script>alert('x')</script> & \"q\" | a\\|b\r\nc\nd";

    #[test]
    fn html_leaves_no_markup() {
        assert_eq!(
            html(NASTY),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot; | a\\|b\r\nc\nd"
        );
        assert_eq!(html("plain text é"), "plain text é");
    }

    #[test]
    fn markdown_keeps_a_table_row_one_line_with_its_cells() {
        let m = markdown(NASTY);
        assert_eq!(
            m,
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot; \\| a\\\\\\|b c d"
        );
        assert!(!m.contains('\n') && !m.contains('<'));
        // Every pipe left is escaped, and every backslash before it is escaped too.
        let bytes = m.as_bytes();
        for (i, b) in bytes.iter().enumerate() {
            if *b == b'|' {
                let run = bytes[..i].iter().rev().take_while(|c| **c == b'\\').count();
                assert_eq!(run % 2, 1, "an unescaped pipe at {i} in {m}");
            }
        }
    }

    #[test]
    fn dot_strings_stay_one_string() {
        assert_eq!(dot(r#"lot:a"b\c"#), r#""lot:a\"b\\c""#);
        assert_eq!(dot("<b>&\n"), "\"&lt;b&gt;&amp;\\n\"");
        assert_eq!(dot_comment("x\ny"), "x\\ny");
    }
}
