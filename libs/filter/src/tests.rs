use proptest::prelude::*;

use super::*;

fn parse(text: &str) -> Filter {
    Filter::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn error(text: &str) -> FilterError {
    Filter::parse(text).expect_err(text)
}

fn cmp(field: Field, op: CompareOp, value: Value) -> Filter {
    Filter::Compare { field, op, value }
}

#[test]
fn the_sdk_docstring_examples_parse() {
    let examples = [
        r#"and(eq(run_type, "chain"), gt(latency, 10), gt(total_tokens, 5000))"#,
        r#"eq(name, "extractor")"#,
        r#"and(eq(feedback_key, "user_score"), eq(feedback_score, 1))"#,
        r#"and(gt(start_time, "2023-07-15T12:34:56Z"), or(neq(error, null), and(eq(feedback_key, "Correctness"), eq(feedback_score, 0.0))))"#,
        r#"and(or(has(tags, "experimental"), has(tags, "beta")), gt(latency, 2))"#,
        r#"has(metadata, '{"k":"v"}')"#,
        r#"exists(metadata, "k")"#,
        r#"in(metadata_key, ["session_id","conversation_id","thread_id"])"#,
        r#"and(eq(metadata_key,'k'), eq(metadata_value,'v'))"#,
        r#"eq(thread_id, "t-1")"#,
        r#"search("hello")"#,
        r#"search(name, "hello")"#,
        r#"eq(is_root, true)"#,
        r#"gt(latency, "5s")"#,
        r#"has("metadata", '{"a": 1}')"#,
    ];
    for text in examples {
        parse(text);
    }
}

#[test]
fn values_take_their_fields_types() {
    assert_eq!(
        parse(r#"gt(start_time, "2023-07-15T12:34:56Z")"#),
        cmp(
            Field::StartTime,
            CompareOp::Gt,
            Value::Time(1_689_424_496_000_000)
        )
    );
    assert_eq!(
        parse("lt(end_time, 1689424496)"),
        cmp(
            Field::EndTime,
            CompareOp::Lt,
            Value::Time(1_689_424_496_000_000)
        )
    );
    assert_eq!(
        parse(r#"gte(latency, "250ms")"#),
        cmp(Field::Latency, CompareOp::Gte, Value::Seconds(0.25))
    );
    assert_eq!(
        parse(r#"gte(latency, "2m")"#),
        cmp(Field::Latency, CompareOp::Gte, Value::Seconds(120.0))
    );
    assert_eq!(
        parse(r#"lt(first_token_time, "1.5s")"#),
        cmp(Field::FirstTokenTime, CompareOp::Lt, Value::Seconds(1.5))
    );
    assert_eq!(
        parse(r#"lt(first_token_time, "2024-01-01T00:00:00")"#),
        cmp(
            Field::FirstTokenTime,
            CompareOp::Lt,
            Value::Time(1_704_067_200_000_000)
        )
    );
    assert_eq!(
        parse("eq(error, null)"),
        cmp(Field::Error, CompareOp::Eq, Value::Null)
    );
    assert_eq!(
        parse("eq(parent_run_id, null)"),
        cmp(Field::ParentRunId, CompareOp::Eq, Value::Null)
    );
    let id = Uuid::now_v7();
    assert_eq!(
        parse(&format!("eq(id, '{}')", id.simple())),
        cmp(Field::Id, CompareOp::Eq, Value::Uuid(id))
    );
    assert_eq!(
        parse(r#"eq(total_tokens, "12")"#),
        cmp(Field::TotalTokens, CompareOp::Eq, Value::Number(12.0))
    );
    assert_eq!(
        parse("eq(metadata_value, 5)"),
        cmp(Field::MetadataValue, CompareOp::Eq, Value::Text("5".into()))
    );
    assert_eq!(
        parse("eq(is_root, 'True')"),
        cmp(Field::IsRoot, CompareOp::Eq, Value::Bool(true))
    );
    assert_eq!(
        parse(r#"has(metadata, '{"b": 2, "a": "x"}')"#),
        Filter::Has {
            field: Field::Metadata,
            value: HasValue::Pairs(vec![("a".into(), "x".into()), ("b".into(), "2".into())]),
        }
    );
    assert_eq!(
        parse(r#"in(run_type, ["llm", 'tool'])"#),
        Filter::In {
            field: Field::RunType,
            values: vec![Value::Text("llm".into()), Value::Text("tool".into())],
        }
    );
}

#[test]
fn type_errors_point_at_the_offending_argument() {
    let cases = [
        ("eq(nme, 'x')", 3, "unknown field `nme`"),
        ("foo(name, 'x')", 0, "unknown operator `foo`"),
        ("eq(name)", 0, "`eq` takes 2 argument(s), got 1"),
        ("gt(name, 'x')", 9, "`gt` compares numbers"),
        ("eq(id, 'not-a-uuid')", 7, "is not a UUID"),
        ("gt(start_time, 'yesterday')", 15, "is not a timestamp"),
        ("gt(latency, '5 fortnights')", 12, "is not a duration"),
        ("gt(total_tokens, 'many')", 17, "needs a number"),
        (
            "has(name, 'x')",
            4,
            "`has` does not apply to the field `name`",
        ),
        ("has(metadata, 'not json')", 14, "expected a JSON object"),
        ("has(metadata, '[1]')", 14, "expected a JSON object"),
        ("exists(tags, 'x')", 7, "`exists` does not apply"),
        ("in(name, 'x')", 9, "needs a list"),
        ("in(name, [])", 9, "non-empty list"),
        ("and()", 0, "at least one argument"),
        ("not(eq(name, 'a'), eq(name, 'b'))", 0, "`not` takes 1"),
        ("and(eq(name, 'a'), name)", 19, "expected an operator call"),
        ("eq(name, null)", 9, "needs a string"),
        ("gt(error, null)", 10, "`gt` compares"),
        ("eq(is_root, 'maybe')", 12, "true or false"),
        ("search(latency, 'x')", 7, "`search` does not apply"),
        ("search('a', 'b', 'c')", 0, "`search` takes 1 or 2"),
        ("eq(3, 'x')", 3, "expected a field name"),
    ];
    for (text, position, reason) in cases {
        let e = error(text);
        assert_eq!(e.position, position, "{text}: {e}");
        assert!(e.reason.contains(reason), "{text}: {e}");
    }
    assert_eq!(
        error("gt(name, 'x')").to_string(),
        "invalid filter at position 9: `gt` compares numbers, times and latencies; `name` is not one"
    );
}

#[test]
fn prints_the_canonical_form() {
    let filter = parse(
        r#"and(eq(name, 'say "hi"\\'), gt(start_time, 1689424496), not(has(tags, "x")), in(run_type, ['llm']), search('a\nb'))"#,
    );
    assert_eq!(
        filter.to_string(),
        r#"and(eq(name, "say \"hi\"\\"), gt(start_time, "2023-07-15T12:34:56.000000Z"), not(has(tags, "x")), in(run_type, ["llm"]), search("a\nb"))"#
    );
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_]{0,8}",
        any::<String>(),
        Just("quote\"and'apostrophe\\back".to_owned()),
    ]
}

fn value_for(field: Field) -> BoxedStrategy<Value> {
    let time = (0i64..4_102_444_800_000_000).prop_map(Value::Time);
    let seconds = (-1e6f64..1e6).prop_map(Value::Seconds);
    match field.kind() {
        Kind::Uuid => any::<u128>()
            .prop_map(|n| Value::Uuid(Uuid::from_u128(n)))
            .boxed(),
        Kind::OptionalUuid => prop_oneof![
            Just(Value::Null),
            any::<u128>().prop_map(|n| Value::Uuid(Uuid::from_u128(n)))
        ]
        .boxed(),
        Kind::Text | Kind::Tags => text().prop_map(Value::Text).boxed(),
        Kind::Error => prop_oneof![Just(Value::Null), text().prop_map(Value::Text)].boxed(),
        Kind::Time => time.boxed(),
        Kind::Duration => seconds.boxed(),
        Kind::TimeOrDuration => prop_oneof![time, seconds].boxed(),
        Kind::Number => prop_oneof![
            (-1e12f64..1e12).prop_map(Value::Number),
            (-1000i64..1000).prop_map(|n| Value::Number(n as f64)),
        ]
        .boxed(),
        Kind::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Kind::Object => unreachable!("objects take has/exists/search"),
    }
}

fn leaf() -> impl Strategy<Value = Filter> {
    let scalar_fields: Vec<Field> = Field::ALL
        .iter()
        .copied()
        .filter(|f| !matches!(f.kind(), Kind::Object | Kind::Tags))
        .collect();
    let objects = prop::sample::select(vec![Field::Metadata, Field::Inputs, Field::Outputs]);
    let compare =
        prop::sample::select(scalar_fields.clone()).prop_flat_map(|field| {
            let ops: Vec<CompareOp> = match field.kind() {
                Kind::Time | Kind::Duration | Kind::TimeOrDuration | Kind::Number => vec![
                    CompareOp::Eq,
                    CompareOp::Neq,
                    CompareOp::Gt,
                    CompareOp::Gte,
                    CompareOp::Lt,
                    CompareOp::Lte,
                ],
                _ => vec![CompareOp::Eq, CompareOp::Neq],
            };
            (prop::sample::select(ops), value_for(field))
                .prop_map(move |(op, value)| Filter::Compare { field, op, value })
        });
    let within = prop::sample::select(
        scalar_fields
            .into_iter()
            .filter(|f| f.kind() != Kind::Bool)
            .collect::<Vec<_>>(),
    )
    .prop_flat_map(|field| {
        prop::collection::vec(
            value_for(field).prop_filter("in() takes no null", |v| *v != Value::Null),
            1..4,
        )
        .prop_map(move |values| Filter::In { field, values })
    });
    prop_oneof![
        compare,
        within,
        text().prop_map(|t| Filter::Has {
            field: Field::Tags,
            value: HasValue::Tag(t)
        }),
        (
            objects.clone(),
            prop::collection::btree_map("[a-z]{1,5}", text(), 0..3)
        )
            .prop_map(|(field, pairs)| Filter::Has {
                field,
                value: HasValue::Pairs(pairs.into_iter().collect()),
            }),
        (objects, text()).prop_map(|(field, key)| Filter::Exists { field, key }),
        (
            prop::option::of(prop::sample::select(vec![
                Field::Name,
                Field::Error,
                Field::Inputs,
                Field::Outputs
            ])),
            text()
        )
            .prop_map(|(field, text)| Filter::Search { field, text }),
    ]
}

fn filter() -> impl Strategy<Value = Filter> {
    leaf().prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(Filter::And),
            prop::collection::vec(inner.clone(), 1..4).prop_map(Filter::Or),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
}

/// Adds whitespace around every `(` and `,` outside string literals.
fn respace(text: &str) -> String {
    let mut out = String::new();
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '(' if !in_string => {
                out.push_str(" (\n");
                continue;
            }
            ',' if !in_string => {
                out.push_str(" ,\t");
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Printing then parsing gives the same tree.
    #[test]
    fn print_then_parse_round_trips(filter in filter()) {
        let text = filter.to_string();
        let parsed = Filter::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(parsed, filter);
    }

    /// Any text either parses or fails with a position inside it; it never panics.
    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        if let Err(error) = Filter::parse(&text) {
            prop_assert!(error.position <= text.chars().count());
        }
    }

    /// Whitespace and quote style are not significant.
    #[test]
    fn layout_is_insignificant(filter in filter()) {
        let spaced = respace(&filter.to_string());
        prop_assert_eq!(Filter::parse(&spaced).ok(), Some(filter));
    }
}

#[test]
fn oversized_filters_are_refused_with_a_reason() {
    // Wide rather than deep: the depth cap does not see it, the value cap does.
    let wide = format!(
        "in(name, [{}])",
        (0..syntax::MAX_NODES)
            .map(|i| format!("'n{i}'"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let refused = error(&wide);
    assert!(refused.to_string().contains("more than"), "{refused}");
    let within = format!(
        "in(name, [{}])",
        (0..100)
            .map(|i| format!("'n{i}'"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    parse(&within);
    let long = format!("eq(name, '{}')", "x".repeat(syntax::MAX_BYTES));
    let refused = error(&long);
    assert!(refused.to_string().contains("longer than"), "{refused}");
}

#[test]
fn error_compares_with_null_or_a_boolean() {
    assert_eq!(
        parse("eq(error, true)"),
        cmp(Field::Error, CompareOp::Eq, Value::Bool(true))
    );
    assert_eq!(
        parse("eq(error, false)"),
        cmp(Field::Error, CompareOp::Eq, Value::Bool(false))
    );
    assert_eq!(parse("eq(error, true)").to_string(), "eq(error, true)");
    assert_eq!(
        parse("neq(error, null)"),
        cmp(Field::Error, CompareOp::Neq, Value::Null)
    );
    error("gt(error, true)");
}
