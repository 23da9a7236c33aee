//! sd-journal, loaded from libsystemd at the first use.
//!
//! Linking libsystemd made every start of the daemon load it and its eight libraries and bind
//! their symbols (~1.5 M instructions, and their pages in the resident set), though only a
//! jail with `backend = systemd` reads the journal. The few `sd_journal_*` functions used are
//! looked up with `dlopen`/`dlsym` instead, once per process, when a journal is first opened;
//! a machine without libsystemd gets an error for the jails that need it, and the rest run.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::io;
use std::ptr::NonNull;
use std::sync::OnceLock;
use std::time::Duration;

/// The library's name (its ABI version 0 has been stable since 2014).
const LIBSYSTEMD: &CStr = c"libsystemd.so.0";

/// `sd_journal_wait`'s answers.
const SD_JOURNAL_NOP: c_int = 0;
const SD_JOURNAL_APPEND: c_int = 1;
const SD_JOURNAL_INVALIDATE: c_int = 2;

/// The opaque `sd_journal`.
type Handle = *mut c_void;

/// `int f(sd_journal *)`.
type JFn = unsafe extern "C" fn(Handle) -> c_int;
/// `int f(sd_journal *, const char *)`.
type JStrFn = unsafe extern "C" fn(Handle, *const c_char) -> c_int;
type OpenFn = unsafe extern "C" fn(*mut Handle, c_int) -> c_int;
type OpenDirFn = unsafe extern "C" fn(*mut Handle, *const c_char, c_int) -> c_int;
type OpenFilesFn = unsafe extern "C" fn(*mut Handle, *const *const c_char, c_int) -> c_int;
type CloseFn = unsafe extern "C" fn(Handle);
type AddMatchFn = unsafe extern "C" fn(Handle, *const c_void, usize) -> c_int;
type U64Fn = unsafe extern "C" fn(Handle, u64) -> c_int;
type GetU64Fn = unsafe extern "C" fn(Handle, *mut u64) -> c_int;
type GetMonotonicFn = unsafe extern "C" fn(Handle, *mut u64, *mut [u8; 16]) -> c_int;
type GetDataFn =
    unsafe extern "C" fn(Handle, *const c_char, *mut *const c_void, *mut usize) -> c_int;
type GetCursorFn = unsafe extern "C" fn(Handle, *mut *mut c_char) -> c_int;

/// The functions used, with the signatures of `<systemd/sd-journal.h>`.
struct Api {
    open: OpenFn,
    open_directory: OpenDirFn,
    open_files: OpenFilesFn,
    close: CloseFn,
    add_match: AddMatchFn,
    add_disjunction: JFn,
    seek_head: JFn,
    seek_tail: JFn,
    seek_realtime_usec: U64Fn,
    seek_cursor: JStrFn,
    test_cursor: JStrFn,
    next: JFn,
    previous: JFn,
    get_realtime_usec: GetU64Fn,
    get_monotonic_usec: GetMonotonicFn,
    get_data: GetDataFn,
    get_cursor: GetCursorFn,
    wait: U64Fn,
    get_fd: JFn,
}

/// The library, loaded once; `Err` holds why it could not be (kept, so each jail that
/// needs it reports the same reason).
static API: OnceLock<Result<Api, String>> = OnceLock::new();

/// The loaded functions, or why libsystemd is not usable.
fn api() -> io::Result<&'static Api> {
    API.get_or_init(|| load(LIBSYSTEMD))
        .as_ref()
        .map_err(|why| io::Error::new(io::ErrorKind::NotFound, why.clone()))
}

/// The last `dlerror` text, or `fallback`.
fn dl_error(fallback: &str) -> String {
    // SAFETY: dlerror returns null or a NUL-terminated string valid until the next dl call
    // on this thread; it is copied at once.
    let text = unsafe { libc::dlerror() };
    if text.is_null() {
        fallback.to_owned()
    } else {
        // SAFETY: non-null, NUL-terminated (above).
        unsafe { CStr::from_ptr(text) }
            .to_string_lossy()
            .into_owned()
    }
}

