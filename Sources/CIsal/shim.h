#include <isa-l/igzip_lib.h>

/* The level buffer sizes are macros Swift cannot import: the "small" size of each level (enough for
   message bodies; larger inputs are compressed in more blocks, still one gzip member). */
static inline unsigned int herald_isal_level_buffer_size(unsigned int level) {
    switch (level) {
    case 1: return ISAL_DEF_LVL1_SMALL;
    case 2: return ISAL_DEF_LVL2_SMALL;
    case 3: return ISAL_DEF_LVL3_SMALL;
    default: return ISAL_DEF_LVL0_DEFAULT;
    }
}
