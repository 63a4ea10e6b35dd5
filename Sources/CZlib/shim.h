#include <zlib.h>

/* inflateInit2 is a macro: a function Swift can call (gzip compression is libdeflate's: CLibDeflate). */
static inline int herald_inflate_init_gzip(z_stream *stream) {
    return inflateInit2(stream, 15 + 16);
}
