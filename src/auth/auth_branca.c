/* SPDX-License-Identifier: MIT */
#include "auth/auth_branca.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <sodium.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/diag.h"
#include "base/hex.h"
#include "core/hub.h"
#include "core/pattern.h"

#define BRANCA_VERSION 0xBA
#define BRANCA_NONCE_LEN 24
/* 62^5 < 2^30: five base62 digits at a time keep limb * factor + carry within 64 bits. */
#define B62_CHUNK_DIGITS 5
#define B62_CHUNK 916132832u

static const char b62_alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;

static void
init_sodium(void)
{
    int rc = sodium_init();
    RP_ASSERT(rc >= 0);
}

static void
need_sodium(void)
{
    int rc = pthread_once(&sodium_once, init_sodium);
    RP_ASSERT(rc == 0);
}

int
rp_branca_key_parse(const char *hex, size_t len, uint8_t key[RP_BRANCA_KEY_LEN])
{
    if (len != 2 * RP_BRANCA_KEY_LEN)
        goto fail;
    for (size_t i = 0; i < RP_BRANCA_KEY_LEN; i++) {
        int hi = rp_hex_value(hex[2 * i]), lo = rp_hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            goto fail;
        key[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
fail:
    sodium_memzero(key, RP_BRANCA_KEY_LEN);
    return -EINVAL;
}

static int
b62_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 36;
    return -1;
}

/*
 * Base62 as the base-x crate (sse-server's branca) does it: the string is one big-endian
 * number, except that each leading '0' stands for a leading zero byte. The number is kept
 * in 32-bit little-endian limbs and multiplied by 62^5 per five digits: quadratic, but
 * about 40x fewer steps than a byte at a time, so a maximal token costs milliseconds.
 * Every input has exactly one decoding and every byte string one encoding.
 */
static int
b62_decode(const char *s, size_t len, uint8_t **out, size_t *out_len)
{
    for (size_t i = 0; i < len; i++)
        if (b62_value(s[i]) < 0)
            return -EINVAL;
    size_t zeros = 0;
    while (zeros < len && s[zeros] == '0')
        zeros++;
    size_t digits = len - zeros;
    /* 62 < 2^6: the number has at most 6 bits per digit. */
    size_t cap = (6 * digits + 31) / 32 + 1;
    uint32_t *limbs = rp_xcalloc(cap, sizeof(uint32_t));
    size_t used = 0;
    for (size_t i = zeros; i < len;) {
        uint32_t chunk = 0, factor = 1;
        for (int k = 0; k < B62_CHUNK_DIGITS && i < len; k++, i++) {
            chunk = chunk * 62 + (uint32_t)b62_value(s[i]);
            factor *= 62;
        }
        uint64_t carry = chunk;
        for (size_t j = 0; j < used; j++) {
            uint64_t t = (uint64_t)limbs[j] * factor + carry;
            limbs[j] = (uint32_t)t;
            carry = t >> 32;
        }
        if (carry) {
            RP_ASSERT(used < cap);
            limbs[used++] = (uint32_t)carry;
        }
    }
    size_t nbytes = used * 4;
    while (nbytes && !(limbs[(nbytes - 1) / 4] >> ((nbytes - 1) % 4 * 8) & 0xff))
        nbytes--;
    uint8_t *b = rp_xmalloc(zeros + nbytes + 1);
    memset(b, 0, zeros);
    for (size_t k = 0; k < nbytes; k++) {
        size_t bit = nbytes - 1 - k; /* byte index from the least significant end */
        b[zeros + k] = (uint8_t)(limbs[bit / 4] >> (bit % 4 * 8));
    }
    free(limbs);
    *out = b;
    *out_len = zeros + nbytes;
    return 0;
}

static char *
b62_encode(const uint8_t *b, size_t len)
{
    size_t zeros = 0;
    while (zeros < len && b[zeros] == 0)
        zeros++;
    size_t m = len - zeros;
    /* Big-endian limbs: limbs[0] is the most significant and may be partial. */
    size_t nl = (m + 3) / 4;
    uint32_t *limbs = rp_xcalloc(nl ? nl : 1, sizeof(uint32_t));
    for (size_t k = 0; k < m; k++) {
        size_t from_end = m - 1 - k;
        limbs[nl - 1 - from_end / 4] |= (uint32_t)b[zeros + k] << (from_end % 4 * 8);
    }
    /* log(256)/log(62) < 1.35, plus a partial chunk of five. */
    size_t cap = zeros + m * 135 / 100 + 2 * B62_CHUNK_DIGITS + 1;
    char *rev = rp_xmalloc(cap);
    size_t n = 0, top = 0;
    while (top < nl) {
        uint64_t rem = 0;
        for (size_t j = top; j < nl; j++) {
            uint64_t cur = rem << 32 | limbs[j];
            limbs[j] = (uint32_t)(cur / B62_CHUNK);
            rem = cur % B62_CHUNK;
        }
        while (top < nl && limbs[top] == 0)
            top++;
        for (int k = 0; k < B62_CHUNK_DIGITS; k++) {
            RP_ASSERT(n < cap);
            rev[n++] = b62_alphabet[rem % 62];
            rem /= 62;
        }
    }
    /* The last chunk was padded with zero digits: they are not part of the number. */
    while (n && rev[n - 1] == '0')
        n--;
    free(limbs);
    char *s = rp_xmalloc(zeros + n + 1);
    memset(s, '0', zeros);
    for (size_t k = 0; k < n; k++)
        s[zeros + k] = rev[n - 1 - k];
    s[zeros + n] = '\0';
    free(rev);
    return s;
}

static uint32_t
load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

enum rp_auth_result
rp_branca_decode(const uint8_t key[RP_BRANCA_KEY_LEN], const char *token, size_t len, int64_t now_s,
                 uint32_t ttl_s, uint8_t **payload, size_t *payload_len, uint32_t *timestamp)
{
    *payload = NULL;
    *payload_len = 0;
    if (len > RP_BRANCA_MAX_TOKEN)
        return RP_AUTH_TOO_LARGE;
    uint8_t *raw;
    size_t n;
    if (len == 0 || b62_decode(token, len, &raw, &n) != 0)
        return RP_AUTH_MALFORMED;
    enum rp_auth_result r = RP_AUTH_MALFORMED;
    if (n < RP_BRANCA_HEADER_LEN + RP_BRANCA_TAG_LEN || raw[0] != BRANCA_VERSION)
        goto done;
    need_sodium();
    const uint8_t *nonce = raw + 5;
    size_t clen = n - RP_BRANCA_HEADER_LEN;
    uint8_t *m = rp_xmalloc(clen - RP_BRANCA_TAG_LEN + 1);
    unsigned long long mlen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(m, &mlen, NULL, raw + RP_BRANCA_HEADER_LEN, clen,
                                                   raw, RP_BRANCA_HEADER_LEN, nonce, key) != 0) {
        free(m);
        r = RP_AUTH_BAD_SIGNATURE;
        goto done;
    }
    uint32_t ts = load_be32(raw + 1);
    /* sse-server's crate: expired when timestamp + ttl < now; 64-bit, so no overflow. */
    if (ttl_s && (int64_t)ts + ttl_s < now_s) {
        sodium_memzero(m, (size_t)mlen);
        free(m);
        r = RP_AUTH_EXPIRED;
        goto done;
    }
    m[mlen] = '\0';
    *payload = m;
    *payload_len = (size_t)mlen;
    if (timestamp)
        *timestamp = ts;
    r = RP_AUTH_OK;
done:
    free(raw);
    return r;
}

