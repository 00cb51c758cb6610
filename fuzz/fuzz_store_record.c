/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: any bytes as a store record body (what a block holds per event) and as a
 * block of record format 2. A decoded record must re-encode and decode to an equal event;
 * anything else must be refused with an error, never read out of bounds (a forged block
 * must not crash a reader). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "store/store_private.h"
#include "watchkeeper/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct wk_event *ev, *back;
    static struct wk__buf buf;
    if (!ev && (wk_event_new(&ev) < 0 || wk_event_new(&back) < 0))
        abort();
    /* The same bytes as a block's record sequence. */
    size_t pos = 0, blen;
    const uint8_t *body;
    while (wk__store_next_record(data, size, &pos, &body, &blen) == 1)
        (void)wk__store_decode(body, blen, ev);
    /* The same bytes as a format-2 block (shape table + records). */
    static struct wk__blkview view;
    if (wk__blkview_open(&view, WK__BLK_FORMAT2, data, size) == 0) {
        int64_t ts;
        while (wk__blkview_next(&view, &body, &blen, &ts) == 1)
            (void)wk__blkview_decode(&view, body, blen, ts, ev);
    }
    if (wk__store_decode(data, size, ev) < 0)
        return 0;
    buf.len = 0;
    if (wk__store_encode(&buf, ev) < 0)
        abort();
    if (wk__store_decode(buf.p, buf.len, back) < 0 || !wk_event_equal(ev, back))
        abort();
    return 0;
}
