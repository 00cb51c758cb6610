/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: any bytes through wk_event_from_json; what parses, the direct writer
 * (core/jsonw.c) must write byte for byte as wk_event_to_json does, or refuse the same.
 * The bytes themselves as a JSON string: wk_jsonw_str (16/8 bytes at a time) against a
 * byte-by-byte writer. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "watchkeeper/event.h"
#include "watchkeeper/event_json.h"
#include "watchkeeper/jsonw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void str_vs_slow(struct wk_jsonw *w, const uint8_t *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    char *want = malloc(6 * n + 3);
    if (!want)
        abort();
    size_t k = 0;
    want[k++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned c = s[i];
        char e = c == '"' ? '"' : c == '\\' ? '\\' : c == '\b' ? 'b' : c == '\f' ? 'f'
               : c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : 0;
        if (e) {
            want[k++] = '\\';
            want[k++] = e;
        } else if (c < 0x20) {
            memcpy(want + k, "\\u00", 4);
            want[k + 4] = hex[c >> 4];
            want[k + 5] = hex[c & 15];
            k += 6;
        } else {
            want[k++] = (char)c;
        }
    }
    want[k++] = '"';
    wk_jsonw_reset(w);
    wk_jsonw_put(w, "x", n % 2); /* an odd start too */
    wk_jsonw_str(w, (const char *)s, n);
    if (w->oom || w->len != k + n % 2 || memcmp(w->p + n % 2, want, k) != 0)
        abort();
    free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct wk_event *ev;
    static struct wk_jsonw w;
    if (!ev && wk_event_new(&ev) < 0)
        abort();
    str_vs_slow(&w, data, size);
    if (wk_event_from_json(ev, (const char *)data, size, NULL) < 0)
        return 0;
    char *json = NULL;
    size_t len = 0;
    int a = wk_event_to_json(ev, &json, &len);
    wk_jsonw_reset(&w);
    int b = wk_jsonw_event(&w, ev);
    if (a != b || (a == 0 && (w.len != len || memcmp(w.p, json, len) != 0)))
        abort();
    free(json);
    return 0;
}