int
rp_branca_encode(const uint8_t key[RP_BRANCA_KEY_LEN], const uint8_t *payload, size_t len,
                 uint32_t timestamp, char **out)
{
    *out = NULL;
    /* Each byte takes more than one character: a longer payload cannot fit. */
    if (len > RP_BRANCA_MAX_TOKEN)
        return -EINVAL;
    need_sodium();
    size_t n = RP_BRANCA_HEADER_LEN + len + RP_BRANCA_TAG_LEN;
    uint8_t *raw = rp_xmalloc(n);
    raw[0] = BRANCA_VERSION;
    raw[1] = (uint8_t)(timestamp >> 24);
    raw[2] = (uint8_t)(timestamp >> 16);
    raw[3] = (uint8_t)(timestamp >> 8);
    raw[4] = (uint8_t)timestamp;
    randombytes_buf(raw + 5, BRANCA_NONCE_LEN);
    unsigned long long clen = 0;
    static const uint8_t empty[1];
    int rc = crypto_aead_xchacha20poly1305_ietf_encrypt(raw + RP_BRANCA_HEADER_LEN, &clen,
                                                        len ? payload : empty, len, raw,
                                                        RP_BRANCA_HEADER_LEN, NULL, raw + 5, key);
    RP_ASSERT(rc == 0 && clen == len + RP_BRANCA_TAG_LEN);
    char *s = b62_encode(raw, n);
    free(raw);
    if (strlen(s) > RP_BRANCA_MAX_TOKEN) {
        free(s);
        return -EINVAL;
    }
    *out = s;
    return 0;
}

