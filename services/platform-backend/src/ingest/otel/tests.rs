use super::*;

/// A chain of `n` spans in one trace, each the parent of the next, in reverse order (an
/// exporter sends children first).
fn chain(n: usize) -> proto::ExportTraceServiceRequest {
    let trace_id = vec![7u8; 16];
    let span_id = |i: usize| (i as u64 + 1).to_be_bytes().to_vec();
    let spans = (0..n)
        .rev()
        .map(|i| proto::Span {
            trace_id: trace_id.clone(),
            span_id: span_id(i),
            parent_span_id: if i == 0 { Vec::new() } else { span_id(i - 1) },
            name: format!("span-{i}"),
            start_time_unix_nano: 1_700_000_000_000_000_000 + i as u64 * 1000,
            end_time_unix_nano: 1_700_000_000_000_000_000 + i as u64 * 1000 + 500,
            ..Default::default()
        })
        .collect();
    proto::ExportTraceServiceRequest {
        resource_spans: vec![proto::ResourceSpans {
            resource: Some(proto::Resource {
                attributes: vec![proto::KeyValue {
                    key: "service.name".into(),
                    value: Some(proto::AnyValue {
                        value: Some(proto::any_value::Value::StringValue("svc".into())),
                    }),
                }],
            }),
            scope_spans: vec![proto::ScopeSpans { spans }],
        }],
    }
}

#[test]
fn an_over_cap_request_is_refused_before_any_span_is_built() {
    let body = chain(2_000).encode_to_vec();
    let error = decode_protobuf(&body, 1_000).expect_err("over the cap");
    assert!(matches!(error, IngestError::TooLarge(_)), "{error:?}");
}

#[test]
fn a_deep_chain_gets_every_position_once() {
    let body = chain(1_000).encode_to_vec();
    let spans = decode_protobuf(&body, 1_000).expect("within the cap");
    // Every span of one resource shares its attributes.
    assert!(spans.windows(2).all(|w| match w {
        [a, b] => Arc::ptr_eq(&a.resource, &b.resource),
        _ => true,
    }));
    let ops = to_ops(&spans, None);
    let deepest = ops
        .iter()
        .find(|(op, _)| op.name.as_deref() == Some("span-999"))
        .and_then(|(op, _)| op.dotted_order.clone())
        .expect("the deepest span has a position");
    assert_eq!(deepest.split('.').count(), 1_000);
    let root = ops
        .iter()
        .find(|(op, _)| op.name.as_deref() == Some("span-0"))
        .and_then(|(op, _)| op.dotted_order.clone())
        .expect("the root has a position");
    assert!(deepest.starts_with(&root), "{deepest} / {root}");
    // Every position is its parent's plus one segment.
    for (op, _) in &ops {
        let dotted = op.dotted_order.as_deref().expect("position");
        ironsmith_runs::dotted_order::parse(dotted).expect("well formed");
    }
}

#[test]
fn a_missing_parent_or_a_cycle_leaves_no_position() {
    let mut request = chain(3);
    let spans = &mut request.resource_spans[0].scope_spans[0].spans;
    // span-0 (last in the list) now names span-2 as its parent: a cycle of three.
    if let Some(root) = spans.last_mut() {
        root.parent_span_id = 3u64.to_be_bytes().to_vec();
    }
    spans.push(proto::Span {
        trace_id: vec![7u8; 16],
        span_id: 99u64.to_be_bytes().to_vec(),
        parent_span_id: 98u64.to_be_bytes().to_vec(),
        name: "orphan".into(),
        ..Default::default()
    });
    let decoded = decode_protobuf(&request.encode_to_vec(), 10).expect("decodes");
    for (op, _) in to_ops(&decoded, None) {
        assert_eq!(op.dotted_order, None, "{:?}", op.name);
    }
}

#[test]
fn resource_attributes_are_sized_once_per_resource() {
    let resource = Resource::new(vec![("k".into(), Value::String("x".repeat(100)))]);
    assert!(resource.json_bytes >= 100);
}
