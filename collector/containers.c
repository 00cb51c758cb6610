/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The container table (include/watchkeeper/containers.h): entries filled from Docker
 * inspection, looked up by id or name, exported/imported as JSON for the store, and
 * applied to events as container.* and docker.container.* fields.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "watchkeeper/containers.h"
#include "watchkeeper/error.h"
#include "watchkeeper/mem.h"

struct wk_containers {
    struct wk_container **v;
    size_t n, cap;
};

static struct wk_containers *shared;

struct wk_containers *wk_containers_shared(void)
{
    if (!shared && wk_containers_new(&shared) < 0)
        return NULL;
    return shared;
}

void wk_containers_shared_free(void)
{
    shared = wk_containers_free(shared);
}

int wk_containers_new(struct wk_containers **out)
{
    *out = wk_new0(struct wk_containers, 1);
    return *out ? 0 : -ENOMEM;
}

static void entry_free(struct wk_container *c)
{
    if (!c)
        return;
    free(c->name);
    free(c->image);
    free(c->image_id);
    free(c->pod);
    free(c->namespace_);
    free(c->log_path);
    json_decref(c->labels);
    json_decref(c->facts);
    free(c);
}

struct wk_containers *wk_containers_free(struct wk_containers *t)
{
    if (!t)
        return NULL;
    for (size_t i = 0; i < t->n; i++)
        entry_free(t->v[i]);
    free(t->v);
    free(t);
    return NULL;
}

size_t wk_containers_count(const struct wk_containers *t)
{
    return t->n;
}

struct wk_container *wk_containers_at(const struct wk_containers *t, size_t i)
{
    return i < t->n ? t->v[i] : NULL;
}

static bool is_hex(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

struct wk_container *wk_containers_get(const struct wk_containers *t, const char *id, size_t len)
{
    if (!t || !id || len > 64 || len < 12 || !is_hex(id, len))
        return NULL;
    struct wk_container *found = NULL;
    for (size_t i = 0; i < t->n; i++) {
        if (memcmp(t->v[i]->id, id, len) == 0) {
            if (len == 64)
                return t->v[i];
            if (found)
                return NULL; /* ambiguous prefix */
            found = t->v[i];
        }
    }
    return found;
}

struct wk_container *wk_containers_find_name(const struct wk_containers *t, const char *name)
{
    if (!t || !name)
        return NULL;
    if (name[0] == '/')
        name++;
    struct wk_container *found = NULL;
    for (size_t i = 0; i < t->n; i++) {
        struct wk_container *c = t->v[i];
        if (c->name && strcmp(c->name, name) == 0) {
            if (!c->removed)
                return c;
            if (!found || c->last_seen > found->last_seen)
                found = c;
        }
    }
    return found;
}

struct wk_container *wk_containers_upsert(struct wk_containers *t, const char *id, int64_t now)
{
    if (!id || strlen(id) != 64 || !is_hex(id, 64))
        return NULL;
    struct wk_container *c = wk_containers_get(t, id, 64);
    if (c) {
        if (now > c->last_seen)
            c->last_seen = now;
        return c;
    }
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 16;
        struct wk_container **nv = realloc(t->v, ncap * sizeof(*nv));
        if (!nv)
            return NULL;
        t->v = nv;
        t->cap = ncap;
    }
    c = wk_new0(struct wk_container, 1);
    if (!c)
        return NULL;
    memcpy(c->id, id, 64);
    c->first_seen = c->last_seen = now;
    t->v[t->n++] = c;
    return c;
}

static int set_str(char **dst, const char *s)
{
    if (!s)
        return 0;
    if (*dst && strcmp(*dst, s) == 0)
        return 0;
    char *d = strdup(s);
    if (!d)
        return -ENOMEM;
    free(*dst);
    *dst = d;
    return 0;
}

/* json_object_set_new ignoring NULL values (optional facts). */
static int put(json_t *o, const char *k, json_t *v)
{
    if (!v)
        return 0;
    return json_object_set_new(o, k, v) == 0 ? 0 : -ENOMEM;
}

