/*
 * herald_re2.h — a plain C interface to RE2 for the object filter's regexp.
 *
 * RE2 is a C++ library; this header keeps C++ out of the Swift modules: the
 * filter calls these four functions and never sees a C++ type. Every C++
 * exception is caught inside and turned into a status or a -1 result.
 *
 * SEMANTICS. Patterns and texts are UTF-8 with an explicit length (a NUL
 * byte is an ordinary byte). The options are fixed: RE2 syntax (not
 * posix_syntax), UTF-8 mode ('.' and classes match one code point),
 * case-sensitive unless the pattern says (?i), '.' also matches '\n'
 * (dot_nl), no capture groups are recorded (never_capture), nothing is
 * logged (log_errors false). Matching is a whole-text match: the pattern
 * must match the text from its first byte to its last.
 *
 * BOUNDS. RE2 runs in time linear in the text (no backtracking blow-up). It
 * refuses a repeat count over 1000, and nested repeats whose counts
 * multiply to over 1000. `max_mem` bounds the compiled program and the
 * match cache (RE2's DFA); a pattern whose program does not fit is refused
 * with HERALD_RE2_TOO_LARGE; a DFA that runs out of its share falls back to
 * RE2's NFA, still linear and within the budget.
 *
 * OWNERSHIP. What the caller passes is borrowed for the call. A handle from
 * herald_re2_compile belongs to the caller, who frees it exactly once with
 * herald_re2_free. Errors are written into the caller's buffer (`error`,
 * `error_size` at least 1 byte), NUL-terminated and truncated to fit.
 *
 * THREADS. herald_re2_full_match and herald_re2_program_size may be called
 * on one handle from any number of threads at once; herald_re2_free must
 * not overlap any other call on that handle.
 */
#ifndef HERALD_RE2_H
#define HERALD_RE2_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// A compiled pattern; opaque.
typedef struct herald_re2 herald_re2;

/// What herald_re2_compile found.
typedef enum herald_re2_status {
    /// Compiled; `*out` holds the handle.
    HERALD_RE2_OK = 0,
    /// The pattern is not valid RE2 syntax; `error` has RE2's explanation,
    /// e.g. "missing ): a(b".
    HERALD_RE2_INVALID = 1,
    /// A repeat count is over 1000, a range is inverted ({2,1}), or nested
    /// repeats multiply to over 1000 ((a{100}){20}).
    HERALD_RE2_REPEAT_SIZE = 2,
    /// The compiled program does not fit in `max_mem`.
    HERALD_RE2_TOO_LARGE = 3,
    /// Memory could not be allocated (std::bad_alloc).
    HERALD_RE2_NO_MEMORY = 4,
    /// Any other failure inside RE2 (an unexpected C++ exception).
    HERALD_RE2_INTERNAL = 5,
} herald_re2_status;

/// Compiles `pattern` (`pattern_len` bytes of UTF-8, borrowed).
///
/// - Parameters:
///   - max_mem: RE2's memory budget in bytes for this pattern (program and
///     match cache); must be positive.
///   - out: receives the handle on HERALD_RE2_OK, NULL otherwise.
///   - error, error_size: the explanation on any other status.
herald_re2_status herald_re2_compile(
    const char *pattern, size_t pattern_len, int64_t max_mem, herald_re2 **out, char *error, size_t error_size);

/// Whether the whole of `text` (`text_len` bytes, borrowed; NULL only with
/// length 0) matches: 1 yes, 0 no, -1 if RE2 failed (an allocation failure
/// or other C++ exception inside the match).
int herald_re2_full_match(const herald_re2 *re, const char *text, size_t text_len);

/// RE2's size of the compiled program (its instruction count, a proxy for
/// the pattern's cost).
int herald_re2_program_size(const herald_re2 *re);

/// Frees a handle from herald_re2_compile; NULL is ignored.
void herald_re2_free(herald_re2 *re);

#ifdef __cplusplus
}
#endif

#endif
