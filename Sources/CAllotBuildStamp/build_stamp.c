#include "allot_build_stamp.h"

// The stamp lives in its own ELF section so the release script can find it by name and rewrite
// exactly these bytes in the linked binary (the build itself stays reproducible: the same sources
// give the same unstamped binary). `used` keeps it through dead stripping; the reads below are
// volatile so that the compiler cannot fold the all-zero initial value into the code.
__attribute__((section("allot_build_stamp"), used, aligned(16)))
volatile unsigned char allot_build_stamp_bytes[ALLOT_BUILD_STAMP_SIZE] = {0};

size_t allot_build_stamp_copy(unsigned char *buffer, size_t capacity) {
    size_t count = capacity < ALLOT_BUILD_STAMP_SIZE ? capacity : ALLOT_BUILD_STAMP_SIZE;
    for (size_t index = 0; index < count; index++) {
        buffer[index] = allot_build_stamp_bytes[index];
    }
    return count;
}
