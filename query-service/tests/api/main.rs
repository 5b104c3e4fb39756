//! Integration tests of the query service (added in the next commit).
