//! The C API of pipework-rs: `libpipework` (shared and static) and `include/pipework.h`.
//!
//! It only converts: C arguments to pipework-core calls, their results and errors back to C.
//! The conventions are rustls-ffi's:
//!
//! - every C type is opaque and made by a `pipework_<type>_new`/`_from_*`/`_create_*`
//!   function, released by `pipework_<type>_free`, and `_free(NULL)` does nothing;
//! - functions are `pipework_<type>_<verb>`: the object first, then the inputs, then the
//!   `*_out` parameters, which are written only when the call returns `PIPEWORK_RESULT_OK`;
//! - strings in are NUL-terminated UTF-8 `const char *`; strings out go to a caller-owned
//!   buffer (`buf`, `len`, `&written`), see `ffi::TextOut`;
//! - failures return a `pipework_result` outside errno's range, with the message in
//!   `pipework_last_error` and the errno in `pipework_result_errno`;
//! - every pointer is checked for NULL and no panic crosses the boundary.

#![allow(non_camel_case_types)]

mod attach;
mod dhcp;
mod error;
mod ffi;
mod guest;
mod handle;
mod link;
mod namespace;
mod panic;
mod tipc;
mod topology;
mod version;
