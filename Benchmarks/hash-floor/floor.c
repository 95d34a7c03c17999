// The hashing floor of one 50-layer evaluation, in C with the reference xxHash library: the 100
// XXH3-64 hashes (a layer salt and an experiment salt per layer, each with the separator byte and
// the unit id) and the bucket mapping, nothing else. The same keys as the Swift benchmark's hash
// floors (Benchmarks/AllotBenchmarks/EvaluationBenchmark.swift): salts `layer-N` and `exp-N-0`,
// ids `user-K` for 4,096 distinct units.
//   floor [N]   N operations (default 200,000); prints one JSON line.
#define XXH_INLINE_ALL
#include <xxhash.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv) {
    long count = argc > 1 ? atol(argv[1]) : 200000;
    char salts[100][32];
    size_t lengths[100];
    for (int layer = 0; layer < 50; layer++) {
        lengths[2 * layer] = (size_t)sprintf(salts[2 * layer], "layer-%d", layer);
        lengths[2 * layer + 1] = (size_t)sprintf(salts[2 * layer + 1], "exp-%d-0", layer);
    }
    char ids[4096][24];
    size_t idLengths[4096];
    for (int unit = 0; unit < 4096; unit++) idLengths[unit] = (size_t)sprintf(ids[unit], "user-%d", unit * 7919);

    unsigned long long sink = 0;
    char key[128];
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long op = 0; op < count; op++) {
        const char *id = ids[op & 4095];
        size_t idLength = idLengths[op & 4095];
        for (int s = 0; s < 100; s++) {
            memcpy(key, salts[s], lengths[s]);
            key[lengths[s]] = 0;
            memcpy(key + lengths[s] + 1, id, idLength);
            unsigned long long hash = XXH3_64bits(key, lengths[s] + 1 + idLength);
            sink += (unsigned long long)(((unsigned __int128)hash * 10000) >> 64);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    double ns = ((double)(end.tv_sec - start.tv_sec) * 1e9 + (double)(end.tv_nsec - start.tv_nsec)) / (double)count;
    printf("{\"name\":\"c_reference_xxh3_100_hashes\",\"ns_per_op\":%.1f,\"check\":%llu}\n", ns, sink % 1000);
    return 0;
}
