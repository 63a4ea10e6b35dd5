// The C interface to RE2 declared in include/herald_re2.h. No exception leaves this file.

#include "herald_re2.h"

#include <re2/re2.h>

#include <cstring>
#include <exception>
#include <new>

struct herald_re2 {
    re2::RE2 regex;

    herald_re2(re2::StringPiece pattern, const re2::RE2::Options &options) : regex(pattern, options) {}
};

namespace {

void write_error(char *error, size_t error_size, const char *text) {
    if (error == nullptr || error_size == 0) {
        return;
    }
    size_t length = std::strlen(text);
    if (length >= error_size) {
        length = error_size - 1;
    }
    std::memcpy(error, text, length);
    error[length] = '\0';
}

herald_re2_status status_of(re2::RE2::ErrorCode code) {
    switch (code) {
    case re2::RE2::NoError:
        return HERALD_RE2_OK;
    case re2::RE2::ErrorRepeatSize:
        return HERALD_RE2_REPEAT_SIZE;
    case re2::RE2::ErrorPatternTooLarge:
        return HERALD_RE2_TOO_LARGE;
    case re2::RE2::ErrorInternal:
        return HERALD_RE2_INTERNAL;
    default:
        return HERALD_RE2_INVALID;
    }
}

}  // namespace

extern "C" herald_re2_status herald_re2_compile(
    const char *pattern, size_t pattern_len, int64_t max_mem, herald_re2 **out, char *error, size_t error_size) {
    *out = nullptr;
    write_error(error, error_size, "");
    if (max_mem <= 0) {
        write_error(error, error_size, "max_mem must be positive");
        return HERALD_RE2_INTERNAL;
    }
    try {
        re2::RE2::Options options;
        options.set_encoding(re2::RE2::Options::EncodingUTF8);
        options.set_posix_syntax(false);
        options.set_case_sensitive(true);
        options.set_dot_nl(true);
        options.set_never_capture(true);
        options.set_log_errors(false);
        options.set_max_mem(max_mem);
        herald_re2 *compiled =
            new herald_re2(re2::StringPiece(pattern_len == 0 ? "" : pattern, pattern_len), options);
        if (!compiled->regex.ok()) {
            herald_re2_status status = status_of(compiled->regex.error_code());
            write_error(error, error_size, compiled->regex.error().c_str());
            delete compiled;
            return status == HERALD_RE2_OK ? HERALD_RE2_INTERNAL : status;
        }
        *out = compiled;
        return HERALD_RE2_OK;
    } catch (const std::bad_alloc &) {
        write_error(error, error_size, "out of memory while compiling the pattern");
        return HERALD_RE2_NO_MEMORY;
    } catch (const std::exception &e) {
        write_error(error, error_size, e.what());
        return HERALD_RE2_INTERNAL;
    } catch (...) {
        write_error(error, error_size, "unknown C++ exception while compiling the pattern");
        return HERALD_RE2_INTERNAL;
    }
}

extern "C" int herald_re2_full_match(const herald_re2 *re, const char *text, size_t text_len) {
    try {
        re2::StringPiece subject(text_len == 0 ? "" : text, text_len);
        return re->regex.Match(subject, 0, subject.size(), re2::RE2::ANCHOR_BOTH, nullptr, 0) ? 1 : 0;
    } catch (...) {
        return -1;
    }
}

extern "C" int herald_re2_program_size(const herald_re2 *re) {
    try {
        return re->regex.ProgramSize();
    } catch (...) {
        return -1;
    }
}

extern "C" void herald_re2_free(herald_re2 *re) {
    try {
        delete re;
    } catch (...) {
    }
}
