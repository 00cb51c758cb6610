/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Docker's data root, asked of the daemon: GET /info over its unix socket, field
 * DockerRootDir (Engine API, "System information"). The clog source's `docker_root: auto`
 * uses it so a host whose dockerd runs with --data-root elsewhere still has its json-file
 * logs found. Synchronous with a short timeout: it runs when a source is created (startup,
 * reload), never per event.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <jansson.h>

#include "../clog/clog_private.h"
#include "docker_private.h"

#define INFO_MAX (1u << 20) /* /info is a few KiB; more is not dockerd */

struct body {
    struct wk__cbuf buf;
    bool too_big;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
    struct body *b = user;
    size_t len = size * nmemb;
    if (b->buf.len + len > INFO_MAX) {
        b->too_big = true;
        return 0;
    }
    if (wk__cbuf_reserve(&b->buf, len) < 0)
        return 0;
    memcpy(b->buf.p + b->buf.len, data, len);
    b->buf.len += len;
    return len;
}

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void wk__docker_curl_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, curl_init_once);
}

int wk__docker_root_dir(const char *host, long timeout_ms, char *out, size_t outlen, char *why,
                        size_t whylen)
{
    if (!host || strncmp(host, "unix://", 7) != 0 || !host[7]) {
        snprintf(why, whylen,
                 "%s: not a unix:// socket (a remote daemon's data root is not "
                 "on this host)",
                 host ? host : "(none)");
        return -1;
    }
    wk__docker_curl_init();
    CURL *e = curl_easy_init();
    if (!e) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    struct body b = {0};
    char err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, host + 7);
    curl_easy_setopt(e, CURLOPT_URL, "http://localhost/info");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, err);
    CURLcode rc = curl_easy_perform(e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(e);
    int ret = -1;
    struct stat st;
    if (rc == CURLE_COULDNT_CONNECT && stat(host + 7, &st) < 0) {
        snprintf(why, whylen, "%s: %s", host + 7, strerror(errno));
    } else if (rc == CURLE_COULDNT_CONNECT) {
        snprintf(why, whylen, "%s: nobody answers (is dockerd running?)", host + 7);
    } else if (rc != CURLE_OK) {
        snprintf(why, whylen, "%s: GET /info: %s", host + 7,
                 b.too_big ? "answer over 1 MiB"
                 : *err    ? err
                           : curl_easy_strerror(rc));
    } else if (status != 200) {
        snprintf(why, whylen, "%s: GET /info: HTTP %ld", host + 7, status);
    } else {
        json_error_t jerr;
        json_t *o = json_loadb(b.buf.p ? b.buf.p : "", b.buf.len, 0, &jerr);
        const char *root = json_string_value(json_object_get(o, "DockerRootDir"));
        if (!root || root[0] != '/')
            snprintf(why, whylen, "%s: GET /info: no absolute DockerRootDir in the answer",
                     host + 7);
        else if (strlen(root) >= outlen)
            snprintf(why, whylen, "%s: DockerRootDir too long", host + 7);
        else {
            memcpy(out, root, strlen(root) + 1);
            ret = 0;
        }
        json_decref(o);
    }
    wk__cbuf_fini(&b.buf);
    return ret;
}

const char *wk__docker_default_host(void)
{
    const char *e = getenv("DOCKER_HOST");
    return e && *e ? e : "unix:///var/run/docker.sock";
}
