/* nt-httpsrv [--group] URL...: an HTTP Server API (http.sys) service.
 * Registers each URL (e.g. http://+:8080/) on one request queue, with HttpAddUrl,
 * or with --group through the version 2 API (server session, URL group bound to a
 * request queue, HttpAddUrlToUrlGroup). Prints "listening <url> pid <pid>" per URL,
 * or "addurl-failed <url> <error>" and exits 3. Answers every GET with
 *   /size/N   N bytes of 'x' (for bench/network.ts)
 *   anything  "PID <pid> URL <full URL as http.sys reports it>\n" */
#include "nt.h"
#include <http.h>

static HANDLE queue;

static void respond(HTTP_REQUEST *req, const char *body, ULONG len)
{
    HTTP_RESPONSE resp;
    HTTP_DATA_CHUNK chunk;
    ULONG sent;
    memset(&resp, 0, sizeof resp);
    resp.StatusCode = 200;
    resp.pReason = "OK";
    resp.ReasonLength = 2;
    resp.Headers.KnownHeaders[HttpHeaderContentType].pRawValue = "text/plain";
    resp.Headers.KnownHeaders[HttpHeaderContentType].RawValueLength = 10;
    chunk.DataChunkType = HttpDataChunkFromMemory;
    chunk.FromMemory.pBuffer = (void *)body;
    chunk.FromMemory.BufferLength = len;
    resp.EntityChunkCount = 1;
    resp.pEntityChunks = &chunk;
    HttpSendHttpResponse(queue, req->RequestId, 0, &resp, NULL, &sent, NULL, 0, NULL, NULL);
}

int wmain(int argc, wchar_t **argv)
{
    HTTPAPI_VERSION v1 = HTTPAPI_VERSION_1, v2 = HTTPAPI_VERSION_2;
    static char reqbuf[16384], big[1 << 20];
    char out[1024], url[512];
    int i, group = argc > 1 && !wcscmp(argv[1], L"--group"), first = group ? 2 : 1;
    ULONG err;
    HTTP_SERVER_SESSION_ID session = 0;
    HTTP_URL_GROUP_ID gid = 0;
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc <= first) {
        printf("usage: nt-httpsrv [--group] URL...\n");
        return 2;
    }
    memset(big, 'x', sizeof big);
    if (group) {
        HTTP_BINDING_INFO bind;
        if ((err = HttpInitialize(v2, HTTP_INITIALIZE_SERVER, NULL)) || (err = HttpCreateServerSession(v2, &session, 0)) ||
            (err = HttpCreateUrlGroup(session, &gid, 0)) || (err = HttpCreateRequestQueue(v2, NULL, NULL, 0, &queue))) {
            printf("init-failed %lu\n", err);
            return 3;
        }
        memset(&bind, 0, sizeof bind);
        bind.Flags.Present = 1;
        bind.RequestQueueHandle = queue;
        if ((err = HttpSetUrlGroupProperty(gid, HttpServerBindingProperty, &bind, sizeof bind))) {
            printf("bind-queue-failed %lu\n", err);
            return 3;
        }
    } else if ((err = HttpInitialize(v1, HTTP_INITIALIZE_SERVER, NULL)) || (err = HttpCreateHttpHandle(&queue, 0))) {
        printf("init-failed %lu\n", err);
        return 3;
    }
    for (i = first; i < argc; i++) {
        wcstombs(url, argv[i], sizeof url);
        err = group ? HttpAddUrlToUrlGroup(gid, argv[i], 0, 0) : HttpAddUrl(queue, argv[i], NULL);
        if (err) {
            printf("addurl-failed %s %lu\n", url, err);
            return 3;
        }
        printf("listening %s pid %lu\n", url, GetCurrentProcessId());
    }
    for (;;) {
        HTTP_REQUEST *req = (HTTP_REQUEST *)reqbuf;
        ULONG got = 0;
        const char *path;
        err = HttpReceiveHttpRequest(queue, HTTP_NULL_ID, 0, req, sizeof reqbuf, &got, NULL);
        if (err) {
            printf("receive-failed %lu\n", err);
            return 4;
        }
        path = req->pRawUrl ? req->pRawUrl : "/";
        if (!strncmp(path, "/size/", 6)) {
            long n = atol(path + 6);
            respond(req, big, n < 0 ? 0 : n > (long)sizeof big ? (ULONG)sizeof big : (ULONG)n);
        } else {
            char full[512] = "";
            if (req->CookedUrl.pFullUrl) wcstombs(full, req->CookedUrl.pFullUrl, sizeof full - 1);
            respond(req, out, (ULONG)snprintf(out, sizeof out, "PID %lu URL %s\n", GetCurrentProcessId(), full));
        }
    }
}
