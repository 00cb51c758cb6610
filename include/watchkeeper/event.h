/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The event: what every input record becomes. A timestamp (ns), and an ordered list of
 * fields named by their dotted ECS path ("process.executable") or native name ("syscall"),
 * each with a typed value. Fields may belong to a record (auditd keeps every record of an
 * event: rec 1..n) or to the event itself (rec 0). All strings are binary-safe (pointer +
 * length) and live in the event's arena, so building, reading and reusing an event does no
 * allocation per field once warm.
 *
 * Caveats:
 * - Pointers returned by getters are borrowed: valid until the event is reset or freed.
 * - An event is not thread-safe; distinct events may be used from distinct threads.
 * - Field lookup is a linear scan over a packed array of 32-bit hashes, which beats a hash
 *   table at the 20-80 fields an event carries; keys are hashed once by wk_key_init().
 */
#ifndef WK_EVENT_H
#define WK_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** A field name with its precomputed hash. Build once (rule compile, parser init). */
struct wk_key {
    const char *name; /* dotted path, NUL-terminated */
    uint32_t len;
    uint32_t hash;
};

/** Initialise a key from a NUL-terminated name (borrowed: must outlive the key). */
struct wk_key wk_key_init(const char *name);
/** Initialise a key from name bytes (borrowed). */
struct wk_key wk_key_initn(const char *name, size_t len);
/** The hash used for field names (FNV-1a, 32 bit). */
uint32_t wk_key_hash(const char *name, size_t len);

enum wk_kind {
    WK_VAL_NULL = 0,
    WK_VAL_BOOL,
    WK_VAL_INT,     /* int64 */
    WK_VAL_REAL,    /* double */
    WK_VAL_STR,     /* bytes (binary-safe; usually UTF-8) */
    WK_VAL_STRLIST, /* array of strings */
    WK_VAL_JSON,    /* any other JSON (arrays of objects, mixed arrays, {}), compact text */
};

/** Value flags. */
#define WK_VALF_TRUNCATED 0x01u /* the source cut this value at a configured maximum */
/* The source made this value (a name it looked up, decoded text, a constant): it is not
 * a copy of the raw input's text, so the store writes it as a literal and never looks
 * for it in event.original (docs/store.md, records format 2). Kept like any flag: a
 * stored event decodes with it. */
#define WK_VALF_LITERAL 0x02u

struct wk_str {
    const char *s; /* not NUL-terminated in general; the event's own copies are */
    size_t len;
};

struct wk_value {
    uint8_t kind;  /* enum wk_kind */
    uint8_t flags; /* WK_VALF_* */
    uint16_t rec;  /* 0: event level; 1..n: record n (see wk_event_nrecords) */
    uint32_t len;  /* STR/JSON: bytes; STRLIST: items */
    union {
        bool b;
        int64_t i;
        double r;
        const char *s;               /* STR, JSON: NUL-terminated copy of len bytes */
        const struct wk_str *items;  /* STRLIST */
    } u;
};

struct wk_event;

/* Well-known keys, initialised once (by wk_event_new or wk_keys_init). */
extern struct wk_key WK_KEY_EVENT_MODULE;     /* "event.module": the source */
extern struct wk_key WK_KEY_EVENT_ACTION;     /* "event.action" */
extern struct wk_key WK_KEY_EVENT_ORIGINAL;   /* "event.original": exact raw bytes */
extern struct wk_key WK_KEY_HOST_NAME;        /* "host.name" */
extern struct wk_key WK_KEY_CONTAINER_ID;     /* "container.id" */
extern struct wk_key WK_KEY_CONTAINER_NAME;   /* "container.name" */
extern struct wk_key WK_KEY_CONTAINER_IMAGE;  /* "container.image.name" */
extern struct wk_key WK_KEY_MESSAGE;          /* "message" */

/** Initialise the well-known keys. Idempotent, thread-safe. */
void wk_keys_init(void);

/**
 * Create an empty event.
 * @param[out] out the event, owned by the caller; release with wk_event_free().
 * @return 0 or -ENOMEM.
 */
