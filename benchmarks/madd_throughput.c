/* Throughput of the three 512-bit integer multiply-add instructions an int8 product can be built from, on this core:
 * ten independent chains of each, so latency does not limit them. docs/performance.md turns the result into the
 * bound of each int8 kernel (products per cycle). The clock comes first, from a chain of dependent adds (one per
 * cycle). Build and run:
 *   gcc -O2 -mavx512bw -mavx512vnni benchmarks/madd_throughput.c -o madd_throughput && ./madd_throughput */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

#define CHAINS(op)                                                                                                    \
    do {                                                                                                              \
        r0 = op(r0); r1 = op(r1); r2 = op(r2); r3 = op(r3); r4 = op(r4);                                              \
        r5 = op(r5); r6 = op(r6); r7 = op(r7); r8 = op(r8); r9 = op(r9);                                              \
        __asm__ volatile("" : "+v"(r0), "+v"(r1), "+v"(r2), "+v"(r3), "+v"(r4), "+v"(r5), "+v"(r6), "+v"(r7),       \
                         "+v"(r8), "+v"(r9));                                                                         \
    } while (0)

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    const long n = 200000000L;
    unsigned long x = 0;
    double start = seconds();
    for (long i = 0; i < 10 * n; i++) {
        __asm__ volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0" : "+r"(x));
    }
    double ghz = 4.0 * 10 * n / (seconds() - start) / 1e9;
    printf("clock (dependent adds) %.2f GHz\n", ghz);
    __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(5);
    __m512i r0 = a, r1 = a, r2 = a, r3 = a, r4 = a, r5 = a, r6 = a, r7 = a, r8 = a, r9 = a;
#define MADDUBS(r) _mm512_maddubs_epi16(r, b)
#define MADDWD(r) _mm512_madd_epi16(r, b)
#define DPBUSD(r) _mm512_dpbusd_epi32(r, a, b)
    const char *names[] = {"vpmaddubsw zmm", "vpmaddwd zmm", "vpdpbusd zmm"};
    for (int kind = 0; kind < 3; kind++) {
        double start = seconds();
        for (long i = 0; i < n; i++) {
            if (kind == 0) CHAINS(MADDUBS);
            else if (kind == 1) CHAINS(MADDWD);
            else CHAINS(DPBUSD);
        }
        double rate = 10.0 * n / (seconds() - start);
        printf("%-15s %.2f G/s", names[kind], rate / 1e9);
        printf("  %.2f per cycle\n", rate / (ghz * 1e9));
    }
    int out[16];
    __m512i sum = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(r0, r1), _mm512_add_epi32(r2, r3)),
                                   _mm512_add_epi32(_mm512_add_epi32(r4, r5), _mm512_add_epi32(_mm512_add_epi32(r6, r7), _mm512_add_epi32(r8, r9))));
    _mm512_storeu_si512(out, sum);
    return out[0] == 42 && x == 0 ? 1 : 0; /* keeps the chains live */
}