/* ---- msgpack payloads ---- */

/* Reads a big-endian length of <width> bytes at <p>. */
static uint64_t
load_be(const uint8_t *p, unsigned width)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < width; i++)
        v = v << 8 | p[i];
    return v;
}

/* What a msgpack type byte says about the rest of its object. */
enum mp_kind {
    MP_SCALAR = 0,
    MP_DATA,
    MP_ARRAY,
    MP_MAP,
};

struct mp_type {
    enum mp_kind kind;
    uint64_t skip;     /* payload bytes that follow, when the type byte fixes them */
    uint64_t children; /* objects that follow, when the type byte counts them */
    unsigned width;    /* bytes of a length that follows the type byte */
    uint64_t extra;    /* bytes after that length that are not counted in it */
};

/* The types whose type byte holds everything: fixint, nil, bool, fixmap, fixarray, fixstr. */
static bool
type_fixed(uint8_t b, struct mp_type *t)
{
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return true;
    if (b <= 0x8f)
        t->children = 2u * (b & 0x0f);
    else if (b <= 0x9f)
        t->children = b & 0x0f;
    else if (b <= 0xbf)
        t->skip = b & 0x1f;
    else
        return false;
    return true;
}

/* bin 8/16/32, str 8/16/32, ext 8/16/32: a length, then (ext) a type byte, then the data. */
static bool
type_data(uint8_t b, struct mp_type *t)
{
    switch (b) {
    case 0xc4:
    case 0xd9:
    case 0xc7:
        t->width = 1;
        break;
    case 0xc5:
    case 0xda:
    case 0xc8:
        t->width = 2;
        break;
    case 0xc6:
    case 0xdb:
    case 0xc9:
        t->width = 4;
        break;
    default:
        return false;
    }
    t->kind = MP_DATA;
    t->extra = b >= 0xc7 && b <= 0xc9;
    return true;
}

/* float 32/64, uint and int 8..64, fixext 1..16 (a type byte, then the data): fixed sizes. */
static bool
type_number(uint8_t b, struct mp_type *t)
{
    switch (b) {
    case 0xcc:
    case 0xd0:
        t->skip = 1;
        return true;
    case 0xcd:
    case 0xd1:
    case 0xd4:
        t->skip = 2;
        return true;
    case 0xd5:
        t->skip = 3;
        return true;
    case 0xca:
    case 0xce:
    case 0xd2:
        t->skip = 4;
        return true;
    case 0xd6:
        t->skip = 5;
        return true;
    case 0xcb:
    case 0xcf:
    case 0xd3:
        t->skip = 8;
        return true;
    case 0xd7:
        t->skip = 9;
        return true;
    case 0xd8:
        t->skip = 17;
        return true;
    default:
        return false;
    }
}

/* array 16/32, map 16/32: a count of elements (of pairs, for a map). */
static bool
type_container(uint8_t b, struct mp_type *t)
{
    if (b < 0xdc || b > 0xdf)
        return false;
    t->kind = b <= 0xdd ? MP_ARRAY : MP_MAP;
    t->width = b == 0xdc || b == 0xde ? 2 : 4;
    return true;
}

/*
 * Reads the head of the object at <p>[*<i>]: its type byte and any length after it, and
 * advances *<i> past them. Says how many payload bytes (*<skip>) and objects (*<children>)
 * follow. False for the type byte that is never used (0xc1) and for a length cut short.
 */
