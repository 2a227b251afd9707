//! Tests of schema compilation and error reports.

use super::*;
use serde_json::json;

fn schema(v: Value) -> BodySchema {
    BodySchema::compile(v).unwrap_or_else(|e| panic!("{e}"))
}

fn failures(s: &BodySchema, body: Value) -> Vec<(String, String)> {
    s.validate(&body)
        .into_iter()
        .map(|f| (f.pointer, f.message))
        .collect()
}

fn order_schema(draft: Option<&str>) -> BodySchema {
    let mut s = json!({
        "type": "object",
        "required": ["items"],
        "properties": {
            "items": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["sku", "qty"],
                    "properties": {
                        "sku": { "type": "string", "pattern": "^[A-Z]{3}-[0-9]+$" },
                        "qty": { "type": "integer", "minimum": 1 }
                    }
                }
            },
            "note": { "type": "string", "maxLength": 5 }
        }
    });
    if let Some(d) = draft {
        s["$schema"] = json!(d);
    }
    schema(s)
}

#[test]
fn pointers_under_every_draft() {
    for draft in [
        None,
        Some("https://json-schema.org/draft/2020-12/schema"),
        Some("https://json-schema.org/draft/2019-09/schema"),
        Some("http://json-schema.org/draft-07/schema#"),
        Some("http://json-schema.org/draft-04/schema#"),
    ] {
        let s = order_schema(draft);
        assert!(failures(&s, json!({"items": [{"sku": "ABC-1", "qty": 2}]})).is_empty());
        assert_eq!(
            failures(
                &s,
                json!({"items": [{"sku": "ABC-1", "qty": 2}, {"sku": "abc", "qty": -1}]})
            ),
            vec![
                (
                    "/items/1/qty".to_owned(),
                    "-1 is less than the minimum of 1".to_owned()
                ),
                (
                    "/items/1/sku".to_owned(),
                    "\"abc\" does not match the pattern \"^[A-Z]{3}-[0-9]+$\"".to_owned()
                ),
            ],
            "{draft:?}"
        );
        assert_eq!(
            failures(&s, json!({"note": "x"})),
            vec![(
                String::new(),
                "missing required property \"items\"".to_owned()
            )],
            "{draft:?}"
        );
        assert_eq!(
            failures(&s, json!([1])),
            vec![(String::new(), "an array is not of type object".to_owned())]
        );
    }
}

#[test]
fn draft04_semantics() {
    // draft-04: exclusiveMinimum is a boolean modifier of minimum.
    let s = schema(json!({
        "$schema": "http://json-schema.org/draft-04/schema#",
        "properties": { "n": { "minimum": 0, "exclusiveMinimum": true } },
        "definitions": { "id": { "type": "string" } },
        "additionalProperties": { "$ref": "#/definitions/id" }
    }));
    assert_eq!(
        failures(&s, json!({"n": 0, "x": 1})),
        vec![
            (
                "/n".to_owned(),
                "0 is less than or equal to the exclusive minimum of 0".to_owned()
            ),
            ("/x".to_owned(), "1 is not of type string".to_owned()),
        ]
    );
    // The same schema is invalid in 2020-12, where exclusiveMinimum is a number.
    let e = BodySchema::compile(json!({ "exclusiveMinimum": true }))
        .map(|_| ())
        .expect_err("invalid");
    assert!(e.contains("exclusiveMinimum"), "{e}");
}

