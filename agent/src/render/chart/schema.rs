//! `values.schema.json` validation (placeholder replaced below).
