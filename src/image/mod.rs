//! Container images: how they are named ([`reference`]). One home for the
//! naming rules that `patch --registry`, `secret --server` and the registry
//! client share.
pub mod platform;
pub mod reference;

pub use platform::Platform;
pub use reference::{Host, ImageRef, Project, RefError};