/// Opens `name` and looks up every function of [`Api`].
fn load(name: &CStr) -> Result<Api, String> {
    // SAFETY: dlopen with a NUL-terminated name; libsystemd's initialisers have no
    // requirement on the caller. The handle is never closed: the functions stay valid for
    // the life of the process.
    let lib = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if lib.is_null() {
        return Err(format!(
            "cannot load {} (needed by backend = systemd): {}",
            name.to_string_lossy(),
            dl_error("not found")
        ));
    }
    macro_rules! sym {
        ($name:literal, $ty:ty) => {{
            // SAFETY: `lib` is a live handle and the name NUL-terminated.
            let f = unsafe { libc::dlsym(lib, concat!($name, "\0").as_ptr().cast()) };
            if f.is_null() {
                return Err(format!(
                    "{} has no {}: {}",
                    name.to_string_lossy(),
                    $name,
                    dl_error("symbol not found")
                ));
            }
            // SAFETY: the symbol is the function of that name in sd-journal's stable ABI,
            // whose signature the field's type repeats; a function pointer has the size of
            // a data pointer on every platform libsystemd runs on.
            unsafe { std::mem::transmute::<*mut c_void, $ty>(f) }
        }};
    }
    Ok(Api {
        open: sym!("sd_journal_open", OpenFn),
        open_directory: sym!("sd_journal_open_directory", OpenDirFn),
        open_files: sym!("sd_journal_open_files", OpenFilesFn),
        close: sym!("sd_journal_close", CloseFn),
        add_match: sym!("sd_journal_add_match", AddMatchFn),
        add_disjunction: sym!("sd_journal_add_disjunction", JFn),
        seek_head: sym!("sd_journal_seek_head", JFn),
        seek_tail: sym!("sd_journal_seek_tail", JFn),
        seek_realtime_usec: sym!("sd_journal_seek_realtime_usec", U64Fn),
        seek_cursor: sym!("sd_journal_seek_cursor", JStrFn),
        test_cursor: sym!("sd_journal_test_cursor", JStrFn),
        next: sym!("sd_journal_next", JFn),
        previous: sym!("sd_journal_previous", JFn),
        get_realtime_usec: sym!("sd_journal_get_realtime_usec", GetU64Fn),
        get_monotonic_usec: sym!("sd_journal_get_monotonic_usec", GetMonotonicFn),
        get_data: sym!("sd_journal_get_data", GetDataFn),
        get_cursor: sym!("sd_journal_get_cursor", GetCursorFn),
        wait: sym!("sd_journal_wait", U64Fn),
        get_fd: sym!("sd_journal_get_fd", JFn),
    })
}

/// A negative return is `-errno`.
fn check(ret: c_int) -> io::Result<c_int> {
    if ret < 0 {
        Err(io::Error::from_raw_os_error(-ret))
    } else {
        Ok(ret)
    }
}

/// Text for a C call: a NUL inside is refused (sd-journal could not see past it).
fn c_text(text: &str) -> io::Result<CString> {
    CString::new(text).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in text"))
}

/// What [`Journal::wait`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Nothing within the timeout.
    Nop,
    /// Entries were appended.
    Append,
    /// Files were added or removed.
    Invalidate,
}

/// An open `sd_journal`, closed on drop.
pub(crate) struct Journal {
    handle: NonNull<c_void>,
    api: &'static Api,
}

// SAFETY: an sd_journal may be used from any thread, one at a time (it refuses only a use
// after fork); `Journal` is not `Sync` and every use takes `&mut self` or `&self` on the
// owning thread.
unsafe impl Send for Journal {}

impl Drop for Journal {
    fn drop(&mut self) {
        // SAFETY: the handle came from a successful open and is closed once.
        unsafe { (self.api.close)(self.handle.as_ptr()) }
    }
}

impl Journal {
    /// Takes the handle an open call filled in.
    fn opened(api: &'static Api, ret: c_int, handle: Handle) -> io::Result<Journal> {
        check(ret)?;
        let handle = NonNull::new(handle)
            .ok_or_else(|| io::Error::other("sd-journal returned no journal"))?;
        Ok(Journal { handle, api })
    }

