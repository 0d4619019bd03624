//! The work of each command, apart from parsing and rendering: operations take a request and
//! return data (report structs and enums); they never print.

pub mod conflicts;
pub mod list;
