/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: any bytes through wk_event_from_json; what parses, the direct writer
 * (core/jsonw.c) must write byte for byte as wk_event_to_json does, or refuse the same. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "watchkeeper/event.h"
#include "watchkeeper/event_json.h"
#include "watchkeeper/jsonw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct wk_event *ev;
    static struct wk_jsonw w;
    if (!ev && wk_event_new(&ev) < 0)
        abort();
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
