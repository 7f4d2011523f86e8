//! The untyped syntax of the filter language: a call whose arguments are calls,
//! identifiers, strings, numbers, `null`/`true`/`false` or lists. Every node keeps the character
//! position it starts at, so the typed layer can point at the argument it rejects.

use crate::FilterError;

/// One node and where it starts (a character offset into the expression, from 0).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub position: usize,
    pub kind: NodeKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Call { name: String, args: Vec<Node> },
    Ident(String),
    Str(String),
    Num(f64),
    Null,
    Bool(bool),
    List(Vec<Node>),
}

impl NodeKind {
    /// What the node is, for error messages.
    pub fn describe(&self) -> &'static str {
        match self {
            NodeKind::Call { .. } => "a call",
            NodeKind::Ident(_) => "an identifier",
            NodeKind::Str(_) => "a string",
            NodeKind::Num(_) => "a number",
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::List(_) => "a list",
        }
    }
}

/// Parses a whole expression: exactly one call, then nothing but whitespace.
pub fn parse(text: &str) -> Result<Node, FilterError> {
    if text.len() > MAX_BYTES {
        return Err(FilterError::new(
            0,
            format!("the filter is longer than {MAX_BYTES} bytes"),
        ));
    }
    let mut parser = Parser {
        chars: text.chars().collect(),
        at: 0,
        nodes: 0,
    };
    parser.skip_whitespace();
    if parser.at == parser.chars.len() {
        return Err(FilterError::new(0, "the filter is empty"));
    }
    let start = parser.at;
    let node = parser.arg(0)?;
    if !matches!(node.kind, NodeKind::Call { .. }) {
        return Err(FilterError::new(
            start,
            format!(
                "a filter must be an operator call such as eq(name, \"x\"), found {}",
                node.kind.describe()
            ),
        ));
    }
    parser.skip_whitespace();
    if parser.at < parser.chars.len() {
        return Err(FilterError::new(
            parser.at,
            format!(
                "unexpected `{}` after the end of the expression",
                parser.peek().map(String::from).unwrap_or_default()
            ),
        ));
    }
    Ok(node)
}

/// Deepest nesting of calls and lists accepted: bounds the recursion on hostile input.
const MAX_DEPTH: usize = 64;

/// Most values (calls, fields, literals, list items) in one filter: bounds the SQL a filter
/// compiles to and the work of running it.
pub const MAX_NODES: usize = 1_000;

/// Longest filter text accepted, in bytes.
pub const MAX_BYTES: usize = 64 * 1024;

struct Parser {
    chars: Vec<char>,
    at: usize,
    /// Values parsed so far.
    nodes: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    fn expect(&mut self, wanted: char, context: &str) -> Result<(), FilterError> {
        self.skip_whitespace();
        match self.peek() {
            Some(c) if c == wanted => {
                self.at += 1;
                Ok(())
            }
            Some(c) => Err(FilterError::new(
                self.at,
                format!("expected `{wanted}` {context}, found `{c}`"),
            )),
            None => Err(FilterError::new(
                self.at,
                format!("expected `{wanted}` {context}, found the end of the filter"),
            )),
        }
    }

    fn arg(&mut self, depth: usize) -> Result<Node, FilterError> {
        self.skip_whitespace();
        let position = self.at;
        if depth > MAX_DEPTH {
            return Err(FilterError::new(
                position,
                format!("the filter nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(FilterError::new(
                position,
                format!("the filter has more than {MAX_NODES} values"),
            ));
        }
        let kind = match self.peek() {
            None => {
                return Err(FilterError::new(
                    position,
                    "expected a value, found the end of the filter",
                ));
            }
            Some('\'' | '"') => NodeKind::Str(self.string()?),
            Some('[') => {
                self.at += 1;
                NodeKind::List(self.sequence(']', "to close the list", depth)?)
            }
            Some(c) if c == '-' || c == '+' || c == '.' || c.is_ascii_digit() => {
                NodeKind::Num(self.number()?)
            }
            Some(c) if c == '_' || c.is_ascii_alphabetic() => {
                let ident = self.ident();
                self.skip_whitespace();
                if self.peek() == Some('(') {
                    self.at += 1;
                    let args = self.sequence(')', &format!("to close `{ident}(`"), depth)?;
                    NodeKind::Call { name: ident, args }
                } else {
                    match ident.as_str() {
                        "null" => NodeKind::Null,
                        "true" => NodeKind::Bool(true),
                        "false" => NodeKind::Bool(false),
                        _ => NodeKind::Ident(ident),
                    }
                }
            }
            Some(c) => {
                return Err(FilterError::new(
                    position,
                    format!(
                        "unexpected `{c}`: expected a call, a field, a string, a number or a list"
                    ),
                ));
            }
        };
        Ok(Node { position, kind })
    }

    /// Comma-separated arguments up to `close` (already past the opening bracket).
    fn sequence(
        &mut self,
        close: char,
        context: &str,
        depth: usize,
    ) -> Result<Vec<Node>, FilterError> {
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(close) {
            self.at += 1;
            return Ok(items);
        }
        loop {
            items.push(self.arg(depth + 1)?);
            self.skip_whitespace();
            match self.peek() {
                Some(',') => self.at += 1,
                Some(c) if c == close => {
                    self.at += 1;
                    return Ok(items);
                }
                _ => {
                    return self.expect(close, context).map(|()| items);
                }
            }
        }
    }

    fn ident(&mut self) -> String {
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| c == '_' || c.is_ascii_alphanumeric())
        {
            self.at += 1;
        }
        self.chars
            .get(start..self.at)
            .unwrap_or_default()
            .iter()
            .collect()
    }

