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

#include "sigma_private.h"
#include "watchkeeper/jsonw.h"
#include "watchkeeper/rule.h"

/* The alert is written with core/jsonw.c's writer (jansson's compact bytes, without a
 * jansson tree per alert); its event is wk_jsonw_event: the event's JSON form, exactly as
 * `query` prints it. */
#define JB_LIT(w, s) wk_jsonw_put(w, s, sizeof(s) - 1)

/* `,"k":` (no comma for the first member) of a literal key: nothing in it to escape, one
 * put of a literal made at compile time. */
#define jb_key(w, first, k) jb_key_(w, first, ",\"" k "\":", sizeof(",\"" k "\":") - 1)
#define jb_opt(w, first, k, v) jb_opt_(w, first, ",\"" k "\":", sizeof(",\"" k "\":") - 1, v)

static void jb_key_(struct wk_jsonw *w, bool *first, const char *lit, size_t n)
{
    if (*first)
        lit++, n--;
    *first = false;
    wk_jsonw_put(w, lit, n);
}

/* A parsed value (group, a reparsed ATT&CK list, the correlation's value) as jansson
 * writes it. */
static void jb_dump(struct wk_jsonw *w, const json_t *v)
{
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!t) {
        w->oom = true;
        return;
    }
    wk_jsonw_put(w, t, strlen(t));
    free(t);
}

/* Append `"event":{...}`; nothing when the event has no JSON form (wk_event_to_json
 * refuses it: a pointer over 4 KiB, a JSON value that does not parse). */
static void jb_event(struct wk_jsonw *w, bool *first, const struct wk_event *ev)
{
    size_t at = w->len;
    bool was_first = *first;
    jb_key(w, first, "event");
    if (wk_jsonw_event(w, ev) < 0 && !w->oom) {
        w->len = at;
        w->p[at] = '\0';
        *first = was_first;
    }
}

static void jb_opt_(struct wk_jsonw *w, bool *first, const char *lit, size_t n, const char *v)
{
    if (v) {
        jb_key_(w, first, lit, n);
        wk_jsonw_str(w, v, strlen(v));
    }
}

/* An ATT&CK list as compile.c writes it: [] or ["T1234","T1059.004"] (ids of digits and
 * dots), which the parse-and-dump round trip would give back byte for byte. */
static bool attack_plain(const char *s)
{
    if (!s || *s++ != '[')
        return false;
    if (*s == ']')
        return s[1] == '\0';
    for (;;) {
        if (*s++ != '"' || *s++ != 'T' || !(*s >= '0' && *s <= '9'))
            return false;
        while ((*s >= '0' && *s <= '9') || *s == '.')
            s++;
        if (*s++ != '"')
            return false;
        if (*s == ']')
            return s[1] == '\0';
        if (*s++ != ',')
            return false;
    }
}

/* The "rule" object: the rule's fields and its ATT&CK ids. */
static void jb_rule(struct wk_jsonw *w, const struct wk_rule_info *in, const char *attack)
{
    bool rfirst = true;
    JB_LIT(w, "{");
    jb_opt(w, &rfirst, "id", in->id);
    jb_opt(w, &rfirst, "name", in->name);
    jb_opt(w, &rfirst, "title", in->title);
    jb_opt(w, &rfirst, "level", in->level);
    jb_opt(w, &rfirst, "status", in->status);
    jb_opt(w, &rfirst, "type", in->is_correlation ? in->corr_type : "detection");
    jb_key(w, &rfirst, "tags");
    JB_LIT(w, "[");
    for (size_t i = 0; i < in->ntags; i++) {
        if (i)
            JB_LIT(w, ",");
        wk_jsonw_str(w, in->tags[i], strlen(in->tags[i]));
    }
    JB_LIT(w, "]");
    jb_key(w, &rfirst, "attack");
    if (attack_plain(attack)) { /* compile.c's form: already what jansson would write */
        wk_jsonw_put(w, attack, strlen(attack));
    } else {
        json_t *att = attack ? json_loads(attack, 0, NULL) : NULL;
        if (att)
            jb_dump(w, att);
        else
            JB_LIT(w, "[]");
        json_decref(att);
    }
    jb_opt(w, &rfirst, "author", in->author);
    jb_opt(w, &rfirst, "license", in->license);
    jb_opt(w, &rfirst, "file", in->file);
    JB_LIT(w, "}");
}

int wk__alert_rule_json(const struct wk_rule_info *in, const char *attack, char **out,
                        size_t *len)
{
    struct wk_jsonw w;
    wk_jsonw_init(&w);
    jb_rule(&w, in, attack);
    if (w.oom || !w.p) {
        wk_jsonw_fini(&w);
        *out = NULL;
        return -ENOMEM;
    }
    *out = w.p;
    *len = w.len;
    w.p = NULL;
    wk_jsonw_fini(&w);
    return 0;
}

int wk_alert_to_jsonw(const struct wk_alert *a, struct wk_jsonw *w)
{
    bool first = true;
    JB_LIT(w, "{");
    jb_key(w, &first, "@timestamp");
    wk_jsonw_time(w, a->ts);
    jb_key(w, &first, "rule");
    if (a->rule_json)
        wk_jsonw_put(w, a->rule_json, a->rule_json_len);
    else
        jb_rule(w, a->info, a->attack);
    if (a->group) {
        json_t *g = json_loads(a->group, 0, NULL);
        jb_key(w, &first, "group");
        if (g)
            jb_dump(w, g);
        else
            JB_LIT(w, "null");
        json_decref(g);
        json_t *v = json_real(a->value);
        jb_key(w, &first, "value");
        if (v)
            jb_dump(w, v);
        else
            w->oom = true;
        json_decref(v);
        jb_key(w, &first, "contributing");
        JB_LIT(w, "[");
        for (size_t i = 0; i < a->ncontrib; i++) {
            bool cf = true;
            if (i)
                JB_LIT(w, ",");
            JB_LIT(w, "{");
            jb_key(w, &cf, "@timestamp");
            wk_jsonw_time(w, a->contrib[i].ts);
            jb_key(w, &cf, "ref");
            wk_jsonw_int(w, (int64_t)a->contrib[i].ref);
            jb_key(w, &cf, "rule");
            wk_jsonw_int(w, (int64_t)a->contrib[i].rule);
            JB_LIT(w, "}");
        }
        JB_LIT(w, "]");
    }
    if (a->record) {
        jb_key(w, &first, "record");
        wk_jsonw_int(w, (int64_t)a->record);
    }
    if (a->ref) {
        jb_key(w, &first, "ref");
        wk_jsonw_int(w, (int64_t)a->ref);
    }
    if (a->event)
        jb_event(w, &first, a->event);
    JB_LIT(w, "}");
    return w->oom || !w->p ? -ENOMEM : 0;
}

int wk_alert_to_json(const struct wk_alert *a, char **out, size_t *len)
{
    struct wk_jsonw b;
    wk_jsonw_init(&b);
    if (wk_alert_to_jsonw(a, &b) < 0) {
        wk_jsonw_fini(&b);
        *out = NULL;
        return -ENOMEM;
    }
    *out = b.p;
    if (len)
        *len = b.len;
    b.p = NULL; /* handed over; the event's scratch is freed */
    wk_jsonw_fini(&b);
    return 0;
}
