/* Timing for the benchmark programs (svcdup-fbench, vt-bench, the network programs):
   QueryPerformanceCounter in microseconds, and a median, which shrugs off the noise of a
   shared machine better than a mean. Header-only: each program is one .c file. */
#ifndef SVCDUP_TESTS_TIMING_H
#define SVCDUP_TESTS_TIMING_H
#include <windows.h>
#include <stdlib.h>

static __attribute__((unused)) double now_us(void)
{
    static LARGE_INTEGER f;
    LARGE_INTEGER c;
    if (!f.QuadPart) QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&c);
    return (double)c.QuadPart * 1e6 / (double)f.QuadPart;
}

static int timing_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of v[0..n) (sorts v). */
static __attribute__((unused)) double median(double *v, int n)
{
    qsort(v, n, sizeof *v, timing_cmp);
    return v[n / 2];
}
#endif
