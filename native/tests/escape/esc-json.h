/* The escape probes' output: one JSON line per attempt, opening with its class, op and args
   (esc-probe.c and esc-change.c add their own fields and close the line). */
#ifndef ESC_JSON_H
#define ESC_JSON_H
#include <stdio.h>
#include <wchar.h>

static void jstr(const WCHAR *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == L'"' || *s == L'\\')
            printf("\\%c", (char)*s);
        else if (*s < 0x20 || *s >= 0x7f)
            printf("\\u%04x", *s);
        else
            putchar((char)*s);
    }
    putchar('"');
}

static void report_head(WCHAR **f, int n)
{
    int i;
    printf("{\"class\":");
    jstr(f[0]);
    printf(",\"op\":");
    jstr(f[1]);
    printf(",\"args\":[");
    for (i = 2; i < n; i++) {
        if (i > 2) putchar(',');
        jstr(f[i]);
    }
    putchar(']');
}
#endif
