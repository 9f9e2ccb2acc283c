/*
 * edgeguard.h: the C interface of libedgeguard, the EdgeGuard runtime as a native library.
 *
 * A guard model (a text safety classifier) is opened once and then classifies prompts, or prompts and the
 * responses to them, from any number of threads. Link libedgeguard.so.1 (pkg-config edgeguard) or
 * libedgeguard.a (pkg-config --static edgeguard-static); no .NET installation is needed on the target.
 *
 * Conventions, for every function:
 *  - Functions that can fail return an edgeguard_status: EDGEGUARD_OK (0) or an error code. After an error,
 *    edgeguard_last_error() returns a one-line UTF-8 message for this thread. Nothing is ever thrown, aborted or
 *    printed: bad input of every kind (NULL pointers, invalid UTF-8, zero and huge lengths, closed handles, corrupt
 *    model files) is an error code.
 *  - Text is UTF-8 given as a pointer and a length in bytes. It need not be NUL-terminated and may contain NUL bytes
 *    (the input sanitiser removes them). Invalid UTF-8 is refused (EDGEGUARD_ERROR_INVALID_UTF8), never replaced.
 *  - Ownership: the library never keeps or frees a pointer the caller passes in; it reads it during the call only.
 *    Every pointer the library hands out points to memory the library owns; the caller never frees it. How long it
 *    stays valid is stated where it is returned.
 *  - Thread safety: every function may be called from any thread at any time, concurrently with any other, on the
 *    same guard or on different ones. edgeguard_close waits for the calls in flight on that guard to finish.
 *
 * ABI stability: within one EDGEGUARD_ABI_VERSION (the soname libedgeguard.so.<ABI>) functions are never removed or
 * changed, and structs are never reordered or shrunk. New fields are appended only to structs that begin with a
 * struct_size (edgeguard_options, edgeguard_model_info), so a program built against an older header keeps working
 * with a newer library. edgeguard_input and edgeguard_verdict are frozen for the ABI version.
 */
#ifndef EDGEGUARD_H
#define EDGEGUARD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI this header describes; edgeguard_abi_version() returns the library's. They must be equal. */
#define EDGEGUARD_ABI_VERSION 1

/* The library version this header ships with ("MAJOR.MINOR.PATCH", also returned by edgeguard_version()). */
#define EDGEGUARD_VERSION_MAJOR 1
#define EDGEGUARD_VERSION_MINOR 0
#define EDGEGUARD_VERSION_PATCH 0

/* Longest text (prompt or response) in bytes; longer text is refused with EDGEGUARD_ERROR_INPUT_TOO_LONG before it
 * is read. The sliding-window limit (edgeguard_options.max_windows) refuses far shorter text in practice. */
#define EDGEGUARD_MAX_TEXT_BYTES ((size_t)1 << 28)

/* Longest model path in bytes. */
#define EDGEGUARD_MAX_PATH_BYTES ((size_t)4096)

/* Most inputs one edgeguard_classify_batch call takes. */
#define EDGEGUARD_MAX_BATCH_INPUTS ((size_t)1 << 20)

/* What a function returns. Values are stable within the ABI version; new codes may be added. */
typedef int32_t edgeguard_status;

#define EDGEGUARD_OK 0
/* A required pointer is NULL, or a value is out of range (the message names which). */
#define EDGEGUARD_ERROR_INVALID_ARGUMENT 1
/* A text is not valid UTF-8 (the message gives the byte offset). */
#define EDGEGUARD_ERROR_INVALID_UTF8 2
/* The model is missing, unreadable, corrupt, truncated, inconsistent or of an unsupported kind. */
#define EDGEGUARD_ERROR_MODEL 3
/* The guard handle is closed, or was never returned by edgeguard_open. */
#define EDGEGUARD_ERROR_CLOSED 4
/* A text is longer than EDGEGUARD_MAX_TEXT_BYTES, or needs more model windows than max_windows. */
#define EDGEGUARD_ERROR_INPUT_TOO_LONG 5
/* The library was built for a firmware profile whose kernel this CPU cannot run (the message names the fix). */
#define EDGEGUARD_ERROR_UNSUPPORTED_CPU 6
/* The options set a flag or a field this library does not know (a newer header than library). */
#define EDGEGUARD_ERROR_UNSUPPORTED_OPTION 7
/* Memory ran out. */
#define EDGEGUARD_ERROR_OUT_OF_MEMORY 8
/* A bug in the library: please report the message. */
#define EDGEGUARD_ERROR_INTERNAL 9

