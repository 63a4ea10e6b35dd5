/* glibc's allocator controls (malloc_trim, mallinfo2), which Swift's Glibc module does not export. */
#include <malloc.h>