int wk_event_new(struct wk_event **out);
/** Free an event (NULL allowed). @return NULL. */
struct wk_event *wk_event_free(struct wk_event *ev);
/** Empty an event for reuse, keeping its memory. */
void wk_event_reset(struct wk_event *ev);

/** The event's timestamp, ns since the epoch (0 when unset). */
int64_t wk_event_ts(const struct wk_event *ev);
void wk_event_set_ts(struct wk_event *ev, int64_t ts_ns);

/** Number of records (0 for events without records). */
unsigned wk_event_nrecords(const struct wk_event *ev);
/**
 * Open a new record; following wk_event_add_* calls with rec = the returned number
 * attach fields to it. @return the record number (1..65535) or WK_ELIMIT.
 */
int wk_event_add_record(struct wk_event *ev);

/** Number of fields, and the i-th field in insertion order (borrowed). */
size_t wk_event_nfields(const struct wk_event *ev);
const struct wk_key *wk_event_field_key(const struct wk_event *ev, size_t i);
const struct wk_value *wk_event_field_value(const struct wk_event *ev, size_t i);
/** One field as the event holds it (see wk_event_fields). */
struct wk_field {
    struct wk_key key; /* name points into the event's arena (or static storage) */
    uint64_t dots;     /* literal dots mask (wk_event_field_dots) */
    struct wk_value v;
};
/**
 * All fields in insertion order, wk_event_nfields of them: fields[i] holds what
 * wk_event_field_key/_value/_dots(ev, i) return, for callers that walk every field of
 * every event (encoders) without three calls per field. Read-only; borrowed, valid until
 * the event changes; NULL when it has no field.
 */
const struct wk_field *wk_event_fields(const struct wk_event *ev);
/**
 * The name hashes (wk_key.hash) of all fields in insertion order, wk_event_nfields of them
 * (borrowed; valid until the event changes; NULL when it has no field). For callers that
 * summarise which names an event has (the rule engine's per-event Bloom filter).
 */
const uint32_t *wk_event_field_hashes(const struct wk_event *ev);
/**
 * Hint the CPU to bring the event's field table, lookup index and most recent arena bytes
 * into the caches, all at once (an evaluator about to look up many fields of an event that
 * may have left the caches overlaps the misses instead of taking them one after another).
 * No effect on the event; cheap when it is already cached.
 */
void wk_event_prefetch(const struct wk_event *ev);
/**
 * Hint the CPU, with intent to write, to bring in what resetting and refilling the event
 * touches first: its whole lookup index (every add probes it: a load that stalls) and the
 * arena chunk its refill writes first (header, and as many bytes as the last use took, up
 * to 4 KiB). For a sink that hands recycled events back to a source (submit_take): they
 * come back cold, last touched on another thread's core. Call it on the next one while
 * the source fills the current one. No effect on the event; reads only its struct.
 */
void wk_event_prefetch_fill(const struct wk_event *ev);

/*
 * Adding fields. The name and bytes are copied into the event's arena. `rec` is 0 for
 * an event-level field or a record number. Adding a name that already exists at the same
 * rec replaces the value. `literal_dots` is a bitmask over the dots of the name: bit i set
 * means the i-th dot is part of a key (Docker label "com.docker.compose.project") and not
 * a nesting step; 0 for ordinary ECS names. All return 0, -ENOMEM, -EINVAL (name empty or
 * longer than 65535) or WK_ELIMIT (more than 65535 fields).
 */
int wk_event_add_str(struct wk_event *ev, unsigned rec, const struct wk_key *key,
                     const char *s, size_t len);
int wk_event_add_int(struct wk_event *ev, unsigned rec, const struct wk_key *key, int64_t v);
int wk_event_add_real(struct wk_event *ev, unsigned rec, const struct wk_key *key, double v);
int wk_event_add_bool(struct wk_event *ev, unsigned rec, const struct wk_key *key, bool v);
int wk_event_add_null(struct wk_event *ev, unsigned rec, const struct wk_key *key);
int wk_event_add_strlist(struct wk_event *ev, unsigned rec, const struct wk_key *key,
                         const struct wk_str *items, size_t n);
