"""Process-level tests: real `sfa` OS processes against one database."""
