/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Alerts as JSON: the rule (with its author: the Detection Rule License asks every alert
 * from a SigmaHQ rule to carry the attribution), ATT&CK ids, the matching event or, for a
 * correlation, the group and the contributing events with their store references.
 */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "watchkeeper/event_json.h"
#include "watchkeeper/rule.h"
#include "watchkeeper/timefmt.h"

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v)
        json_object_set_new(o, k, json_string(v));
}

int wk_alert_to_json(const struct wk_alert *a, char **out, size_t *len)
{
    json_t *o = json_object(), *r = json_object();
    if (!o || !r) {
        json_decref(o);
        json_decref(r);
        return -ENOMEM;
    }
    char tbuf[64];
    wk_time_format(a->ts, tbuf);
    json_object_set_new(o, "@timestamp", json_string(tbuf));
    const struct wk_rule_info *in = a->info;
    set_str(r, "id", in->id);
    set_str(r, "name", in->name);
    set_str(r, "title", in->title);
    set_str(r, "level", in->level);
    set_str(r, "status", in->status);
    set_str(r, "type", in->is_correlation ? in->corr_type : "detection");
    json_t *tags = json_array();
    for (size_t i = 0; i < in->ntags; i++)
        json_array_append_new(tags, json_string(in->tags[i]));
    json_object_set_new(r, "tags", tags);
    json_t *att = a->attack ? json_loads(a->attack, 0, NULL) : NULL;
    json_object_set_new(r, "attack", att ? att : json_array());
    set_str(r, "author", in->author);
    set_str(r, "license", in->license);
    set_str(r, "file", in->file);
    json_object_set_new(o, "rule", r);
    if (a->group) {
        json_t *g = json_loads(a->group, 0, NULL);
        json_object_set_new(o, "group", g ? g : json_null());
        json_object_set_new(o, "value", json_real(a->value));
        json_t *ev = json_array();
        for (size_t i = 0; i < a->ncontrib; i++) {
            wk_time_format(a->contrib[i].ts, tbuf);
            json_array_append_new(ev, json_pack("{s:s,s:I,s:I}", "@timestamp", tbuf, "ref",
                                                (json_int_t)a->contrib[i].ref, "rule",
                                                (json_int_t)a->contrib[i].rule));
        }
        json_object_set_new(o, "contributing", ev);
    }
    if (a->record)
        json_object_set_new(o, "record", json_integer(a->record));
    if (a->ref)
        json_object_set_new(o, "ref", json_integer((json_int_t)a->ref));
    if (a->event) {
        json_t *ev = wk_event_to_jansson(a->event);
        if (ev)
            json_object_set_new(o, "event", ev);
    }
    *out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!*out)
        return -ENOMEM;
    if (len)
        *len = strlen(*out);
    return 0;
}
