#ifndef ALLOT_BUILD_STAMP_H
#define ALLOT_BUILD_STAMP_H

#include <stddef.h>

/// The size of the build stamp: the ELF section `allot_build_stamp` is exactly this long.
#define ALLOT_BUILD_STAMP_SIZE 256

/// Copies the build stamp into `buffer` (at most `capacity` bytes) and returns how many bytes were
/// copied. A build that was not stamped holds only zero bytes; `ops/deploy/stamp-build.py` writes
/// `key=value` lines (commit, date) into a release binary's section, after linking.
size_t allot_build_stamp_copy(unsigned char *buffer, size_t capacity);

#endif
