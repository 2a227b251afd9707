//! Tests of parsing and evaluating route selection expressions.

use super::*;
use crate::path::Step;

fn parse(text: &str) -> Expression {
    Expression::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn refused(text: &str) -> String {
    match Expression::parse(text) {
        Ok(e) => panic!("{text} parsed as {e:?}"),
        Err(e) => e.to_string(),
    }
}

fn route(text: &str, body: &str) -> String {
    parse(text)
        .evaluate(body.as_bytes())
        .unwrap_or_else(|e| panic!("{text} on {body}: {e}"))
}

fn unmatched(text: &str, body: &[u8]) -> String {
    match parse(text).evaluate(body) {
        Ok(key) => panic!("{text} gave {key}"),
        Err(reason) => reason,
    }
}

fn steps(e: &Expression) -> Vec<Vec<Step>> {
    e.parts()
        .iter()
        .filter_map(|p| match p {
            Part::Selector(s) => Some(s.steps().to_vec()),
            Part::Literal(_) => None,
        })
        .collect()
}

fn key(k: &str) -> Step {
    Step::Key(k.into())
}

#[test]
fn parses_a_whole_selector_with_keys_and_indexes() {
    assert_eq!(steps(&parse("$request.body.action")), [vec![key("action")]]);
    assert_eq!(
        steps(&parse("$request.body.meta.type")),
        [vec![key("meta"), key("type")]]
    );
    assert_eq!(
        steps(&parse("$request.body.items[0].kind")),
        [vec![key("items"), Step::Index(0), key("kind")]]
    );
    assert_eq!(
        steps(&parse("$request.body.grid[1][12]")),
        [vec![key("grid"), Step::Index(1), Step::Index(12)]]
    );
}

#[test]
fn parses_templates_and_escapes() {
    let e = parse("chat-${request.body.action}/x");
    assert_eq!(e.parts().len(), 3);
    assert_eq!(e.parts()[0], Part::Literal("chat-".into()));
    assert_eq!(e.parts()[2], Part::Literal("/x".into()));
    assert_eq!(
        steps(&parse("${request.body.a}/${request.body.b.c}")),
        [vec![key("a")], vec![key("b"), key("c")]]
    );
    assert_eq!(
        parse(r"\$default").parts(),
        [Part::Literal("$default".into())]
    );
    assert_eq!(
        parse(r"a\b}").parts(),
        [Part::Literal(r"a\b}".into())],
        "a backslash not before `$` and a lone `}}` are literal"
    );
}

#[test]
fn refuses_other_selectors_with_their_position() {
    let e = refused("$request.header.x");
    assert!(e.starts_with("at character 2: `$request.header.x` is not a supported selector"));
    let e = refused("${context.routeKey}");
    assert!(e.starts_with("at character 3: `${context.routeKey}` is not a supported"));
    let e = refused("a-${request.querystring.x}");
    assert!(e.contains("`${request.querystring.x}`"), "{e}");
    assert!(e.starts_with("at character 5:"), "{e}");
    assert!(refused("$").contains("`$` is not a supported selector"));
}

#[test]
fn refuses_malformed_templates_and_paths() {
    assert_eq!(refused(""), "at character 1: the expression is empty");
    assert_eq!(
        refused("a-${request.body.x"),
        "at character 3: `${` is not closed by `}`"
    );
    assert!(refused("$request.body").contains("`$request.body` has an empty path"));
    assert!(refused("$request.body.").contains("has an empty path"));
    assert!(refused("${request.body}").contains("`${request.body}` has an empty path"));
    assert!(refused("route-$request.body.a").starts_with("at character 7: a `$` in a template"));
    assert_eq!(
        refused("$request.body.a."),
        "at character 17: a key is missing after `.`"
    );
    assert!(
        refused("$request.body.a..b").starts_with("at character 17: a key cannot start with `.`")
    );
    assert!(refused("$request.body.a[x]").contains("`[` takes an array index"));
    assert!(refused("$request.body.a[1").contains("`[` takes an array index"));
    let e = refused("$request.body.a/b");
    assert!(
        e.starts_with("at character 16: `/` cannot be in a path"),
        "{e}"
    );
    assert!(refused("$request.body.a[99999999999999999999999]").contains("too large"));
}

#[test]
fn evaluates_strings_numbers_and_booleans() {
    let body =
        r#"{"action":"join","meta":{"type":"chat","v":2,"live":true},"items":[{"kind":"x"}]}"#;
    assert_eq!(route("$request.body.action", body), "join");
    assert_eq!(route("$request.body.meta.type", body), "chat");
    assert_eq!(route("$request.body.meta.v", body), "2");
    assert_eq!(route("$request.body.meta.live", body), "true");
    assert_eq!(route("$request.body.items[0].kind", body), "x");
    assert_eq!(
        route("${request.body.meta.type}/${request.body.action}", body),
        "chat/join"
    );
    assert_eq!(route("chat-${request.body.action}", body), "chat-join");
    assert_eq!(route(r"\$default", body), "$default");
}

#[test]
fn an_expression_without_selectors_never_reads_the_body() {
    assert_eq!(
        parse(r"\$default").evaluate(b"\xff not json"),
        Ok("$default".into())
    );
}

#[test]
fn gives_the_reason_when_unmatched() {
    let e = "$request.body.action";
    assert!(unmatched(e, b"hello").starts_with("body is not JSON: "));
    assert!(unmatched(e, b"\xff\xfe").starts_with("body is not JSON: "));
    assert_eq!(unmatched(e, b"[1]"), "body is not a JSON object");
    assert_eq!(unmatched(e, b"{}"), "$request.body.action is missing");
    assert_eq!(
        unmatched(e, br#"{"action":null}"#),
        "$request.body.action is null"
    );
    assert!(unmatched(e, br#"{"action":{}}"#).contains("is an object"));
    assert!(unmatched(e, br#"{"action":[]}"#).contains("is an array"));
    assert_eq!(
        unmatched(
            "$request.body.items[2].kind",
            br#"{"items":[{"kind":"a"}]}"#
        ),
        "$request.body.items[2].kind is missing"
    );
    assert_eq!(
        unmatched("$request.body.action.name", br#"{"action":"join"}"#),
        "$request.body.action.name is missing"
    );
    assert_eq!(
        unmatched("a-${request.body.x}", br#"{"y":1}"#),
        "$request.body.x is missing"
    );
}

#[test]
fn parsing_never_panics() {
    // Every string of up to four of these characters, alone and after each prefix.
    let alphabet = ['$', '{', '}', '\\', '.', '[', ']', '0', 'a', 'é'];
    let prefixes = [
        "",
        "$request.body.",
        "${request.body.",
        "x-${request.body.a}",
    ];
    let mut text = String::new();
    let mut digits = Vec::new();
    loop {
        text.clear();
        text.extend(digits.iter().map(|&d: &usize| alphabet[d]));
        for prefix in prefixes {
            let whole = format!("{prefix}{text}");
            if let Ok(e) = Expression::parse(&whole) {
                let _ = e.evaluate(br#"{"a":[1]}"#);
            }
        }
        // The next string: count in base `alphabet.len()`, growing up to four digits.
        match digits.iter().rposition(|&d| d + 1 < alphabet.len()) {
            Some(i) => {
                digits[i] += 1;
                digits[i + 1..].iter_mut().for_each(|d| *d = 0);
            }
            None if digits.len() < 4 => digits = vec![0; digits.len() + 1],
            None => break,
        }
    }
}