/* An opened guard model. Opaque: a token the library looks up, never dereferenced by the caller. Closing it twice
 * or using it after edgeguard_close returns EDGEGUARD_ERROR_CLOSED; a value is never reused within a process. */
typedef struct edgeguard_guard edgeguard_guard;

/* edgeguard_options.long_input: what to do with input longer than one model window. */
/* Classify overlapping windows that together cover every token; the verdict takes the highest unsafe score. */
#define EDGEGUARD_LONG_INPUT_SLIDING_WINDOW 0
/* Cut the input to one window (longest segment first) and set edgeguard_verdict.truncated. */
#define EDGEGUARD_LONG_INPUT_TRUNCATE 1

/* edgeguard_options.flags */
/* Skip the bundle's tensor-data checksum at open (the header is always checked). */
#define EDGEGUARD_OPEN_SKIP_WEIGHT_CHECK (1u << 0)
/* Do not sanitise input before tokenizing it (invisible characters, bidi overrides, styled letters). */
#define EDGEGUARD_OPEN_NO_SANITIZE (1u << 1)
/* Use unsafe_label as the class that means unsafe, instead of the model's own. */
#define EDGEGUARD_OPEN_UNSAFE_LABEL (1u << 2)

/*
 * Options for edgeguard_open. Every field's zero means its default, so
 *     edgeguard_options options = { .struct_size = sizeof(edgeguard_options) };
 * is the default options, and a program built against an older, shorter struct gets defaults for the newer fields.
 * struct_size must be set. A struct_size larger than the library knows is accepted only when the unknown bytes
 * are zero (else EDGEGUARD_ERROR_UNSUPPORTED_OPTION).
 */
typedef struct edgeguard_options {
    uint32_t struct_size;  /* sizeof(edgeguard_options) */
    uint32_t flags;        /* EDGEGUARD_OPEN_* bits; unknown bits: EDGEGUARD_ERROR_UNSUPPORTED_OPTION */
    int32_t threads;       /* inference worker threads; 0: one per processor */
    float threshold;       /* decision threshold on the unsafe score, strictly between 0 and 1; 0: the model's own */
    int32_t window_tokens; /* tokens per model window, special tokens included (at least 4); 0: the model's maximum, at most 512 */
    int32_t window_stride; /* tokens between the starts of consecutive windows; 0: half a window */
    int32_t max_windows;   /* most windows one input may need before it is refused; 0: 2048 */
    int32_t max_batch;     /* most windows run through the model together; 0: 8 */
    int32_t long_input;    /* EDGEGUARD_LONG_INPUT_*; 0: sliding windows */
    int32_t unsafe_label;  /* class index that means unsafe; read only with EDGEGUARD_OPEN_UNSAFE_LABEL */
} edgeguard_options;

/* One input of edgeguard_classify_batch. */
typedef struct edgeguard_input {
    const char *prompt;     /* UTF-8, not NULL (an empty prompt is a non-NULL pointer with length 0) */
    size_t prompt_length;   /* bytes */
    const char *response;   /* UTF-8, or NULL for a prompt alone; then the verdict judges the prompt */
    size_t response_length; /* bytes; 0 when response is NULL */
} edgeguard_input;

/* The guard's decision on one input. */
typedef struct edgeguard_verdict {
    float unsafe_score;  /* probability of the unsafe class; with several windows, the highest of any window */
    int32_t flagged;     /* 1 when unsafe_score is at or above the threshold, else 0 */
    int32_t label_index; /* index of the decided class in edgeguard_model_info.labels */
    int32_t token_count; /* tokens of the whole input, special tokens included, before windowing or truncation */
    int32_t windows;     /* model windows classified */
    int32_t truncated;   /* 1 when part of the input was not seen (EDGEGUARD_LONG_INPUT_TRUNCATE only), else 0 */
    const char *label;   /* the decided class's name, NUL-terminated UTF-8; owned by the guard, valid until edgeguard_close */
} edgeguard_verdict;

/*
 * What a guard opened. Zero it and set struct_size before calling edgeguard_get_model_info: the library writes the
 * fields that fit in struct_size (at least the ABI 1 fields, which must fit) and leaves the rest untouched. Every
 * string is NUL-terminated UTF-8 owned by the guard and valid until edgeguard_close.
 */