#[test]
fn every_kind_has_a_message() {
    let s = schema(json!({
        "type": "object",
        "properties": {
            "e": { "enum": ["a", "b"] },
            "c": { "const": 3 },
            "s": { "minLength": 2 },
            "l": { "maxLength": 2 },
            "a": { "type": "array", "uniqueItems": true, "maxItems": 2, "contains": { "type": "string" } },
            "m": { "multipleOf": 5, "exclusiveMaximum": 10 },
            "o": { "oneOf": [{ "type": "integer" }, { "type": "number" }] },
            "n": { "not": { "type": "null" } },
            "f": false,
            "dash/~": { "type": "string" }
        },
        "dependentRequired": { "c": ["g"] },
        "additionalProperties": false
    }));
    let got = failures(
        &s,
        json!({
            "e": "z", "c": 4, "s": "é", "l": "日本語", "a": [1, 1, 2],
            "m": 12, "o": 1, "n": null, "f": 1, "dash/~": 0, "extra": true
        }),
    );
    let want = [
        ("", "missing property \"g\", required when \"c\" is present"),
        ("/a", "has 3 items, more than the maximum of 2"),
        ("/a", "items 0 and 1 are equal; items must be unique"),
        ("/a", "no item matches the `contains` schema"),
        ("/c", "4 is not equal to 3"),
        ("/dash~1~0", "0 is not of type string"),
        ("/e", "\"z\" is not one of [\"a\",\"b\"]"),
        ("/extra", "property \"extra\" is not allowed"),
        ("/f", "no value is allowed here"),
        ("/l", "\"日本語\" is longer than 2 characters"),
        (
            "/m",
            "12 is greater than or equal to the exclusive maximum of 10",
        ),
        ("/m", "12 is not a multiple of 5"),
        ("/n", "null matches the `not` schema"),
        (
            "/o",
            "1 matches more than one of the `oneOf` schemas (0 and 1)",
        ),
        ("/s", "\"é\" is shorter than 2 characters"),
    ];
    let mut got_sorted = got.clone();
    got_sorted.sort();
    let mut want: Vec<(String, String)> = want
        .iter()
        .map(|(p, m)| ((*p).to_owned(), (*m).to_owned()))
        .collect();
    want.sort();
    assert_eq!(got_sorted, want);
    // Outermost first.
    assert_eq!(got[0].0, "");
}

#[test]
fn unicode_lengths_count_characters() {
    let s = schema(json!({ "type": "string", "minLength": 3, "maxLength": 3 }));
    assert!(failures(&s, json!("日本語")).is_empty());
    assert!(failures(&s, json!("😀👍🏽")).is_empty(), "3 code points");
    assert_eq!(
        failures(&s, json!("😀")),
        vec![(
            String::new(),
            "\"😀\" is shorter than 3 characters".to_owned()
        )]
    );
    let long = "ü".repeat(100);
    let f = failures(&s, json!(long));
    assert!(f[0].1.starts_with("\"üüü"), "{}", f[0].1);
    assert!(
        f[0].1.contains("…\" is longer than 3 characters"),
        "{}",
        f[0].1
    );
}

#[test]
fn refs_stay_local() {
    let s = schema(json!({
        "$defs": { "qty": { "type": "integer" } },
        "properties": { "q": { "$ref": "#/$defs/qty" } }
    }));
    assert_eq!(
        failures(&s, json!({"q": "x"})),
        vec![("/q".to_owned(), "\"x\" is not of type integer".to_owned())]
    );
    for remote in [
        json!({ "$ref": "https://example.com/schema.json" }),
        json!({ "$ref": "other.json" }),
        json!({ "$ref": "file:///etc/passwd" }),
    ] {
        let e = BodySchema::compile(remote.clone())
            .map(|_| ())
            .expect_err("remote");
        assert!(e.contains("never fetches"), "{remote}: {e}");
    }
    let e = BodySchema::compile(json!({ "$schema": "https://example.com/my-meta" }))
        .map(|_| ())
        .expect_err("unknown draft");
    assert!(
        e.starts_with("$schema: \"https://example.com/my-meta\" is not a draft"),
        "{e}"
    );
}

#[test]
fn invalid_schemas() {
    for (bad, want) in [
        (
            json!({ "type": "integr" }),
            "not valid against the meta-schema https://json-schema.org/draft/2020-12/schema#: at '/type': anyOf failed; at '/type'",
        ),
        (json!({ "$schema": 4 }), "$schema: 4 is not a draft"),
        (json!({ "minimum": "1" }), "minimum"),
        (json!({ "pattern": "(" }), "pattern"),
        (json!({ "$ref": "#/$defs/missing" }), "missing"),
        (json!("object"), "a schema is an object"),
        (json!(null), "a schema is an object"),
    ] {
        let e = BodySchema::compile(bad.clone())
            .map(|_| ())
            .expect_err("invalid");
        assert!(e.contains(want), "{bad}: {e}");
        assert!(!e.contains('\n'), "{e}");
    }
    assert!(BodySchema::compile(json!(true)).is_ok());
}

#[test]
fn large_body() {
    let s = order_schema(None);
    let items: Vec<Value> = (0..40_000)
        .map(|i| json!({ "sku": format!("ABC-{i}"), "qty": if i == 39_999 { 0 } else { i + 1 } }))
        .collect();
    let body = json!({ "items": items });
    assert!(body.to_string().len() > 1_000_000);
    assert_eq!(
        failures(&s, body),
        vec![(
            "/items/39999/qty".to_owned(),
            "0 is less than the minimum of 1".to_owned()
        )]
    );
}
