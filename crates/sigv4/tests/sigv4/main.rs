//! thingd-sigv4 against the signers clients use: botocore (AWS CLI, boto3), aws-sigv4 (the AWS
//! SDK for Rust) and the AWS signing test suite; refusals and their AWS errors; properties.
//!
//! One test binary keeps the build small; each module covers one source of vectors or one
//! category of refusal.

// Test helpers outside `#[test]` functions unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod aws_sdk;
mod aws_suite;
mod botocore;
mod errors;
mod presigned;
mod properties;
mod signer;
mod support;