int wk_event_add_json(struct wk_event *ev, unsigned rec, const struct wk_key *key,
                      const char *json, size_t len);
/** The general form: copies the value (and its strings) with the given dots mask. */
int wk_event_add_value(struct wk_event *ev, unsigned rec, const struct wk_key *key,
                       uint64_t literal_dots, const struct wk_value *v);
/**
 * Like wk_event_add_value / wk_event_add_str, but the key's name is NOT copied: the event
 * keeps key->name as given. For parsers whose field names are a known set (static tables):
 * it saves a copy per field. The name must be NUL-terminated, and stay valid and unchanged
 * as long as the event may hold the field (until it is reset or freed): static storage, or
 * storage that outlives the event. The value is copied as usual. Everything else (lookup,
 * replacement of an existing name, JSON, wk_event_copy, which copies names) is the same.
 */
int wk_event_add_value_sn(struct wk_event *ev, unsigned rec, const struct wk_key *key,
                          uint64_t literal_dots, const struct wk_value *v);
int wk_event_add_str_sn(struct wk_event *ev, unsigned rec, const struct wk_key *key,
                        const char *s, size_t len);
/**
 * Like wk_event_add_str_sn, but the value is not copied either: the event keeps s as given.
 * For parsers that already hold the value in memory owned by the event itself: the
 * event's arena (wk_event_arena), so the bytes travel with the event when a sink takes it
 * (wk_event_swap, submit_take) and are released by its reset. s must be NUL-terminated at
 * s[len] and stay valid and unchanged until the event is reset or freed: memory owned by
 * the parser would not (a sink may keep the event's contents after the emit returns). Lookup,
 * replacement, JSON and wk_event_copy (which copies) behave as for any string.
 * @return 0, -EINVAL (bad key or record), WK_ELIMIT, -ENOMEM (the field table grows).
 */
int wk_event_add_str_ref(struct wk_event *ev, unsigned rec, const struct wk_key *key,
                         const char *s, size_t len);
/**
 * Like wk_event_add_value_sn with a string list of n items (the name is not copied), but
 * the items' strings are not copied either, only the array of n items is: each items[i].s
 * must be NUL-terminated at items[i].len and stay valid and unchanged until the event is
 * reset or freed, like wk_event_add_str_ref's value (the event's arena, or static storage).
 * @return 0, -EINVAL (bad key or record), WK_ELIMIT, -ENOMEM.
 */
int wk_event_add_strlist_ref(struct wk_event *ev, unsigned rec, const struct wk_key *key,
                             const struct wk_str *items, size_t n);
/** Set flags (WK_VALF_*) on the field last added. */
void wk_event_flag_last(struct wk_event *ev, uint8_t flags);
/** The literal-dots mask of the i-th field. */
uint64_t wk_event_field_dots(const struct wk_event *ev, size_t i);
/**
 * The i-th field at once, for walkers of every field (the store's encoder): its value
 * (returned), key (*key) and literal-dots mask (*dots), borrowed, valid until the event
 * changes; the same as wk_event_field_value, wk_event_field_key and wk_event_field_dots in
 * one call. @return NULL when i >= wk_event_nfields(ev) (*key and *dots untouched).
 */
const struct wk_value *wk_event_field(const struct wk_event *ev, size_t i,
                                      const struct wk_key **key, uint64_t *dots);

/**
 * Look a field up by key in record `rec` (0: event level). The hot path of every rule:
 * no allocation, no parsing.
 * @return the value (borrowed) or NULL when absent.
 */
const struct wk_value *wk_event_get(const struct wk_event *ev, unsigned rec,
                                    const struct wk_key *key);
/** Look up in record `rec`, falling back to the event level. */
const struct wk_value *wk_event_get_ctx(const struct wk_event *ev, unsigned rec,
                                        const struct wk_key *key);
/** String value of an event-level field or NULL if absent or not a string; len may be NULL. */
const char *wk_event_get_str(const struct wk_event *ev, const struct wk_key *key, size_t *len);

