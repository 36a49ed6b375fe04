//! Image registries: reading image archives ([`archive`]) and pushing them
//! ([`push`]).
pub mod archive;
pub mod push;
