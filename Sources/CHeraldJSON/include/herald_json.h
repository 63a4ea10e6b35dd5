#ifndef HERALD_JSON_H
#define HERALD_JSON_H

#include <stddef.h>
#include <stdint.h>

/// The number of bytes at the start of `p` (at most `n`) that a JSON string holds as they are: none is a quote, a
/// backslash, a control character (below 0x20) or a non-ASCII byte. The JSON reader skips and copies such runs
/// without looking at each byte; SSE2 where the machine has it (16 bytes per step), a byte loop elsewhere.
size_t herald_json_plain_prefix(const uint8_t *p, size_t n);

#endif
