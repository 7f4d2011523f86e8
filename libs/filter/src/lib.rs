//! LangSmith's run filter language (`filter`, `trace_filter` and `tree_filter` on run
//! queries; example metadata filters later), as a typed syntax tree.
//!
//! Text is parsed in two steps: [`syntax`] reads the untyped call structure, then [`Filter::parse`]
//! checks every operator, field and value against the spec and builds a [`Filter`], in which each
//! value already has the type its field needs (a timestamp in microseconds, a latency in
//! seconds, a UUID, ...). Backends compile a `Filter`, never the text, and bind its values as
//! parameters. `Display` prints a `Filter` back in canonical form; parsing that text gives the
//! same tree again (property-tested).

// Tests may expect and index: a panic there is a failing test.
#![cfg_attr(test, allow(clippy::expect_used, clippy::indexing_slicing))]

mod check;
mod display;
pub mod syntax;

use uuid::Uuid;

/// An invalid filter: where (a character offset from 0) and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid filter at position {position}: {reason}")]
pub struct FilterError {
    pub position: usize,
    pub reason: String,
}

impl FilterError {
    pub fn new(position: usize, reason: impl Into<String>) -> Self {
        FilterError {
            position,
            reason: reason.into(),
        }
    }
}

/// A checked filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    /// `eq`, `neq`, `gt`, `gte`, `lt`, `lte`.
    Compare {
        field: Field,
        op: CompareOp,
        value: Value,
    },
    /// `in(field, [v, …])`.
    In {
        field: Field,
        values: Vec<Value>,
    },
    /// `has(tags, "x")`, or `has(metadata, '{"k": "v"}')` (containment: every pair present).
    Has {
        field: Field,
        value: HasValue,
    },
    /// `exists(metadata, "k")`: the key is present.
    Exists {
        field: Field,
        key: String,
    },
    /// `search("text")` over a run's text, or `search(field, "text")`: a substring of one field.
    Search {
        field: Option<Field>,
        text: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum HasValue {
    Tag(String),
    /// Key/value pairs of a JSON object, each value as the text filters compare (a string as
    /// itself, anything else as JSON).
    Pairs(Vec<(String, String)>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
}

impl CompareOp {
    pub fn name(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Neq => "neq",
            CompareOp::Gt => "gt",
            CompareOp::Gte => "gte",
            CompareOp::Lt => "lt",
            CompareOp::Lte => "lte",
        }
    }

    fn ordered(self) -> bool {
        !matches!(self, CompareOp::Eq | CompareOp::Neq)
    }
}

/// A value, already of its field's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
    Uuid(Uuid),
    /// Microseconds since the epoch.
    Time(i64),
    /// A duration in seconds (latency, time to first token).
    Seconds(f64),
}

/// How a field's values are typed and which operators apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Uuid,
    /// A UUID that may be absent (`eq(parent_run_id, null)`).
    OptionalUuid,
    Text,
    Time,
    Duration,
    /// A timestamp, or a duration from the run's start.
    TimeOrDuration,
    Number,
    /// A string, or `null` for none.
    Error,
    Bool,
    /// A list; `has`/`eq` test membership.
    Tags,
    /// A JSON object: `has` (containment), `exists` (key), `search`.
    Object,
}

macro_rules! fields {
    ($($variant:ident = $name:literal : $kind:ident),+ $(,)?) => {
        /// A field of a run that filters name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Field { $($variant),+ }

        impl Field {
            pub const ALL: &'static [Field] = &[$(Field::$variant),+];

            pub fn name(self) -> &'static str {
                match self { $(Field::$variant => $name),+ }
            }

            pub fn kind(self) -> Kind {
                match self { $(Field::$variant => Kind::$kind),+ }
            }

            pub fn from_name(name: &str) -> Option<Field> {
                match name { $($name => Some(Field::$variant),)+ _ => None }
            }
        }
    };
}

fields! {
    Id = "id": Uuid,
    TraceId = "trace_id": Uuid,
    ParentRunId = "parent_run_id": OptionalUuid,
    ReferenceExampleId = "reference_example_id": OptionalUuid,
    SessionId = "session_id": Uuid,
    Name = "name": Text,
    RunType = "run_type": Text,
    Status = "status": Text,
    ThreadId = "thread_id": Text,
    StartTime = "start_time": Time,
    EndTime = "end_time": Time,
    Latency = "latency": Duration,
    FirstTokenTime = "first_token_time": TimeOrDuration,
    TotalTokens = "total_tokens": Number,
    PromptTokens = "prompt_tokens": Number,
    CompletionTokens = "completion_tokens": Number,
    TotalCost = "total_cost": Number,
    PromptCost = "prompt_cost": Number,
    CompletionCost = "completion_cost": Number,
    Error = "error": Error,
    Tags = "tags": Tags,
    IsRoot = "is_root": Bool,
    MetadataKey = "metadata_key": Text,
    MetadataValue = "metadata_value": Text,
    InputKey = "input_key": Text,
    InputValue = "input_value": Text,
    OutputKey = "output_key": Text,
    OutputValue = "output_value": Text,
    FeedbackKey = "feedback_key": Text,
    FeedbackScore = "feedback_score": Number,
    FeedbackValue = "feedback_value": Text,
    Metadata = "metadata": Object,
    Inputs = "inputs": Object,
    Outputs = "outputs": Object,
}

/// Fields whose key and value conditions pair up inside one `and` (one and the
/// same entry must match both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PairFamily {
    Metadata,
    Input,
    Output,
    Feedback,
}

impl Field {
    pub fn pair_family(self) -> Option<PairFamily> {
        match self {
            Field::MetadataKey | Field::MetadataValue => Some(PairFamily::Metadata),
            Field::InputKey | Field::InputValue => Some(PairFamily::Input),
            Field::OutputKey | Field::OutputValue => Some(PairFamily::Output),
            Field::FeedbackKey | Field::FeedbackScore | Field::FeedbackValue => {
                Some(PairFamily::Feedback)
            }
            _ => None,
        }
    }

    /// Fields `search(field, "text")` may name.
    fn searchable(self) -> bool {
        matches!(
            self.kind(),
            Kind::Text | Kind::Error | Kind::Object | Kind::Uuid | Kind::OptionalUuid
        )
    }
}

impl Filter {
    /// Parses and checks a filter expression.
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        check::check(&syntax::parse(text)?)
    }

    /// The pair family of a key/value leaf (`eq(metadata_key, …)`, `gt(feedback_score, …)`).
    pub fn pair_family(&self) -> Option<PairFamily> {
        match self {
            Filter::Compare { field, .. } | Filter::In { field, .. } => field.pair_family(),
            _ => None,
        }
    }
}

pub use check::value_text;

#[cfg(test)]
mod tests;