/**
 * The text of a scalar value, as rules compare it: strings and JSON as they are, integers
 * in decimal, reals with 17 significant digits, booleans as "true"/"false".
 * @param[out] buf storage for numbers (at least 32 bytes); @param[out] s, len the text
 * (borrowed from v or buf). @return false for null and string lists.
 */
bool wk_value_text(const struct wk_value *v, char *buf, size_t buflen, const char **s,
                   size_t *len);

/** Copy src into dst (dst is reset first). @return 0 or -ENOMEM. */
int wk_event_copy(struct wk_event *dst, const struct wk_event *src);
/** True when both events hold the same timestamp, fields, values and order. */
bool wk_event_equal(const struct wk_event *a, const struct wk_event *b);
/**
 * wk_event_equal with the value flags in ignore (WK_VALF_*) left out: an event read back
 * from its JSON form, which carries no flags, against the one written
 * (ignore = WK_VALF_LITERAL for a parser's events).
 */
bool wk_event_equal_but(const struct wk_event *a, const struct wk_event *b, uint8_t ignore);
/** Equal kind, flags, length and contents (not the record number). */
bool wk_value_equal(const struct wk_value *a, const struct wk_value *b);
/**
 * Exchange the whole contents of a and b (timestamp, records, fields, their strings and the
 * storage that holds them) in O(1): nothing is copied or allocated. Pointers into either
 * event's strings stay valid and now belong to the other event. This is how an event is
 * handed over without a copy (the pipeline takes a source's event and gives back an empty
 * one, see wk_source_sink.submit_take). Not thread-safe on the same events.
 */
void wk_event_swap(struct wk_event *a, struct wk_event *b);
/**
 * The event's own arena, for a parser's working bytes that the event's values reference
 * (wk_event_add_str_ref): released by wk_event_reset/wk_event_free like the event's own
 * strings, and handed over with them by wk_event_swap. Bytes referenced from anywhere else
 * would dangle once a sink takes the event (submit_take). Not thread-safe.
 */
struct wk_arena *wk_event_arena(struct wk_event *ev);
/**
 * Make room for nfields fields in all (the field table only: strings go to the arena), so
 * that a parser refilling a fresh event (one a sink gave back by submit_take) sizes its
 * table once instead of growing it field by field. Never shrinks; the contents, lookups
 * and order of fields do not change. @return 0 or -ENOMEM (the event is unchanged).
 */
int wk_event_reserve(struct wk_event *ev, size_t nfields);
/**
 * wk_event_reserve, and on an empty event (none of its fields added since the reset) a
 * table more than twice the size nfields need is replaced by one of that size: a recycled
 * event that last held a rare big event pins no more than the typical one needs (a
 * pipeline keeps thousands). @return 0 or -ENOMEM (the event is unchanged).
 */
int wk_event_fit(struct wk_event *ev, size_t nfields);
/**
 * Heap bytes the event holds: its struct, field arrays, index and string storage, including
 * what a reset keeps for reuse (so a recycled event is counted at what it really pins).
 * O(number of storage chunks).
 */
size_t wk_event_mem(const struct wk_event *ev);

/*
 * JSON form (one object): "@timestamp" first (RFC 3339, UTC, 9 fraction digits), then the
 * fields nested by their dots in insertion order; fields of records are in the array
 * "records" (one object per record). String values that are not valid UTF-8 are written in
 * base64 and listed in "@binary" (an array of field paths, "records.N.path" for records),
 * so that any bytes round-trip. wk_event_from_json accepts exactly what wk_event_to_json
 * writes, and any other JSON object (fields kept as given).
 */

/**
 * Serialise an event as one compact JSON object.
 * @param[out] out malloc'd NUL-terminated text; @param[out] len its length (may be NULL).
 * @return 0, -ENOMEM.
 */
int wk_event_to_json(const struct wk_event *ev, char **out, size_t *len);

/**
 * Parse one JSON object into ev (reset first).
 * @param[out] err when not NULL, receives a static or thread-local message on failure.
 * @return 0, WK_EPARSE (not JSON, not an object, bad @timestamp, bad @binary), -ENOMEM.
 */
int wk_event_from_json(struct wk_event *ev, const char *text, size_t len, const char **err);

#endif /* WK_EVENT_H */
