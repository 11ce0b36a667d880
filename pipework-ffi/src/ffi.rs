//! Moving values across the C boundary: opaque objects, NULL-checked pointers, strings in and out.

use std::{
    ffi::{CStr, c_char},
    ptr::NonNull,
};

use crate::error::{Failure, pipework_result};

/// Moves `value` to the heap and gives its ownership to the C caller.
pub(crate) fn into_raw<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Takes back and drops an object given out by [`into_raw`]; NULL does nothing.
///
/// # Safety
/// `ptr` is NULL or came from [`into_raw`] for the same `T` and was not freed yet.
pub(crate) unsafe fn free<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: the caller's contract.
        drop(unsafe { Box::from_raw(ptr) });
    }
}

/// Takes back ownership of an object a call consumes; NULL is an error naming `name`.
///
/// # Safety
/// As for [`free`].
pub(crate) unsafe fn take<T>(ptr: *mut T, name: &str) -> Result<Box<T>, Failure> {
    if ptr.is_null() {
        return Err(Failure::null(name));
    }
    // SAFETY: the caller's contract.
    Ok(unsafe { Box::from_raw(ptr) })
}

/// Borrows the object behind a pointer argument; NULL is an error naming `name`.
///
/// # Safety
/// `ptr` is NULL or points to a live `T` that nothing mutates during the borrow.
pub(crate) unsafe fn borrow<'a, T>(ptr: *const T, name: &str) -> Result<&'a T, Failure> {
    // SAFETY: the caller's contract.
    unsafe { ptr.as_ref() }.ok_or_else(|| Failure::null(name))
}

/// Borrows the object behind a pointer argument mutably; NULL is an error naming `name`.
///
/// # Safety
/// `ptr` is NULL or points to a live `T` that nothing else uses during the borrow.
pub(crate) unsafe fn borrow_mut<'a, T>(ptr: *mut T, name: &str) -> Result<&'a mut T, Failure> {
    // SAFETY: the caller's contract.
    unsafe { ptr.as_mut() }.ok_or_else(|| Failure::null(name))
}

/// Reads a NUL-terminated UTF-8 string argument; NULL and bad UTF-8 are errors naming `name`.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn text<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(Failure::null(name));
    }
    // SAFETY: the caller's contract.
    let bytes = unsafe { CStr::from_ptr(ptr) };
    bytes.to_str().map_err(|err| {
        Failure::new(
            pipework_result::InvalidUtf8,
            libc::EILSEQ,
            format!("{name} is not valid UTF-8 (byte {} is not)", err.valid_up_to()),
        )
    })
}

/// `value` as JSON, for the `*_to_json` functions.
pub(crate) fn json(value: &impl serde::Serialize) -> Result<String, Failure> {
    serde_json::to_string(value).map_err(|err| {
        Failure::new(pipework_result::Other, libc::EINVAL, format!("cannot write JSON: {err}"))
    })
}

/// An output parameter, checked for NULL before the call does anything, written on success only.
pub(crate) struct Out<T>(NonNull<T>);

impl<T> Out<T> {
    /// Checks the output pointer `ptr`, named `name` in the error when it is NULL.
    ///
    /// # Safety
    /// `ptr` is NULL or valid for writing a `T` until [`Out::write`].
    pub(crate) unsafe fn new(ptr: *mut T, name: &str) -> Result<Self, Failure> {
        NonNull::new(ptr).map(Out).ok_or_else(|| Failure::null(name))
    }

    /// Stores the call's answer (whatever the target held is overwritten, not dropped).
    pub(crate) fn write(self, value: T) {
        // SAFETY: `new`'s contract makes the pointer valid for a write.
        unsafe { self.0.as_ptr().write(value) }
    }
}

/// A caller-owned buffer for text out: `buf` of `len` bytes and `written_out` for the length.
///
/// The text is written NUL-terminated and `*written_out` gets its length without the NUL.
/// A NULL `buf` with `len` 0 asks for the length only. When the text and its NUL do not fit,
/// the call fails with `PIPEWORK_RESULT_INSUFFICIENT_SIZE` and writes nothing.
pub(crate) struct TextOut {
    buf: *mut c_char,
    len: usize,
    written: Out<usize>,
}

