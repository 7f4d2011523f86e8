//! Dataset example writes, shared by backend's JSON endpoints and
//! platform-backend's multipart ones so both validate, version and store examples the same way.

// Tests may expect and index: a panic there is a failing test.
#![cfg_attr(test, allow(clippy::expect_used, clippy::indexing_slicing))]

pub mod schema;
pub mod write;

pub use write::{
    AttachmentOps, ExampleChange, MetadataOp, Mode, NewAttachment, WriteError, Written, delete,
    write,
};
