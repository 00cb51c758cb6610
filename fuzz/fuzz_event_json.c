/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: any bytes through wk_event_from_json; what parses must serialise, re-parse
 * and compare equal. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "watchkeeper/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct wk_event *ev, *back;
    if (!ev && (wk_event_new(&ev) < 0 || wk_event_new(&back) < 0))
        abort();
    if (wk_event_from_json(ev, (const char *)data, size, NULL) < 0)
        return 0;
    char *json = NULL;
    size_t len = 0;
    if (wk_event_to_json(ev, &json, &len) < 0)
        abort();
    if (wk_event_from_json(back, json, len, NULL) < 0 || !wk_event_equal(ev, back))
        abort();
    free(json);
    return 0;
}