    fn string(&mut self) -> Result<String, FilterError> {
        let start = self.at;
        // Called on an opening quote.
        let quote = self.peek().unwrap_or('"');
        self.at += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(FilterError::new(start, "this string is never closed"));
                }
                Some('\\') => {
                    self.at += 1;
                    let Some(escaped) = self.peek() else {
                        return Err(FilterError::new(start, "this string is never closed"));
                    };
                    out.push(match escaped {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        other => other,
                    });
                    self.at += 1;
                }
                Some(c) if c == quote => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(c) => {
                    out.push(c);
                    self.at += 1;
                }
            }
        }
    }

    fn number(&mut self) -> Result<f64, FilterError> {
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
        {
            self.at += 1;
        }
        let text: String = self
            .chars
            .get(start..self.at)
            .unwrap_or_default()
            .iter()
            .collect();
        match text.parse::<f64>() {
            Ok(n)
                if n.is_finite()
                    && !text
                        .chars()
                        .any(|c| c.is_ascii_alphabetic() && c != 'e' && c != 'E') =>
            {
                Ok(n)
            }
            _ => Err(FilterError::new(start, format!("`{text}` is not a number"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> NodeKind {
        parse(text).expect("parses").kind
    }

    #[test]
    fn parses_nested_calls_lists_and_literals() {
        let NodeKind::Call { name, args } = kinds(
            r#"and(eq(name, "a\"b"), in(run_type, ['llm', "tool"]), gt(latency, -1.5e1), eq(error, null), eq(is_root, true))"#,
        ) else {
            panic!("not a call");
        };
        assert_eq!(name, "and");
        assert_eq!(args.len(), 5);
        let NodeKind::Call { args: eq, .. } = &args[0].kind else {
            panic!()
        };
        assert_eq!(eq[0].kind, NodeKind::Ident("name".into()));
        assert_eq!(eq[1].kind, NodeKind::Str("a\"b".into()));
        assert_eq!(eq[1].position, 13);
        let NodeKind::Call { args: inn, .. } = &args[1].kind else {
            panic!()
        };
        assert_eq!(
            inn[1].kind,
            NodeKind::List(vec![
                Node {
                    position: 36,
                    kind: NodeKind::Str("llm".into())
                },
                Node {
                    position: 43,
                    kind: NodeKind::Str("tool".into())
                },
            ])
        );
        let NodeKind::Call { args: gt, .. } = &args[2].kind else {
            panic!()
        };
        assert_eq!(gt[1].kind, NodeKind::Num(-15.0));
    }

    #[test]
    fn whitespace_is_free_between_tokens() {
        let spaced = parse(" eq ( name ,\n'x' ) ").expect("parses");
        let NodeKind::Call { name, args } = spaced.kind else {
            panic!("not a call")
        };
        assert_eq!((name.as_str(), spaced.position), ("eq", 1));
        assert_eq!(
            args[0],
            Node {
                position: 6,
                kind: NodeKind::Ident("name".into())
            }
        );
        assert_eq!(
            args[1],
            Node {
                position: 13,
                kind: NodeKind::Str("x".into())
            }
        );
        assert_eq!(
            kinds("and()"),
            NodeKind::Call {
                name: "and".into(),
                args: vec![]
            }
        );
    }

    #[test]
    fn errors_name_the_position_and_the_reason() {
        let cases = [
            ("", 0, "empty"),
            ("eq(name, 'x'", 12, "expected `)` to close `eq(`"),
            ("eq(name 'x')", 8, "expected `)`"),
            ("eq(name, 'x) ", 9, "never closed"),
            ("eq(name, 'x'))", 13, "unexpected `)` after the end"),
            ("name", 0, "must be an operator call"),
            ("eq(name, 1x)", 9, "`1x` is not a number"),
            ("eq(name, #)", 9, "unexpected `#`"),
            ("eq(name, [1, 2)", 14, "expected `]` to close the list"),
        ];
        for (text, position, reason) in cases {
            let error = parse(text).expect_err(text);
            assert_eq!(error.position, position, "{text}: {error}");
            assert!(error.reason.contains(reason), "{text}: {error}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let text = format!("{}eq(a, 1){}", "not(".repeat(10_000), ")".repeat(10_000));
        let error = parse(&text).expect_err("too deep");
        assert!(error.reason.contains("nests deeper"), "{error}");
    }
}
