//! The run model of ingestion, shared by the API that accepts runs and the worker that stores
//! them: the SDKs' wire format and its validation (`wire`, `dotted_order`), the operations
//! queued between the two (`op`), and the merge of operations into ClickHouse rows (`merge`,
//! `pricing`).

// Tests may expect and index: a panic there is a failing test.
#![cfg_attr(test, allow(clippy::expect_used, clippy::indexing_slicing))]

pub mod dotted_order;
pub mod feedback;
pub mod merge;
pub mod op;
pub mod pricing;
pub mod wire;

pub use op::{
    Attachment, FeedbackOp, IngestBatch, OpKind, Payload, RunOp, StoredField, StoredPayload,
};
pub use wire::{RUN_TYPES, WireError};