static json_t *str_or_null(const json_t *v)
{
    return json_is_string(v) ? json_string(json_string_value(v)) : NULL;
}

static json_t *strlist_of(const json_t *arr)
{
    json_t *out = json_array();
    if (!out)
        return NULL;
    size_t i;
    const json_t *it;
    json_array_foreach (arr, i, it) {
        if (json_is_string(it))
            json_array_append_new(out, json_string(json_string_value(it)));
    }
    return out;
}

static json_t *facts_from_inspect(const json_t *in)
{
    const json_t *hc = json_object_get(in, "HostConfig");
    const json_t *cfg = json_object_get(in, "Config");
    json_t *f = json_object();
    if (!f)
        return NULL;
    int rc = 0;
    rc |= put(f, "privileged", json_boolean(json_is_true(json_object_get(hc, "Privileged"))));
    rc |= put(f, "cap_add", strlist_of(json_object_get(hc, "CapAdd")));
    rc |= put(f, "cap_drop", strlist_of(json_object_get(hc, "CapDrop")));
    json_t *src = json_array(), *srcrw = json_array();
    const json_t *mounts = json_object_get(in, "Mounts");
    size_t i;
    const json_t *m;
    json_array_foreach (mounts, i, m) {
        const json_t *s = json_object_get(m, "Source");
        if (!json_is_string(s))
            continue;
        json_array_append_new(src, json_string(json_string_value(s)));
        if (json_is_true(json_object_get(m, "RW")))
            json_array_append_new(srcrw, json_string(json_string_value(s)));
    }
    rc |= put(f, "mount_sources", src);
    rc |= put(f, "mount_sources_rw", srcrw);
    rc |= put(f, "mounts", json_is_array(mounts) ? json_deep_copy(mounts) : json_array());
    static const char *const modes[][2] = {
        {"NetworkMode", "network_mode"}, {"PidMode", "pid_mode"},
        {"IpcMode", "ipc_mode"},         {"UTSMode", "uts_mode"},
        {"UsernsMode", "userns_mode"},   {"CgroupnsMode", "cgroupns_mode"},
    };
    for (size_t k = 0; k < WK_ARRAY_SIZE(modes); k++)
        rc |= put(f, modes[k][1], str_or_null(json_object_get(hc, modes[k][0])));
    rc |= put(f, "user", str_or_null(json_object_get(cfg, "User")));
    rc |= put(f, "security_opt", strlist_of(json_object_get(hc, "SecurityOpt")));
    rc |= put(f, "readonly_rootfs",
              json_boolean(json_is_true(json_object_get(hc, "ReadonlyRootfs"))));
    const json_t *mem = json_object_get(hc, "Memory");
    if (json_is_integer(mem))
        rc |= put(f, "memory_limit", json_integer(json_integer_value(mem)));
    const json_t *pids = json_object_get(hc, "PidsLimit");
    if (json_is_integer(pids))
        rc |= put(f, "pids_limit", json_integer(json_integer_value(pids)));
    rc |= put(f, "restart_policy",
              str_or_null(json_object_get(json_object_get(hc, "RestartPolicy"), "Name")));
    rc |= put(f, "image_id", str_or_null(json_object_get(in, "Image")));
    if (rc) {
        json_decref(f);
        return NULL;
    }
    return f;
}

