// Counts heap allocations, for the benchmarks' allocations-per-operation figures.
// Built by Benchmarks/run.sh and loaded with LD_PRELOAD; the benchmark finds
// allot_malloc_count with dlsym and reports zero counts only when the shim is present.
#define _GNU_SOURCE
#include <stddef.h>
#include <stdatomic.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_ulong count;

unsigned long allot_malloc_count(void) { return atomic_load(&count); }

void *malloc(size_t size) { atomic_fetch_add(&count, 1); return __libc_malloc(size); }
void *calloc(size_t n, size_t size) { atomic_fetch_add(&count, 1); return __libc_calloc(n, size); }
void *realloc(void *p, size_t size) { atomic_fetch_add(&count, 1); return __libc_realloc(p, size); }
int posix_memalign(void **out, size_t alignment, size_t size) {
    atomic_fetch_add(&count, 1);
    void *p = __libc_memalign(alignment, size);
    if (!p) return 12;
    *out = p;
    return 0;
}
void *aligned_alloc(size_t alignment, size_t size) { atomic_fetch_add(&count, 1); return __libc_memalign(alignment, size); }

// With ALLOT_MALLOC_COUNT_REPORT=path set, the total is written to that file at exit, for
// Benchmarks/check-thresholds.sh (two runs that differ by 10,000 operations: the difference is
// the operations' own allocations).
#include <stdio.h>
#include <stdlib.h>
__attribute__((destructor)) static void report_count(void) {
    const char *path = getenv("ALLOT_MALLOC_COUNT_REPORT");
    if (!path) return;
    FILE *file = fopen(path, "w");
    if (!file) return;
    fprintf(file, "%lu\n", atomic_load(&count));
    fclose(file);
}
