/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Alerts as JSON: the rule (with its author: the Detection Rule License asks every alert
 * from a SigmaHQ rule to carry the attribution), ATT&CK ids, the matching event or, for a
 * correlation, the group and the contributing events with their store references.
 */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "watchkeeper/event_json.h"
#include "watchkeeper/rule.h"
#include "watchkeeper/timefmt.h"

/* ---- a small JSON writer: the output is byte for byte what jansson's compact dump gives
 * (insertion order; escapes \" \\ \b \f \n \r \t, other controls as \u00XX), written
 * without building and sorting a second tree for every alert ---- */
struct jb {
    char *p;
    size_t n, cap;
    bool oom;
};

static void jb_put(struct jb *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

#define JB_LIT(b, s) jb_put(b, s, sizeof(s) - 1)

static void jb_str(struct jb *b, const char *s, size_t n)
{
    JB_LIT(b, "\"");
    size_t from = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        jb_put(b, s + from, i - from);
        from = i + 1;
        char esc[8];
        switch (c) {
        case '"': JB_LIT(b, "\\\""); break;
        case '\\': JB_LIT(b, "\\\\"); break;
        case '\b': JB_LIT(b, "\\b"); break;
        case '\f': JB_LIT(b, "\\f"); break;
        case '\n': JB_LIT(b, "\\n"); break;
        case '\r': JB_LIT(b, "\\r"); break;
        case '\t': JB_LIT(b, "\\t"); break;
        default:
            snprintf(esc, sizeof(esc), "\\u%04X", c);
            jb_put(b, esc, 6);
        }
    }
    jb_put(b, s + from, n - from);
    JB_LIT(b, "\"");
}

static void jb_key(struct jb *b, bool *first, const char *k)
{
    if (!*first)
        JB_LIT(b, ",");
    *first = false;
    jb_str(b, k, strlen(k));
    JB_LIT(b, ":");
}

static void jb_int(struct jb *b, long long v)
{
    char t[32];
    jb_put(b, t, (size_t)snprintf(t, sizeof(t), "%lld", v));
}

/* Anything else (reals) as jansson writes it. */
static void jb_dump_any(struct jb *b, const json_t *v)
{
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!t) {
        b->oom = true;
        return;
    }
    jb_put(b, t, strlen(t));
    free(t);
}

static void jb_json(struct jb *b, const json_t *v, int depth)
{
    if (depth > 64) {
        jb_dump_any(b, v);
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        bool first = true;
        JB_LIT(b, "{");
        for (void *it = json_object_iter((json_t *)v); it;
             it = json_object_iter_next((json_t *)v, it)) {
            if (!first)
                JB_LIT(b, ",");
            first = false;
            const char *k = json_object_iter_key(it);
            jb_str(b, k, json_object_iter_key_len(it));
            JB_LIT(b, ":");
            jb_json(b, json_object_iter_value(it), depth + 1);
        }
        JB_LIT(b, "}");
        break;
    }
    case JSON_ARRAY:
        JB_LIT(b, "[");
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                JB_LIT(b, ",");
            jb_json(b, json_array_get(v, i), depth + 1);
        }
        JB_LIT(b, "]");
        break;
    case JSON_STRING:
        jb_str(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        jb_int(b, (long long)json_integer_value(v));
        break;
    case JSON_TRUE: JB_LIT(b, "true"); break;
    case JSON_FALSE: JB_LIT(b, "false"); break;
    case JSON_NULL: JB_LIT(b, "null"); break;
    default:
        jb_dump_any(b, v);
    }
}

static void jb_opt(struct jb *b, bool *first, const char *k, const char *v)
{
    if (v) {
        jb_key(b, first, k);
        jb_str(b, v, strlen(v));
    }
}

int wk_alert_to_json(const struct wk_alert *a, char **out, size_t *len)
{
    struct jb b = { 0 };
    bool first = true, rfirst = true;
    char tbuf[64];
    wk_time_format(a->ts, tbuf);
    JB_LIT(&b, "{");
    jb_opt(&b, &first, "@timestamp", tbuf);
    jb_key(&b, &first, "rule");
    JB_LIT(&b, "{");
    const struct wk_rule_info *in = a->info;
    jb_opt(&b, &rfirst, "id", in->id);
    jb_opt(&b, &rfirst, "name", in->name);
    jb_opt(&b, &rfirst, "title", in->title);
    jb_opt(&b, &rfirst, "level", in->level);
    jb_opt(&b, &rfirst, "status", in->status);
    jb_opt(&b, &rfirst, "type", in->is_correlation ? in->corr_type : "detection");
    jb_key(&b, &rfirst, "tags");
    JB_LIT(&b, "[");
    for (size_t i = 0; i < in->ntags; i++) {
        if (i)
            JB_LIT(&b, ",");
        jb_str(&b, in->tags[i], strlen(in->tags[i]));
    }
    JB_LIT(&b, "]");
    jb_key(&b, &rfirst, "attack");
    json_t *att = a->attack ? json_loads(a->attack, 0, NULL) : NULL;
    if (att)
        jb_json(&b, att, 0);
    else
        JB_LIT(&b, "[]");
    json_decref(att);
    jb_opt(&b, &rfirst, "author", in->author);
    jb_opt(&b, &rfirst, "license", in->license);
    jb_opt(&b, &rfirst, "file", in->file);
    JB_LIT(&b, "}");
    if (a->group) {
        json_t *g = json_loads(a->group, 0, NULL);
        jb_key(&b, &first, "group");
        if (g)
            jb_json(&b, g, 0);
        else
            JB_LIT(&b, "null");
        json_decref(g);
        json_t *v = json_real(a->value);
        jb_key(&b, &first, "value");
        if (v)
            jb_dump_any(&b, v);
        else
            b.oom = true;
        json_decref(v);
        jb_key(&b, &first, "contributing");
        JB_LIT(&b, "[");
        for (size_t i = 0; i < a->ncontrib; i++) {
            bool cf = true;
            if (i)
                JB_LIT(&b, ",");
            JB_LIT(&b, "{");
            wk_time_format(a->contrib[i].ts, tbuf);
            jb_opt(&b, &cf, "@timestamp", tbuf);
            jb_key(&b, &cf, "ref");
            jb_int(&b, (long long)a->contrib[i].ref);
            jb_key(&b, &cf, "rule");
            jb_int(&b, (long long)a->contrib[i].rule);
            JB_LIT(&b, "}");
        }
        JB_LIT(&b, "]");
    }
    if (a->record) {
        jb_key(&b, &first, "record");
        jb_int(&b, (long long)a->record);
    }
    if (a->ref) {
        jb_key(&b, &first, "ref");
        jb_int(&b, (long long)a->ref);
    }
    if (a->event) {
        json_t *ev = wk_event_to_jansson(a->event);
        if (ev) {
            jb_key(&b, &first, "event");
            jb_json(&b, ev, 0);
            json_decref(ev);
        }
    }
    JB_LIT(&b, "}");
    if (b.oom) {
        free(b.p);
        *out = NULL;
        return -ENOMEM;
    }
    *out = b.p;
    if (len)
        *len = b.n;
    return 0;
}
