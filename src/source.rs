//! Reading input: bytes, BOM, UTF-8, line endings, line/column lookup.
