/* SPDX-License-Identifier: MIT */
#include "core/topic_name.h"

#include <openssl/evp.h>
#include <string.h>

#include "base/assert.h"
#include "base/hex.h"

static bool
is_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

const char *
rp_topic_name_check(const char *name, size_t len)
{
    if (len == 0)
        return "topic name is empty";
    if (len > RP_TOPIC_NAME_MAX)
        return "topic name is longer than 255 bytes";
    /* Characters first: a wildcard says more about the mistake than where it sits. */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '+')
            return "topic name contains '+' (wildcards belong to subscription patterns)";
        if (c == '#')
            return "topic name contains '#' (wildcards belong to subscription patterns)";
        if (c != '/' && !is_name_char(c))
            return "topic name contains a character outside a-z A-Z 0-9 - _ . /";
    }
    if (name[0] == '/')
        return "topic name starts with '/'";
    if (name[len - 1] == '/')
        return "topic name ends with '/'";
    const char *p = name, *end = name + len;
    while (p < end) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *seg_end = slash ? slash : end;
        size_t seg_len = (size_t)(seg_end - p);
        if (seg_len == 0)
            return "topic name contains an empty segment ('//')";
        if (seg_len == 1 && p[0] == '.')
            return "topic name contains a '.' segment";
        if (seg_len == 2 && p[0] == '.' && p[1] == '.')
            return "topic name contains a '..' segment";
        p = seg_end + 1;
    }
    return NULL;
}

bool
rp_topic_name_is_system(const char *name, size_t len)
{
    static const char prefix[] = RP_TOPIC_SYSTEM_PREFIX;
    return len >= sizeof(prefix) - 1 && memcmp(name, prefix, sizeof(prefix) - 1) == 0;
}

/* The namespace is kept as its documented string so there is one source of truth. */
static void
parse_namespace(uint8_t out[16])
{
    static const char ns[] = RP_TOPIC_UUID_NAMESPACE;
    size_t k = 0;
    for (size_t i = 0; i + 1 < sizeof(ns) && k < 16;) {
        if (ns[i] == '-') {
            i++;
            continue;
        }
        int hi = rp_hex_value(ns[i]), lo = rp_hex_value(ns[i + 1]);
        RP_ASSERT(hi >= 0 && lo >= 0);
        out[k++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    RP_ASSERT(k == 16);
}

void
rp_uuid_v5(const uint8_t ns[16], const char *name, size_t len, uint8_t out[16])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    RP_ASSERT(ctx);
    int ok = EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) && EVP_DigestUpdate(ctx, ns, 16) &&
             EVP_DigestUpdate(ctx, name, len) && EVP_DigestFinal_ex(ctx, md, &md_len);
    EVP_MD_CTX_free(ctx);
    RP_ASSERT(ok && md_len >= 16);
    memcpy(out, md, 16);
    out[6] = (uint8_t)((out[6] & 0x0f) | 0x50); /* version 5 */
    out[8] = (uint8_t)((out[8] & 0x3f) | 0x80); /* variant 10 (RFC 9562) */
}

void
rp_topic_uuid(const char *name, size_t len, uint8_t out[16])
{
    uint8_t ns[16];
    parse_namespace(ns);
    rp_uuid_v5(ns, name, len, out);
}

void
rp_uuid_format(const uint8_t uuid[16], char out[RP_UUID_STR_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = digits[uuid[i] >> 4];
        *p++ = digits[uuid[i] & 0x0f];
    }
    *p = '\0';
}

static bool
has_prefix(const char *name, size_t len, const char *prefix, size_t plen)
{
    return len >= plen && memcmp(name, prefix, plen) == 0;
}

bool
rp_topic_name_is_private(const char *name, size_t len)
{
    return has_prefix(name, len, RP_TOPIC_SESSION_PREFIX, sizeof(RP_TOPIC_SESSION_PREFIX) - 1) ||
           has_prefix(name, len, RP_TOPIC_MERCURE_PRIVATE_PREFIX,
                      sizeof(RP_TOPIC_MERCURE_PRIVATE_PREFIX) - 1);
}