typedef struct edgeguard_model_info {
    uint32_t struct_size;          /* sizeof(edgeguard_model_info) */
    int32_t label_count;           /* number of classes */
    const char *path;              /* what was opened */
    const char *format;            /* "bundle" or "huggingface" */
    const char *precision;         /* weight precision of the engine: "f32" or "int8" */
    const char *name;              /* the model's name; "" when the file gives none */
    const char *architecture;      /* Hugging Face model_type, e.g. "deberta-v2", "bert"; "" when unknown */
    const char *const *labels;     /* label_count class names, index = class id */
    int32_t unsafe_label;          /* index of the class that means unsafe */
    float model_threshold;         /* the model's own decision threshold */
    float threshold;               /* the threshold in use (edgeguard_options.threshold or the model's) */
    int32_t layers;                /* encoder layers */
    int32_t hidden_size;           /* hidden size */
    int32_t max_sequence_length;   /* most tokens one window may hold */
    int32_t vocabulary_size;       /* rows of the embedding table */
    int32_t window_tokens;         /* tokens per window in use */
    int32_t threads;               /* inference worker threads */
    const char *kernels;           /* the compute kernels this CPU and build run, one line for logs */
} edgeguard_model_info;

/* The library's ABI version; compare with EDGEGUARD_ABI_VERSION. */
uint32_t edgeguard_abi_version(void);

/* The library's version, "MAJOR.MINOR.PATCH". Static storage: never freed, valid for the life of the process. */
const char *edgeguard_version(void);

/* The firmware profile the library was built for (firmware-profiles/<name>.json), or "" for a build that adapts to
 * any CPU of its architecture. Static storage. */
const char *edgeguard_build_profile(void);

/* A short English name of a status ("invalid argument", ...); "unknown status" for codes this library does not
 * know. Static storage. */
const char *edgeguard_status_string(edgeguard_status status);

/*
 * The message of the most recent call on this thread that returned an error: one line of NUL-terminated UTF-8,
 * never NULL ("" before the first error). Calls that succeed leave it alone. Owned by the library, per thread; valid
 * until the next failing call on the same thread, or the thread's exit. Copy it to keep it.
 */
const char *edgeguard_last_error(void);

/*
 * Opens a guard model: an EdgeGuard bundle (.gguf) or a Hugging Face directory (config.json, model.safetensors and
 * the tokenizer's files), validated before this returns.
 * path: UTF-8, path_length bytes, no NUL inside. options: NULL for the defaults. On success *out_guard receives the
 * handle (close it with edgeguard_close); on failure it is set to NULL when out_guard is not NULL.
 * Errors: INVALID_ARGUMENT, INVALID_UTF8, MODEL, UNSUPPORTED_CPU, UNSUPPORTED_OPTION, OUT_OF_MEMORY.
 */
edgeguard_status edgeguard_open(const char *path, size_t path_length, const edgeguard_options *options,
                                edgeguard_guard **out_guard);

/*
 * Classifies a prompt (response NULL), or a prompt and the response to it (then the verdict judges the response).
 * An empty text (length 0, pointer not NULL) is classified as empty. On failure *out_verdict is left untouched.
 * Errors: INVALID_ARGUMENT, INVALID_UTF8, CLOSED, INPUT_TOO_LONG, OUT_OF_MEMORY.
 */
edgeguard_status edgeguard_classify(edgeguard_guard *guard, const char *prompt, size_t prompt_length,
                                    const char *response, size_t response_length, edgeguard_verdict *out_verdict);

/*
 * Classifies count inputs together (windows of all inputs share model batches) and writes count verdicts to
 * out_verdicts, in input order. count 0 succeeds without reading the arrays. All or nothing: on failure (the
 * message names the first bad input's index) no verdict is written.
 * Errors: INVALID_ARGUMENT, INVALID_UTF8, CLOSED, INPUT_TOO_LONG, OUT_OF_MEMORY.
 */
edgeguard_status edgeguard_classify_batch(edgeguard_guard *guard, const edgeguard_input *inputs, size_t count,
                                          edgeguard_verdict *out_verdicts);

/* Describes the opened model (see edgeguard_model_info). Errors: INVALID_ARGUMENT, CLOSED. */
edgeguard_status edgeguard_get_model_info(edgeguard_guard *guard, edgeguard_model_info *info);

/*
 * Closes a guard: waits for calls in flight on it, then releases the model and every string the guard handed out.
 * Closing NULL succeeds and does nothing. Errors: CLOSED (already closed, or never opened).
 */
edgeguard_status edgeguard_close(edgeguard_guard *guard);

#ifdef __cplusplus
}
#endif

#endif /* EDGEGUARD_H */