    /// `sd_journal_open`: the machine's journal.
    pub(crate) fn open(flags: c_int) -> io::Result<Journal> {
        let api = api()?;
        let mut h: Handle = std::ptr::null_mut();
        // SAFETY: `h` is a live out-pointer.
        let ret = unsafe { (api.open)(&mut h, flags) };
        Journal::opened(api, ret, h)
    }

    /// `sd_journal_open_directory`: the files of one folder (and its machine-id folders).
    pub(crate) fn open_directory(dir: &str, flags: c_int) -> io::Result<Journal> {
        let api = api()?;
        let dir = c_text(dir)?;
        let mut h: Handle = std::ptr::null_mut();
        // SAFETY: `h` is a live out-pointer, `dir` NUL-terminated and alive for the call.
        let ret = unsafe { (api.open_directory)(&mut h, dir.as_ptr(), flags) };
        Journal::opened(api, ret, h)
    }

    /// `sd_journal_open_files`: these files only.
    pub(crate) fn open_files<'a>(files: impl IntoIterator<Item = &'a str>) -> io::Result<Journal> {
        let api = api()?;
        let names = files
            .into_iter()
            .map(c_text)
            .collect::<io::Result<Vec<_>>>()?;
        let mut list: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
        list.push(std::ptr::null());
        let mut h: Handle = std::ptr::null_mut();
        // SAFETY: `list` is a NULL-terminated array of strings that outlive the call.
        let ret = unsafe { (api.open_files)(&mut h, list.as_ptr(), 0) };
        Journal::opened(api, ret, h)
    }

    fn h(&self) -> Handle {
        self.handle.as_ptr()
    }

    /// `sd_journal_add_match` with `FIELD=value`.
    pub(crate) fn add_match(&mut self, field: &str, value: &str) -> io::Result<()> {
        let data = format!("{field}={value}");
        // SAFETY: the data is read for the call only (sd-journal copies it).
        check(unsafe { (self.api.add_match)(self.h(), data.as_ptr().cast(), data.len()) }).map(drop)
    }

    /// `sd_journal_add_disjunction`: the next matches are an alternative to the previous.
    pub(crate) fn add_disjunction(&mut self) -> io::Result<()> {
        // SAFETY: a live handle.
        check(unsafe { (self.api.add_disjunction)(self.h()) }).map(drop)
    }

    /// `sd_journal_seek_head`.
    pub(crate) fn seek_head(&mut self) -> io::Result<()> {
        // SAFETY: a live handle.
        check(unsafe { (self.api.seek_head)(self.h()) }).map(drop)
    }

    /// `sd_journal_seek_tail`.
    pub(crate) fn seek_tail(&mut self) -> io::Result<()> {
        // SAFETY: a live handle.
        check(unsafe { (self.api.seek_tail)(self.h()) }).map(drop)
    }

    /// `sd_journal_seek_realtime_usec`.
    pub(crate) fn seek_realtime_usec(&mut self, usec: u64) -> io::Result<()> {
        // SAFETY: a live handle.
        check(unsafe { (self.api.seek_realtime_usec)(self.h(), usec) }).map(drop)
    }

    /// `sd_journal_seek_cursor`.
    pub(crate) fn seek_cursor(&mut self, cursor: &str) -> io::Result<()> {
        let c = c_text(cursor)?;
        // SAFETY: a live handle, a NUL-terminated string alive for the call.
        check(unsafe { (self.api.seek_cursor)(self.h(), c.as_ptr()) }).map(drop)
    }

    /// `sd_journal_test_cursor`: whether the current entry is at `cursor`.
    pub(crate) fn test_cursor(&self, cursor: &str) -> io::Result<bool> {
        let c = c_text(cursor)?;
        // SAFETY: a live handle, a NUL-terminated string alive for the call.
        check(unsafe { (self.api.test_cursor)(self.h(), c.as_ptr()) }).map(|r| r > 0)
    }

    /// `sd_journal_next`: 0 at the end, else the number of entries moved.
    pub(crate) fn next(&mut self) -> io::Result<u64> {
        // SAFETY: a live handle.
        check(unsafe { (self.api.next)(self.h()) }).map(|r| r as u64)
    }

    /// `sd_journal_previous`.
    pub(crate) fn previous(&mut self) -> io::Result<u64> {
        // SAFETY: a live handle.
        check(unsafe { (self.api.previous)(self.h()) }).map(|r| r as u64)
    }

    /// The current entry's realtime stamp (µs since the epoch).
    pub(crate) fn realtime_usec(&self) -> io::Result<u64> {
        let mut usec = 0u64;
        // SAFETY: a live handle and out-pointer.
        check(unsafe { (self.api.get_realtime_usec)(self.h(), &mut usec) })?;
        Ok(usec)
    }

    /// The current entry's monotonic stamp (µs since its boot).
    pub(crate) fn monotonic_usec(&self) -> io::Result<u64> {
        let (mut usec, mut boot) = (0u64, [0u8; 16]);
        // SAFETY: a live handle and out-pointers (`sd_id128_t` is 16 bytes).
        check(unsafe { (self.api.get_monotonic_usec)(self.h(), &mut usec, &mut boot) })?;
        Ok(usec)
    }

    /// The value of the current entry's `field` (the bytes after `FIELD=`), `None` when the
    /// entry has no such field.
    pub(crate) fn data(&mut self, field: &CStr) -> io::Result<Option<&[u8]>> {
        let (mut data, mut len): (*const c_void, usize) = (std::ptr::null(), 0);
        // SAFETY: a live handle, a NUL-terminated name, live out-pointers.
        let ret = unsafe { (self.api.get_data)(self.h(), field.as_ptr(), &mut data, &mut len) };
        match check(ret) {
            Ok(_) if data.is_null() => Ok(None),
            Ok(_) => {
                // SAFETY: sd-journal gives `len` readable bytes, valid until the next call on
                // this journal; the `&mut self` borrow of the result keeps those away.
                let all = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) };
                let value = memchr::memchr(b'=', all).map(|i| &all[i + 1..]);
                Ok(value)
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The current entry's cursor.
    pub(crate) fn cursor(&self) -> io::Result<String> {
        let mut c: *mut c_char = std::ptr::null_mut();
        // SAFETY: a live handle and out-pointer.
        check(unsafe { (self.api.get_cursor)(self.h(), &mut c) })?;
        if c.is_null() {
            return Err(io::Error::other("sd-journal returned no cursor"));
        }
        // SAFETY: a NUL-terminated string malloc'd by libsystemd, ours to free, freed once
        // after it was copied.
        let text = unsafe { CStr::from_ptr(c) }.to_string_lossy().into_owned();
        // SAFETY: as above.
        unsafe { libc::free(c.cast()) };
        Ok(text)
    }

    /// `sd_journal_wait` up to `timeout`.
    pub(crate) fn wait(&mut self, timeout: Duration) -> io::Result<Wake> {
        // u64::MAX would mean "forever".
        let usec = u64::try_from(timeout.as_micros()).map_or(u64::MAX - 1, |u| u.min(u64::MAX - 1));
        // SAFETY: a live handle.
        match check(unsafe { (self.api.wait)(self.h(), usec) })? {
            SD_JOURNAL_NOP => Ok(Wake::Nop),
            SD_JOURNAL_APPEND => Ok(Wake::Append),
            SD_JOURNAL_INVALIDATE => Ok(Wake::Invalidate),
            other => Err(io::Error::other(format!(
                "sd_journal_wait answered {other}"
            ))),
        }
    }

    /// `sd_journal_get_fd`: sets up the inotify watches (the fd itself is not used).
    pub(crate) fn watch(&mut self) -> io::Result<()> {
        // SAFETY: a live handle.
        check(unsafe { (self.api.get_fd)(self.h()) }).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_library_is_named_in_the_error() {
        let Err(why) = load(c"libjailor-no-such-library.so.0") else {
            panic!("a library that does not exist loaded");
        };
        assert!(
            why.contains("libjailor-no-such-library.so.0") && why.contains("backend = systemd"),
            "{why}"
        );
    }

    #[test]
    fn errno_is_kept() {
        let e = check(-libc::EBADMSG).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EBADMSG));
        assert_eq!(check(2).unwrap(), 2);
    }

    #[test]
    fn text_with_nul_is_refused() {
        assert!(c_text("a\0b").is_err());
        assert_eq!(c_text("ab").unwrap().as_bytes(), b"ab");
    }
}
