/* SPDX-License-Identifier: MIT */
#include "config/config_setting.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/assert.h"

const struct rp_config_setting rp_config_settings[RP_CONFIG_N_SETTINGS] = {
#define RP_SETTING(name, type, def, min, max, choices, scope, reload, help)                        \
    {#name,                                                                                        \
     RP_CONFIG_KIND_##type,                                                                        \
     def,                                                                                          \
     (int64_t)(min),                                                                               \
     (int64_t)(max),                                                                               \
     choices,                                                                                      \
     RP_CONFIG_SCOPE_##scope,                                                                      \
     reload,                                                                                       \
     help,                                                                                         \
     offsetof(struct rp_config_values, name)},
#include "config/settings.def"
#undef RP_SETTING
};

enum {
    MAX_CHOICES = 16,
};

/* ENUM fields are read and written as int (union rp_config_value.e): every generated enum has its
 * size. */
#define ENUM_IS_INT(setting, count)                                                                \
    _Static_assert(sizeof(enum rp_cfg_##setting) == sizeof(int), #setting " is not int-sized");
RP_CFG_ENUM_SETTINGS(ENUM_IS_INT)
#undef ENUM_IS_INT

/* The generated constants, counted per setting; split_choices checks they match. */
static const struct {
    const char *setting;
    int count;
} generated_counts[] = {
#define GENERATED_COUNT(setting, count) {#setting, count},
    RP_CFG_ENUM_SETTINGS(GENERATED_COUNT)
#undef GENERATED_COUNT
};

static char choice_text[RP_CONFIG_N_SETTINGS][RP_CONFIG_CHOICES_CAP];
static const char *choice_ptr[RP_CONFIG_N_SETTINGS][MAX_CHOICES];
static int n_choices[RP_CONFIG_N_SETTINGS];
static pthread_once_t choices_once = PTHREAD_ONCE_INIT;

static void
split_choices(void)
{
    for (size_t i = 0; i < RP_CONFIG_N_SETTINGS; i++) {
        if (rp_config_settings[i].kind != RP_CONFIG_KIND_ENUM)
            continue;
        size_t len = strlen(rp_config_settings[i].choices);
        RP_ASSERT(len > 0 && len < RP_CONFIG_CHOICES_CAP);
        memcpy(choice_text[i], rp_config_settings[i].choices, len + 1);
        char *p = choice_text[i];
        for (;;) {
            RP_ASSERT(n_choices[i] < MAX_CHOICES);
            choice_ptr[i][n_choices[i]++] = p;
            char *bar = strchr(p, '|');
            if (!bar)
                break;
            *bar = '\0';
            p = bar + 1;
        }
    }
    /* Both come from the same choices strings; this guards the two ways of splitting them. */
    size_t n_enum = 0;
    for (size_t i = 0; i < RP_CONFIG_N_SETTINGS; i++)
        n_enum += rp_config_settings[i].kind == RP_CONFIG_KIND_ENUM;
    RP_ASSERT(n_enum == sizeof(generated_counts) / sizeof(generated_counts[0]));
    for (size_t g = 0; g < n_enum; g++) {
        size_t i = 0;
        while (i < RP_CONFIG_N_SETTINGS &&
               strcmp(rp_config_settings[i].name, generated_counts[g].setting) != 0)
            i++;
        RP_ASSERT(i < RP_CONFIG_N_SETTINGS && rp_config_settings[i].kind == RP_CONFIG_KIND_ENUM);
        RP_ASSERT(n_choices[i] == generated_counts[g].count);
    }
}

void
rp_config_setting_init(void)
{
    int err = pthread_once(&choices_once, split_choices);
    RP_ASSERT(err == 0);
}

int
rp_config_setting_n_choices(const struct rp_config_setting *s)
{
    return n_choices[s - rp_config_settings];
}

const char *
rp_config_setting_choice(const struct rp_config_setting *s, int i)
{
    return choice_ptr[s - rp_config_settings][i];
}

/* Writes <len> bytes of <key> to <buf> with `-` as `_` and, if <fold>, in lower case. */
static bool
normalize(const char *key, size_t len, bool fold, char *buf)
{
    if (len >= RP_CONFIG_NAME_CAP)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = key[i] == '-' ? '_' : key[i];
        buf[i] = fold ? (char)tolower((unsigned char)c) : c;
    }
    buf[len] = '\0';
    return true;
}

const struct rp_config_setting *
rp_config_setting_find(const char *key, size_t len, bool fold)
{
    char name[RP_CONFIG_NAME_CAP];

    if (!normalize(key, len, fold, name))
        return NULL;
    for (size_t i = 0; i < RP_CONFIG_N_SETTINGS; i++)
        if (strcmp(rp_config_settings[i].name, name) == 0)
            return &rp_config_settings[i];
    return NULL;
}

/* Optimal string alignment distance (edits and adjacent swaps); both shorter than NAME_CAP. */
static size_t
edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t d[RP_CONFIG_NAME_CAP][RP_CONFIG_NAME_CAP];

    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best)
                best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

/* Nearest by edit distance; or, for 4 bytes and more, containing <key> or contained in it. */
const struct rp_config_setting *
rp_config_setting_suggest(const char *key, size_t len)
{
    char name[RP_CONFIG_NAME_CAP];
    const struct rp_config_setting *best = NULL;
    size_t best_d = SIZE_MAX;

    if (!normalize(key, len, true, name))
        return NULL;
    for (size_t i = 0; i < RP_CONFIG_N_SETTINGS; i++) {
        const char *cand = rp_config_settings[i].name;
        size_t d = edit_distance(name, cand);
        size_t limit = strlen(cand) / 3 > 2 ? strlen(cand) / 3 : 2;
        bool related = len >= 4 && (strstr(name, cand) || strstr(cand, name));
        if ((d <= limit || related) && d < best_d) {
            best = &rp_config_settings[i];
            best_d = d;
        }
    }
    return best;
}

void
rp_config_setting_flag_name(const struct rp_config_setting *s, char *buf, size_t cap)
{
    size_t i = 0;
    for (; s->name[i] && i + 1 < cap; i++)
        buf[i] = s->name[i] == '_' ? '-' : s->name[i];
    buf[i] = '\0';
}

void
rp_config_setting_env_name(const struct rp_config_setting *s, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "REVENPROX_");
    for (size_t i = (size_t)n, j = 0; s->name[j] && i + 1 < cap; i++, j++) {
        buf[i] = (char)toupper((unsigned char)s->name[j]);
        buf[i + 1] = '\0';
    }
}

const char *
rp_config_choice(const char *setting, int index)
{
    const struct rp_config_setting *s = rp_config_setting_find(setting, strlen(setting), false);

    rp_config_setting_init();
    if (!s || s->kind != RP_CONFIG_KIND_ENUM || index < 0 ||
        index >= n_choices[s - rp_config_settings])
        return NULL;
    return choice_ptr[s - rp_config_settings][index];
}
