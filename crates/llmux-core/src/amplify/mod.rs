//! The amplify-lambda-js drop-in: the request preparation its `callLiteLLM` did, and the
//! `data: {...}\n\n` lines its callers read (see shared/AMPLIFY_CONTRACT.md).

pub mod billing;
pub mod lines;
pub mod prepare;

pub use lines::AmplifyEncoder;
pub use prepare::{prepare, AmplifyCall};