static bool
read_head(const uint8_t *p, size_t len, size_t *i, uint64_t *skip, uint64_t *children)
{
    struct mp_type t = {0};
    uint8_t b = p[(*i)++];

    if (!type_fixed(b, &t) && !type_data(b, &t) && !type_number(b, &t) && !type_container(b, &t))
        return false;
    if (t.width) {
        if (len - *i < t.width)
            return false;
        uint64_t v = load_be(p + *i, t.width);
        *i += t.width;
        if (t.kind == MP_DATA)
            t.skip = v + t.extra;
        else if (t.kind == MP_ARRAY)
            t.children = v;
        else
            t.children = 2 * v;
    }
    *skip = t.skip;
    *children = t.children;
    return true;
}

/*
 * True when <p> is exactly one msgpack object whose every length and count fits in what
 * is left of the input. msgpack-c allocates an array's or map's elements from the count in
 * its header before reading them, so an unchecked 5-byte header could ask for gigabytes.
 * One counter of objects still to read (each at least one byte) bounds that without a stack.
 */
static bool
msgpack_bounded(const uint8_t *p, size_t len)
{
    size_t i = 0;
    uint64_t pending = 1;
    while (pending) {
        if (i >= len)
            return false;
        pending--;
        uint64_t skip, children;
        if (!read_head(p, len, &i, &skip, &children))
            return false;
        if (skip > len - i)
            return false;
        i += (size_t)skip;
        pending += children;
        if (pending > len - i)
            return false;
    }
    return i == len;
}

/* Unpacks <p> (one bounded object, nothing after it) into <up>; its strings point into <p>. */
static int
unpack_one(const uint8_t *p, size_t len, msgpack_unpacked *up, struct rp_diag *diag)
{
    msgpack_unpacked_init(up);
    size_t off = 0;
    if (!msgpack_bounded(p, len) ||
        msgpack_unpack_next(up, (const char *)p, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        off != len) {
        msgpack_unpacked_destroy(up);
        rp_diag_set(diag, "payload is not one well-formed msgpack object");
        return -EINVAL;
    }
    return 0;
}

static bool
as_string(const msgpack_object *o, const char **s, size_t *n)
{
    if (o->type == MSGPACK_OBJECT_STR) {
        *s = o->via.str.ptr;
        *n = o->via.str.size;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_BIN) {
        *s = o->via.bin.ptr;
        *n = o->via.bin.size;
        return true;
    }
    return false;
}

/*
 * The fields <names> of a struct as serde reads it from <o>: a map by key (a key that is
 * not a string, or not one of <names>, is skipped; a repeated one refused) or an array
 * of exactly <n> values in order. out[i] is NULL for a field the map lacks.
 */
static int
struct_fields(const msgpack_object *o, const char *const *names, size_t n,
              const msgpack_object **out, const char *what, struct rp_diag *diag)
{
    for (size_t f = 0; f < n; f++)
        out[f] = NULL;
    if (o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size == n) {
        for (size_t f = 0; f < n; f++)
            out[f] = &o->via.array.ptr[f];
        return 0;
    }
    if (o->type != MSGPACK_OBJECT_MAP) {
        rp_diag_set(diag, "%s: expected a map", what);
        return -EINVAL;
    }
    for (uint32_t k = 0; k < o->via.map.size; k++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[k];
        const char *key;
        size_t key_len;
        if (!as_string(&kv->key, &key, &key_len))
            continue;
        for (size_t f = 0; f < n; f++) {
            if (strlen(names[f]) != key_len || memcmp(names[f], key, key_len) != 0)
                continue;
            if (out[f]) {
                rp_diag_set(diag, "%s: \"%s\" appears twice", what, names[f]);
                return -EINVAL;
            }
            out[f] = &kv->val;
        }
    }
    return 0;
}

/*
 * Unpacks <payload>, which must hold one struct whose only field of interest, <name>, is an
 * array: 0 with <up> to destroy and *<list> pointing into it, or -errno with <up> already
 * destroyed and the reason in <diag>.
 */
static int
unpack_list(const uint8_t *payload, size_t len, const char *name, msgpack_unpacked *up,
            const msgpack_object **list, struct rp_diag *diag)
{
    int rc = unpack_one(payload, len, up, diag);
    if (rc)
        return rc;
    const char *const names[] = {name};
    rc = struct_fields(&up->data, names, 1, list, "payload", diag);
    if (!rc && !*list) {
        rp_diag_set(diag, "payload: missing \"%s\"", name);
        rc = -EINVAL;
    } else if (!rc && (*list)->type != MSGPACK_OBJECT_ARRAY) {
        rp_diag_set(diag, "\"%s\" is not an array", name);
        rc = -EINVAL;
    }
    if (rc)
        msgpack_unpacked_destroy(up);
    return rc;
}

int
rp_branca_read_topics(const uint8_t *payload, size_t len, struct rp_grant *g, struct rp_diag *diag)
{
    rp_diag_clear(diag);
    msgpack_unpacked up;
    const msgpack_object *list;
    int rc = unpack_list(payload, len, "topics", &up, &list, diag);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < list->via.array.size && !rc; i++) {
        const char *s;
        size_t n;
        rc = -EINVAL;
        if (!as_string(&list->via.array.ptr[i], &s, &n))
            rp_diag_set(diag, "topics[%u]: not a string", (unsigned)i);
        else if (rp_grant_add_read(g, s, n) != 0)
            rp_diag_set(diag, "topics[%u]: %s", (unsigned)i, rp_pattern_check(s, n));
        else
            rc = 0;
    }
    if (rc)
        rp_grant_fini(g);
    msgpack_unpacked_destroy(&up);
    return rc;
}