int wk_containers_from_inspect(struct wk_containers *t, const json_t *in, int64_t now,
                               struct wk_container **out)
{
    const char *id = json_string_value(json_object_get(in, "Id"));
    if (!id || strlen(id) != 64 || !is_hex(id, 64))
        return WK_EPARSE;
    struct wk_container *c = wk_containers_upsert(t, id, now);
    if (!c)
        return -ENOMEM;
    const json_t *cfg = json_object_get(in, "Config");
    const char *name = json_string_value(json_object_get(in, "Name"));
    if (name && name[0] == '/')
        name++;
    int rc = 0;
    rc |= set_str(&c->name, name);
    rc |= set_str(&c->image, json_string_value(json_object_get(cfg, "Image")));
    rc |= set_str(&c->image_id, json_string_value(json_object_get(in, "Image")));
    rc |= set_str(&c->log_path, json_string_value(json_object_get(in, "LogPath")));
    const json_t *labels = json_object_get(cfg, "Labels");
    if (json_is_object(labels)) {
        json_decref(c->labels);
        c->labels = json_deep_copy(labels);
        rc |=
            set_str(&c->pod, json_string_value(json_object_get(labels, "io.kubernetes.pod.name")));
        rc |= set_str(&c->namespace_,
                      json_string_value(json_object_get(labels, "io.kubernetes.pod.namespace")));
    }
    json_t *f = facts_from_inspect(in);
    if (!f)
        return -ENOMEM;
    if (c->pod)
        json_object_set_new(f, "pod", json_string(c->pod));
    json_decref(c->facts);
    c->facts = f;
    const json_t *state = json_object_get(in, "State");
    json_int_t pid = json_integer_value(json_object_get(state, "Pid"));
    c->pid = json_is_true(json_object_get(state, "Running")) ? (int)pid : 0;
    if (rc)
        return -ENOMEM;
    if (out)
        *out = c;
    return 0;
}

/* Add one fact (a JSON value) under docker.container.<k> with the right event kind. */
static int add_fact(struct wk_event *ev, const char *k, const json_t *v)
{
    char name[256];
    int n = snprintf(name, sizeof(name), "docker.container.%s", k);
    if (n < 0 || (size_t)n >= sizeof(name))
        return 0;
    struct wk_key key = wk_key_initn(name, (size_t)n);
    switch (json_typeof(v)) {
    case JSON_TRUE:
    case JSON_FALSE: return wk_event_add_bool(ev, 0, &key, json_is_true(v));
    case JSON_INTEGER: return wk_event_add_int(ev, 0, &key, json_integer_value(v));
    case JSON_STRING:
        return wk_event_add_str(ev, 0, &key, json_string_value(v), json_string_length(v));
    case JSON_ARRAY: {
        size_t cnt = json_array_size(v);
        bool all_str = strcmp(k, "mounts") != 0;
        for (size_t i = 0; all_str && i < cnt; i++)
            all_str = json_is_string(json_array_get(v, i));
        if (all_str) {
            struct wk_str *items = wk_new0(struct wk_str, cnt ? cnt : 1);
            if (!items)
                return -ENOMEM;
            for (size_t i = 0; i < cnt; i++) {
                items[i].s = json_string_value(json_array_get(v, i));
                items[i].len = json_string_length(json_array_get(v, i));
            }
            int rc = wk_event_add_strlist(ev, 0, &key, items, cnt);
            free(items);
            return rc;
        }
    }
        /* fallthrough */
    default: {
        char *txt = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!txt)
            return -ENOMEM;
        int rc = wk_event_add_json(ev, 0, &key, txt, strlen(txt));
        free(txt);
        return rc;
    }
    }
}

/* Mask marking the dots of `k` as literal after `structural` structural dots. */
static uint64_t literal_mask(const char *k, unsigned structural)
{
    uint64_t m = 0;
    unsigned bit = structural;
    for (; *k; k++) {
        if (*k == '.') {
            if (bit >= 64)
                return UINT64_MAX;
            m |= UINT64_C(1) << bit++;
        }
    }
    return m;
}