impl TextOut {
    /// Checks the buffer arguments before the call does anything.
    ///
    /// # Safety
    /// `buf` is NULL or valid for writing `len` bytes; `written_out` is NULL or valid.
    pub(crate) unsafe fn new(
        buf: *mut c_char,
        len: usize,
        written_out: *mut usize,
    ) -> Result<Self, Failure> {
        // SAFETY: the caller's contract.
        let written = unsafe { Out::new(written_out, "written_out") }?;
        if buf.is_null() && len != 0 {
            return Err(Failure::null("buf"));
        }
        Ok(TextOut { buf, len, written })
    }

    /// Copies `text` and a NUL into the buffer (or only reports its length for a size query).
    pub(crate) fn write(self, text: &str) -> Result<(), Failure> {
        if !self.buf.is_null() {
            if text.len() >= self.len {
                return Err(Failure::new(
                    pipework_result::InsufficientSize,
                    libc::ERANGE,
                    format!(
                        "the buffer of {} bytes is too small: {} are needed with the final NUL",
                        self.len,
                        text.len() + 1
                    ),
                ));
            }
            // SAFETY: `new`'s contract; `text.len() + 1 <= len` was checked.
            unsafe {
                std::ptr::copy_nonoverlapping(text.as_ptr(), self.buf.cast::<u8>(), text.len());
                self.buf.add(text.len()).write(0);
            }
        }
        self.written.write(text.len());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::ptr;

    use super::*;

    #[test]
    fn strings_in_are_checked_for_null_and_utf8() {
        let err = unsafe { text(ptr::null(), "host") }.unwrap_err();
        assert_eq!(
            (err.result, err.message.as_str()),
            (pipework_result::NullParameter, "host is NULL")
        );
        let bad = c"br\xff1";
        let err = unsafe { text(bad.as_ptr(), "host") }.unwrap_err();
        assert_eq!(err.result, pipework_result::InvalidUtf8);
        assert_eq!(err.errno, libc::EILSEQ);
        assert_eq!(err.message, "host is not valid UTF-8 (byte 2 is not)");
        assert_eq!(unsafe { text(c"br1".as_ptr(), "host") }.unwrap(), "br1");
    }

    #[test]
    fn text_out_fits_queries_and_refuses_small_buffers() {
        let mut written = usize::MAX;
        let mut buf = [b'x' as c_char; 4];
        let out = unsafe { TextOut::new(buf.as_mut_ptr(), buf.len(), &mut written) }.unwrap();
        assert_eq!(out.write("abcd").unwrap_err().result, pipework_result::InsufficientSize);
        assert_eq!((buf, written), ([b'x' as c_char; 4], usize::MAX));
        let out = unsafe { TextOut::new(buf.as_mut_ptr(), buf.len(), &mut written) }.unwrap();
        out.write("abc").unwrap();
        assert_eq!((buf, written), ([97, 98, 99, 0], 3));
        let out = unsafe { TextOut::new(ptr::null_mut(), 0, &mut written) }.unwrap();
        out.write("a longer text").unwrap();
        assert_eq!(written, 13);
    }

    #[test]
    fn text_out_checks_its_pointers() {
        let mut written = 0;
        let err = unsafe { TextOut::new(ptr::null_mut(), 8, &mut written) }.err().unwrap();
        assert_eq!(err.message, "buf is NULL");
        let mut buf = [0 as c_char; 8];
        let err = unsafe { TextOut::new(buf.as_mut_ptr(), 8, ptr::null_mut()) }.err().unwrap();
        assert_eq!(err.message, "written_out is NULL");
    }

    #[test]
    fn objects_round_trip_and_null_is_handled() {
        let raw = into_raw(String::from("namespace"));
        assert_eq!(unsafe { borrow(raw, "x") }.unwrap(), "namespace");
        unsafe { borrow_mut(raw, "x") }.unwrap().push('!');
        assert_eq!(*unsafe { take(raw, "x") }.unwrap(), "namespace!");
        assert!(unsafe { borrow::<String>(ptr::null(), "guest") }.is_err());
        assert_eq!(
            unsafe { take::<String>(ptr::null_mut(), "ns") }.unwrap_err().message,
            "ns is NULL"
        );
        unsafe { free::<String>(ptr::null_mut()) };
    }

    #[test]
    fn out_parameters_are_written_once_on_success() {
        let mut slot = 0u32;
        let out = unsafe { Out::new(&mut slot, "index_out") }.unwrap();
        out.write(7);
        assert_eq!(slot, 7);
        assert_eq!(
            unsafe { Out::<u32>::new(ptr::null_mut(), "index_out") }.err().unwrap().message,
            "index_out is NULL"
        );
    }
}
