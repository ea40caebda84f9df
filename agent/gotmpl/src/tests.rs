//! Lexer, parser and executor edge cases, with the positions Go reports.

use std::sync::Arc;

use super::value::{Map, Value};
use super::{Clock, Functions, TemplateError, Templates};

fn set(sources: &[(&str, &str)]) -> Result<Templates, TemplateError> {
    let clock = Clock::fixed("2024-01-02T03:04:05Z[UTC]".parse().expect("time"));
    let mut templates = Templates::new(Arc::new(Functions::helm(clock)));
    for (name, src) in sources {
        templates.parse(name, src)?;
    }
    Ok(templates)
}

fn data() -> Value {
    let mut values = Map::new();
    values.insert("name".into(), Value::str("web"));
    values.insert("n".into(), Value::Float(3.0));
    values.insert("list".into(), Value::list(vec![Value::Int(1), Value::Int(2), Value::Int(3)]));
    let mut inner = Map::new();
    inner.insert("b".into(), Value::Int(2));
    inner.insert("a".into(), Value::Int(1));
    values.insert("map".into(), Value::map(inner));
    values.insert("nothing".into(), Value::Nil);
    Value::map(values)
}

fn render(src: &str) -> Result<String, TemplateError> {
    set(&[("t", src)])?.execute("t", &data())
}

#[test]
fn renders() {
    let cases = [
        ("a {{- \" b \" -}} c", "a b c"),
        ("{{/* comment */}}x", "x"),
        ("x {{- /* trimmed */ -}} y", "xy"),
        ("{{ `raw\\n` }}", "raw\\n"),
        ("{{ 'a' }} {{ 0x10 }} {{ 1e2 }} {{ -2 }} {{ 07 }}", "97 16 100 -2 7"),
        ("{{ '\\'' }} {{ '\\n' }}", "39 10"),
        ("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ $y := 9 }}{{ end }}{{ $x }}", "2"),
        ("{{ range $i, $v := .list }}{{ if eq $v 2 }}{{ continue }}{{ end }}{{ $i }}{{ end }}", "02"),
        ("{{ range .list }}{{ if eq . 2 }}{{ break }}{{ end }}{{ . }}{{ end }}", "1"),
        ("{{ range $k, $v := .map }}{{ $k }}{{ $v }}{{ end }}", "a1b2"),
        ("{{ range .nothing }}x{{ else }}empty{{ end }}", "empty"),
        ("{{ range 3 }}{{ . }}{{ end }}", "012"),
        ("{{ with .nothing }}x{{ else with .name }}{{ . }}{{ end }}", "web"),
        ("{{ if .nothing }}a{{ else if .name }}b{{ else }}c{{ end }}", "b"),
        ("{{ .missing }}|{{ print .missing }}", "<no value>|<nil>"),
        ("{{ and 0 (fail \"not evaluated\") }}{{ or 1 (fail \"not evaluated\") }}", "01"),
        ("{{ (.map).a }} {{ ($.map).b }}", "1 2"),
        ("{{ $m := .nothing }}{{ $m.field }}", "<no value>"),
        ("{{ define \"x\" }}[{{ . }}]{{ end }}{{ template \"x\" .name }}", "[web]"),
        ("{{ block \"b\" .n }}<{{ . }}>{{ end }}", "<3>"),
        ("{{ .name | printf \"%s-%s\" \"a\" }}", "a-web"),
        ("{{ .n }} {{ .n | int }} {{ add .n 1 }}", "3 3 4"),
        ("{{ .name | }}", "web"),
    ];
    for (src, want) in cases {
        assert_eq!(render(src).as_deref(), Ok(want), "{src}");
    }
}

#[test]
fn later_definitions_replace_earlier_ones_unless_empty() {
    let templates = set(&[
        ("a", "{{ define \"d\" }}first{{ end }}"),
        ("b", "{{ define \"d\" }}second{{ end }}"),
        ("c", "{{ define \"d\" }} {{ end }}"),
    ])
    .expect("parse");
    assert_eq!(templates.execute("d", &Value::Nil).as_deref(), Ok("second"));
}

