/*
 * Win32 error -> the protocol's error object: {op, code, message}.
 */
#include "agent.h"

#include <stdio.h>
#include <string.h>

/* FormatMessageW text, preferring US English so that messages do not
 * depend on the host's UI language; falls back to the default language. */
static DWORD system_message(DWORD code, WCHAR *buf, DWORD size)
{
    static const DWORD langs[] = {MAKELANGID(LANG_ENGLISH, SUBLANG_ENGLISH_US), 0};
    const DWORD flags = FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS;
    DWORD n = 0, i;

    for (i = 0; i < sizeof(langs) / sizeof(langs[0]) && !n; i++) n = FormatMessageW(flags, NULL, code, langs[i], buf, size, NULL);
    while (n && (buf[n - 1] == L'\r' || buf[n - 1] == L'\n' || buf[n - 1] == L' ')) n--;
    buf[n] = 0;
    return n;
}

void write_error(json_writer *w, const char *op, DWORD code, const char *detail)
{
    WCHAR text[2048];
    const DWORD cap = sizeof(text) / sizeof(text[0]);
    DWORD n = system_message(code, text, cap - 600);

    if (!n) n = (DWORD)swprintf(text, cap, L"Win32 error %lu", code);
    if (detail && *detail) {
        /* "message (detail)": the detail says which param or what parse error */
        size_t len = strlen(detail);
        if (len > 500) len = 500;
        text[n++] = L' ';
        text[n++] = L'(';
        n += (DWORD)json_utf8_to_utf16(detail, len, (uint16_t *)text + n, cap - n - 2);
        text[n++] = L')';
    }
    json_begin_object(w);
    json_key(w, "op");
    json_cstring(w, op ? op : "");
    json_key(w, "code");
    json_uint(w, code);
    json_key(w, "message");
    json_string16(w, (const uint16_t *)text, n);
    json_end_object(w);
}
