/* The escape probes' attempts file and output (esc-probe.c, esc-change.c): one attempt a line,
   tab-separated CLASS OP ARGS..., "#" comments; one JSON line per attempt, opening with its
   class, op and args (each probe adds its own fields), then {"done":true}. */
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

static int run_attempts(const WCHAR *path, void (*attempt)(WCHAR **f, int n))
{
    FILE *fp = _wfopen(path, L"rb");
    static char line[4096];
    if (!fp) return 2;
    while (fgets(line, sizeof line, fp)) {
        static WCHAR w[4096];
        WCHAR *f[16], *p;
        int n = 0, k = MultiByteToWideChar(CP_UTF8, 0, line, -1, w, 4096);
        if (k <= 1) continue;
        for (p = w + wcslen(w); p > w && (p[-1] == L'\n' || p[-1] == L'\r');) *--p = 0;
        if (!*w || *w == L'#') continue;
        f[n++] = w;
        for (p = w; *p && n < 16; p++)
            if (*p == L'\t') {
                *p = 0;
                f[n++] = p + 1;
            }
        if (n >= 2) attempt(f, n);
    }
    fclose(fp);
    printf("{\"done\":true}\n");
    return 0;
}
#endif
