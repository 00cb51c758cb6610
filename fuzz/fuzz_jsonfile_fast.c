/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target, differential: the json-file fast path against jansson. Whatever line the
 * fast path accepts, jansson must accept too and decode log/stream/time to the same bytes.
 * The input is also tried wrapped in the fixed shape, so the fuzzer explores the string
 * decoder (escapes, \uXXXX, surrogates, UTF-8) and not only the frame. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../collector/sources/clog/clog_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *line, size_t len)
{
    static struct wk__jf_rec a, b;
    int rf = wk__jsonfile_fast(line, len, &a);
    if (rf < 0)
        abort();
    if (rf == 0)
        return;
    const char *why = NULL;
    if (wk__jsonfile_slow(line, len, &b, &why) != 0)
        abort();
    if (a.log.len != b.log.len || memcmp(a.log.p, b.log.p, a.log.len) != 0 ||
        a.stream.len != b.stream.len || memcmp(a.stream.p, b.stream.p, a.stream.len) != 0 ||
        a.time.len != b.time.len || memcmp(a.time.p, b.time.p, a.time.len) != 0 || !b.has_stream ||
        !b.has_time || b.attrs)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check((const char *)data, size);
    static const char pre[] = "{\"log\":\"", post[] = "\",\"stream\":\"stdout\",\"time\":\"t\"}";
    char *w = malloc(size + sizeof(pre) + sizeof(post));
    if (!w)
        abort();
    memcpy(w, pre, sizeof(pre) - 1);
    memcpy(w + sizeof(pre) - 1, data, size);
    memcpy(w + sizeof(pre) - 1 + size, post, sizeof(post) - 1);
    check(w, size + sizeof(pre) - 1 + sizeof(post) - 1);
    free(w);
    return 0;
}