#[test]
fn parse_errors_name_the_line() {
    let cases = [
        ("{{ .x", 1, "unclosed action"),
        ("a\n{{ end }}", 2, "unexpected {{end}}"),
        ("{{ nope 1 }}", 1, "function \"nope\" not defined"),
        ("\n\n{{ $y }}", 3, "undefined variable \"$y\""),
        ("{{ if }}{{ end }}", 1, "missing value for if"),
        ("{{ break }}", 1, "{{break}} outside {{range}}"),
        ("{{ \"abc }}", 1, "unterminated quoted string"),
        ("{{/* open }}", 1, "unclosed comment"),
        ("{{ (1 }}", 1, "unclosed left paren"),
        ("{{ if 1 }}\n{{ else }}\n", 3, "unexpected EOF"),
        ("{{ 1 )}}", 1, "unexpected right paren"),
    ];
    for (src, line, message) in cases {
        match render(src) {
            Err(TemplateError::Parse { line: got_line, message: got, .. }) => {
                assert_eq!((got_line, got.as_str()), (line, message), "{src}");
            }
            other => panic!("{src}: expected a parse error, got {other:?}"),
        }
    }
}

#[test]
fn execution_errors_name_line_column_and_expression() {
    let cases = [
        (
            "{{ .nothing.x }}",
            "template: t:1:11: executing \"t\" at <.nothing.x>: nil pointer evaluating interface {}.x",
        ),
        (
            "x\n  {{ .name.x }}",
            "template: t:2:10: executing \"t\" at <.name.x>: can't evaluate field x in type interface {}",
        ),
        (
            "{{ index .list 5 }}",
            "template: t:1:3: executing \"t\" at <index .list 5>: error calling index: index out of range: 5",
        ),
        (
            "{{ upper .n }}",
            "template: t:1:9: executing \"t\" at <.n>: wrong type for value; expected string; got float64",
        ),
        (
            "{{ template \"none\" }}",
            "template: t:1:12: executing \"t\" at <{{template \"none\"}}>: template \"none\" not defined",
        ),
        ("{{ fail \"stop\" }}", "template: t:1:3: executing \"t\" at <fail \"stop\">: error calling fail: stop"),
        ("{{ nil }}", "template: t:1:3: executing \"t\" at <nil>: nil is not a command"),
        ("{{ 1 2 }}", "template: t:1:3: executing \"t\" at <1>: can't give argument to non-function 1"),
    ];
    for (src, want) in cases {
        match render(src) {
            Err(e) => assert_eq!(e.to_string(), want, "{src}"),
            Ok(out) => panic!("{src}: rendered {out:?}, expected an error"),
        }
    }
}

#[test]
fn include_errors_carry_the_inner_position_and_recursion_stops() {
    let templates =
        set(&[("t", "{{ include \"h\" . }}"), ("h", "{{ define \"h\" }}\n{{ .nothing.y }}{{ end }}")]).expect("parse");
    let error = templates.execute("t", &data()).expect_err("fails").to_string();
    assert!(error.contains("error calling include: template: h:2:11"), "{error}");
    let looping =
        set(&[("t", "{{ define \"loop\" }}{{ include \"loop\" . }}{{ end }}{{ include \"loop\" . }}")]).expect("parse");
    let error = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || looping.execute("t", &Value::Nil).expect_err("recursion is refused").to_string())
        .expect("thread")
        .join()
        .expect("join");
    assert!(error.contains("exceeded maximum template depth") || error.contains("nested reference"), "{error}");
}

#[test]
fn maps_are_shared_like_go_maps() {
    assert_eq!(render("{{ $m := dict }}{{ $_ := set $m \"k\" 1 }}{{ $m.k }}").as_deref(), Ok("1"));
    assert_eq!(render("{{ $_ := set .map \"c\" 3 }}{{ len .map }}").as_deref(), Ok("3"));
}