int wk_container_enrich_event(const struct wk_container *c, struct wk_event *ev, bool facts)
{
    int rc = 0;
    if (c->name && !wk_event_get(ev, 0, &WK_KEY_CONTAINER_NAME))
        rc = wk_event_add_str(ev, 0, &WK_KEY_CONTAINER_NAME, c->name, strlen(c->name));
    if (!rc && c->image && !wk_event_get(ev, 0, &WK_KEY_CONTAINER_IMAGE))
        rc = wk_event_add_str(ev, 0, &WK_KEY_CONTAINER_IMAGE, c->image, strlen(c->image));
    if (rc || !facts)
        return rc;
    const char *k;
    json_t *v;
    json_object_foreach (c->facts, k, v) {
        if ((rc = add_fact(ev, k, v)) < 0)
            return rc;
    }
    json_object_foreach (c->labels, k, v) {
        if (!json_is_string(v))
            continue;
        char name[512];
        int n = snprintf(name, sizeof(name), "docker.container.labels.%s", k);
        uint64_t mask = literal_mask(k, 3);
        if (n < 0 || (size_t)n >= sizeof(name) || mask == UINT64_MAX)
            continue;
        struct wk_key key = wk_key_initn(name, (size_t)n);
        struct wk_value val = {.kind = WK_VAL_STR,
                               .len = (uint32_t)json_string_length(v),
                               .u.s = json_string_value(v)};
        if ((rc = wk_event_add_value(ev, 0, &key, mask, &val)) < 0)
            return rc;
    }
    return 0;
}

static json_t *jstr(const char *s)
{
    return s ? json_string(s) : NULL;
}

int wk_container_to_json(const struct wk_container *c, char **out, size_t *len)
{
    json_t *o = json_object();
    if (!o)
        return -ENOMEM;
    int rc = 0;
    rc |= put(o, "id", json_string(c->id));
    rc |= put(o, "name", jstr(c->name));
    rc |= put(o, "image", jstr(c->image));
    rc |= put(o, "image_id", jstr(c->image_id));
    rc |= put(o, "pod", jstr(c->pod));
    rc |= put(o, "namespace", jstr(c->namespace_));
    rc |= put(o, "log_path", jstr(c->log_path));
    if (c->labels)
        rc |= put(o, "labels", json_deep_copy(c->labels));
    if (c->facts)
        rc |= put(o, "facts", json_deep_copy(c->facts));
    rc |= put(o, "first_seen", json_integer(c->first_seen));
    rc |= put(o, "last_seen", json_integer(c->last_seen));
    rc |= put(o, "removed", json_integer(c->removed));
    rc |= put(o, "pid", json_integer(c->pid));
    char *txt = rc ? NULL : json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!txt)
        return -ENOMEM;
    *out = txt;
    if (len)
        *len = strlen(txt);
    return 0;
}

int wk_containers_import_json(struct wk_containers *t, const char *json, size_t len)
{
    json_t *o = json_loadb(json, len, 0, NULL);
    const char *id = json_string_value(json_object_get(o, "id"));
    if (!json_is_object(o) || !id || strlen(id) != 64 || !is_hex(id, 64)) {
        json_decref(o);
        return WK_EPARSE;
    }
    struct wk_container *c = wk_containers_upsert(t, id, 0);
    if (!c) {
        json_decref(o);
        return -ENOMEM;
    }
    int rc = 0;
    rc |= set_str(&c->name, json_string_value(json_object_get(o, "name")));
    rc |= set_str(&c->image, json_string_value(json_object_get(o, "image")));
    rc |= set_str(&c->image_id, json_string_value(json_object_get(o, "image_id")));
    rc |= set_str(&c->pod, json_string_value(json_object_get(o, "pod")));
    rc |= set_str(&c->namespace_, json_string_value(json_object_get(o, "namespace")));
    rc |= set_str(&c->log_path, json_string_value(json_object_get(o, "log_path")));
    json_t *l = json_object_get(o, "labels"), *f = json_object_get(o, "facts");
    if (json_is_object(l)) {
        json_decref(c->labels);
        c->labels = json_incref(l);
    }
    if (json_is_object(f)) {
        json_decref(c->facts);
        c->facts = json_incref(f);
    }
    c->first_seen = json_integer_value(json_object_get(o, "first_seen"));
    c->last_seen = json_integer_value(json_object_get(o, "last_seen"));
    c->removed = json_integer_value(json_object_get(o, "removed"));
    c->pid = (int)json_integer_value(json_object_get(o, "pid"));
    json_decref(o);
    return rc ? -ENOMEM : 0;
}
