//! Dataset example writes, shared by backend's JSON endpoints and
//! platform-backend's multipart ones so both validate, version and store examples the same way.

pub mod schema;
pub mod write;

pub use write::{
    AttachmentOps, ExampleChange, Mode, NewAttachment, WriteError, Written, delete, write,
};
