//! A safe Rust wrapper over libedgeguard's C interface (include/edgeguard.h).

use std::ffi::{c_char, c_void, CStr};
use std::fmt;
use std::ptr;

const ABI_VERSION: u32 = 1;

#[repr(C)]
struct RawOptions {
    struct_size: u32,
    flags: u32,
    threads: i32,
    threshold: f32,
    window_tokens: i32,
    window_stride: i32,
    max_windows: i32,
    max_batch: i32,
    long_input: i32,
    unsafe_label: i32,
}

#[repr(C)]
struct RawInput {
    prompt: *const c_char,
    prompt_length: usize,
    response: *const c_char,
    response_length: usize,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct RawVerdict {
    unsafe_score: f32,
    flagged: i32,
    label_index: i32,
    token_count: i32,
    windows: i32,
    truncated: i32,
    label: *const c_char,
}

#[repr(C)]
struct RawModelInfo {
    struct_size: u32,
    label_count: i32,
    path: *const c_char,
    format: *const c_char,
    precision: *const c_char,
    name: *const c_char,
    architecture: *const c_char,
    labels: *const *const c_char,
    unsafe_label: i32,
    model_threshold: f32,
    threshold: f32,
    layers: i32,
    hidden_size: i32,
    max_sequence_length: i32,
    vocabulary_size: i32,
    window_tokens: i32,
    threads: i32,
    kernels: *const c_char,
}

extern "C" {
    fn edgeguard_abi_version() -> u32;
    fn edgeguard_version() -> *const c_char;
    fn edgeguard_build_profile() -> *const c_char;
    fn edgeguard_last_error() -> *const c_char;
    fn edgeguard_open(path: *const c_char, path_length: usize, options: *const RawOptions, out: *mut *mut c_void) -> i32;
    fn edgeguard_classify(
        guard: *mut c_void,
        prompt: *const c_char,
        prompt_length: usize,
        response: *const c_char,
        response_length: usize,
        out: *mut RawVerdict,
    ) -> i32;
    fn edgeguard_classify_batch(guard: *mut c_void, inputs: *const RawInput, count: usize, out: *mut RawVerdict) -> i32;
    fn edgeguard_get_model_info(guard: *mut c_void, info: *mut RawModelInfo) -> i32;
    fn edgeguard_close(guard: *mut c_void) -> i32;
}

/// A failed call: the `edgeguard_status` code and the library's message.
#[derive(Debug)]
pub struct Error {
    pub status: i32,
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (status {})", self.message, self.status)
    }
}

impl std::error::Error for Error {}

/// Copies a NUL-terminated UTF-8 string the library owns.
fn owned(text: *const c_char) -> String {
    unsafe { CStr::from_ptr(text) }.to_string_lossy().into_owned()
}

fn check(status: i32) -> Result<(), Error> {
    if status == 0 {
        Ok(())
    } else {
        // The message belongs to this thread, which made the call.
        Err(Error { status, message: owned(unsafe { edgeguard_last_error() }) })
    }
}

/// The library's version, and the firmware profile it was built for ("" when none).
pub fn version() -> (String, String) {
    unsafe { (owned(edgeguard_version()), owned(edgeguard_build_profile())) }
}

/// The guard's decision on one input.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub unsafe_score: f32,
    pub flagged: bool,
    pub label: String,
    pub token_count: i32,
    pub windows: i32,
    pub truncated: bool,
}

impl From<&RawVerdict> for Verdict {
    fn from(v: &RawVerdict) -> Self {
        Verdict {
            unsafe_score: v.unsafe_score,
            flagged: v.flagged != 0,
            label: owned(v.label),
            token_count: v.token_count,
            windows: v.windows,
            truncated: v.truncated != 0,
        }
    }
}

/// What a guard opened.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub name: String,
    pub architecture: String,
    pub format: String,
    pub precision: String,
    pub labels: Vec<String>,
    pub unsafe_label: usize,
    pub threshold: f32,
    pub layers: i32,
    pub hidden_size: i32,
    pub kernels: String,
}

/// An opened guard model; closed when dropped. `Send + Sync`: the library serves any number of threads per handle.
pub struct Guard {
    handle: *mut c_void,
}

unsafe impl Send for Guard {}
unsafe impl Sync for Guard {}

impl Guard {
    /// Opens a bundle (.gguf) or a Hugging Face directory with the default options and `threads` workers (0: one per processor).
    pub fn open(path: &str, threads: i32) -> Result<Guard, Error> {
        if unsafe { edgeguard_abi_version() } != ABI_VERSION {
            return Err(Error { status: 7, message: format!("the library's ABI is not {ABI_VERSION}") });
        }
        let options = RawOptions {
            struct_size: std::mem::size_of::<RawOptions>() as u32,
            flags: 0,
            threads,
            threshold: 0.0,
            window_tokens: 0,
            window_stride: 0,
            max_windows: 0,
            max_batch: 0,
            long_input: 0,
            unsafe_label: 0,
        };
        let mut handle = ptr::null_mut();
        check(unsafe { edgeguard_open(path.as_ptr().cast(), path.len(), &options, &mut handle) })?;
        Ok(Guard { handle })
    }

    /// Classifies a prompt, or a prompt and the response to it (then the verdict judges the response).
    pub fn classify(&self, prompt: &str, response: Option<&str>) -> Result<Verdict, Error> {
        let mut out = std::mem::MaybeUninit::<RawVerdict>::uninit();
        let (r, rlen) = response.map_or((ptr::null(), 0), |r| (r.as_ptr().cast(), r.len()));
        check(unsafe { edgeguard_classify(self.handle, prompt.as_ptr().cast(), prompt.len(), r, rlen, out.as_mut_ptr()) })?;
        Ok(Verdict::from(unsafe { &out.assume_init() }))
    }

    /// Classifies several prompts together; verdicts in input order.
    pub fn classify_batch(&self, prompts: &[&str]) -> Result<Vec<Verdict>, Error> {
        let inputs: Vec<RawInput> = prompts
            .iter()
            .map(|p| RawInput { prompt: p.as_ptr().cast(), prompt_length: p.len(), response: ptr::null(), response_length: 0 })
            .collect();
        let mut out = Vec::<RawVerdict>::with_capacity(inputs.len());
        check(unsafe { edgeguard_classify_batch(self.handle, inputs.as_ptr(), inputs.len(), out.as_mut_ptr()) })?;
        unsafe { out.set_len(inputs.len()) };
        Ok(out.iter().map(Verdict::from).collect())
    }

    /// Describes the opened model.
    pub fn model(&self) -> Result<ModelInfo, Error> {
        let mut info: RawModelInfo = unsafe { std::mem::zeroed() };
        info.struct_size = std::mem::size_of::<RawModelInfo>() as u32;
        check(unsafe { edgeguard_get_model_info(self.handle, &mut info) })?;
        let labels = (0..info.label_count as usize).map(|i| owned(unsafe { *info.labels.add(i) })).collect();
        Ok(ModelInfo {
            name: owned(info.name),
            architecture: owned(info.architecture),
            format: owned(info.format),
            precision: owned(info.precision),
            labels,
            unsafe_label: info.unsafe_label as usize,
            threshold: info.threshold,
            layers: info.layers,
            hidden_size: info.hidden_size,
            kernels: owned(info.kernels),
        })
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // Closing a handle this wrapper owns cannot fail; a failure here would be a bug in the library.
        let status = unsafe { edgeguard_close(self.handle) };
        debug_assert_eq!(status, 0);
    }
}