/* One element of "events" into <it>; <what> names it in messages ("events[3]"). */
static int
read_event(const msgpack_object *o, struct rp_publish_item *it, const char *what,
           struct rp_diag *diag)
{
    static const char *const names[] = {"topic", "event", "data"};
    const msgpack_object *f[3];
    int rc = struct_fields(o, names, 3, f, what, diag);
    if (rc)
        return rc;
    for (size_t k = 0; k < 3; k++) {
        if (k == 1 && (!f[k] || f[k]->type == MSGPACK_OBJECT_NIL))
            continue;
        if (!f[k]) {
            rp_diag_set(diag, "%s: missing \"%s\"", what, names[k]);
            return -EINVAL;
        }
        const char *s;
        size_t n;
        if (!as_string(f[k], &s, &n)) {
            rp_diag_set(diag, "%s: \"%s\" is not a string", what, names[k]);
            return -EINVAL;
        }
        if (k == 0) {
            it->topic = s;
            it->topic_len = n;
        } else if (k == 1) {
            /* sse-server sends "event: " for "": browsers dispatch that as "message". */
            it->event = n ? s : NULL;
            it->event_len = n;
        } else {
            it->data = s;
            it->data_len = n;
        }
    }
    return 0;
}

int
rp_branca_read_events(const uint8_t *payload, size_t len, size_t max_events,
                      struct rp_branca_events *out, struct rp_diag *diag)
{
    memset(out, 0, sizeof(*out));
    rp_diag_clear(diag);
    /* The items point into the unpacked strings, which point into this copy. */
    uint8_t *buf = rp_xmalloc(len ? len : 1);
    if (len)
        memcpy(buf, payload, len);
    msgpack_unpacked up;
    const msgpack_object *list;
    int rc = unpack_list(buf, len, "events", &up, &list, diag);
    if (rc) {
        free(buf);
        return rc;
    }
    struct rp_publish_item *items = NULL;
    size_t n = list->via.array.size;
    if (n > max_events) {
        rp_diag_set(diag, "%zu events, at most %zu allowed", n, max_events);
        rc = -E2BIG;
        goto fail;
    }
    if (n)
        items = rp_xcalloc(n, sizeof(*items));
    for (size_t i = 0; i < n; i++) {
        char what[32];
        snprintf(what, sizeof(what), "events[%zu]", i);
        rc = read_event(&list->via.array.ptr[i], &items[i], what, diag);
        if (rc)
            goto fail;
    }
    msgpack_unpacked_destroy(&up);
    out->items = items;
    out->n = n;
    out->buf = buf;
    return 0;
fail:
    free(items);
    msgpack_unpacked_destroy(&up);
    free(buf);
    return rc;
}

void
rp_branca_events_fini(struct rp_branca_events *ev)
{
    free(ev->items);
    free(ev->buf);
    memset(ev, 0, sizeof(*ev));
}
