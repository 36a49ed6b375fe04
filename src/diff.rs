//! Unified diffs for review, with Secret data masked.
