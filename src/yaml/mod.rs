//! YAML with exact byte spans (a span tree, see `tree`) and plain values (saphyr).
pub mod block;
pub mod cst;
pub mod edit;
pub mod emit;
pub mod error;
pub mod limits;
pub mod outline;
pub mod scalar;
pub mod scan;
pub mod secret;
pub mod stream;
pub mod style;
pub mod subset;
pub mod tree;
pub mod value;
