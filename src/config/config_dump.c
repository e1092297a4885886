/* SPDX-License-Identifier: MIT */
/*
 * `revenprox config dump` and the settings part of --help: the effective configuration in
 * config-file syntax (which the parser reads back to the same values), and one entry per
 * setting of settings.def.
 */
#include "config/config.h"

#include <inttypes.h>
#include <stdio.h>

#include "config/config_setting.h"
#include "config/config_value.h"

static void
print_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void
print_value(FILE *f, const struct rp_config_setting *s, const struct rp_config_values *v)
{
    const void *p = rp_config_field(v, s);
    char buf[32];

    switch (s->kind) {
    case RP_CONFIG_KIND_SECRET:
        /* Never print a secret: only whether one is set. */
        print_quoted(f, *(char *const *)p && **(char *const *)p ? "********" : "");
        break;
    case RP_CONFIG_KIND_STRING:
        print_quoted(f, *(char *const *)p ? *(char *const *)p : "");
        break;
    case RP_CONFIG_KIND_INT:
        fprintf(f, "%" PRId64, *(const int64_t *)p);
        break;
    case RP_CONFIG_KIND_SIZE:
        rp_config_format_size(*(const int64_t *)p, buf, sizeof(buf));
        fputs(buf, f);
        break;
    case RP_CONFIG_KIND_DURATION:
        rp_config_format_duration(*(const int64_t *)p, buf, sizeof(buf));
        fputs(buf, f);
        break;
    case RP_CONFIG_KIND_BOOL:
        fputs(*(const bool *)p ? "true" : "false", f);
        break;
    case RP_CONFIG_KIND_ENUM:
        fputs(rp_config_setting_choice(s, *(const int *)p), f);
        break;
    case RP_CONFIG_KIND_LIST: {
        const struct rp_config_list *list = p;
        fputc('"', f);
        for (size_t i = 0; i < list->n; i++) {
            if (i)
                fputs(", ", f);
            for (const char *c = list->items[i]; *c; c++) {
                if (*c == '"' || *c == '\\')
                    fputc('\\', f);
                fputc(*c, f);
            }
        }
        fputc('"', f);
        break;
    }
    }
}

void
rp_config_dump(const struct rp_config *cfg, void *out)
{
    FILE *f = out;

    rp_config_setting_init();
    fprintf(f, "# Effective configuration (defaults < file < environment < flags)%s%s\n",
            cfg->file ? "; file " : "", cfg->file ? cfg->file : "");
    for (size_t i = 0; i < RP_CONFIG_N_SETTINGS; i++) {
        fprintf(f, "%s = ", rp_config_settings[i].name);
        print_value(f, &rp_config_settings[i], &cfg->v);
        fputc('\n', f);
    }
    for (size_t t = 0; t < cfg->n_topics; t++) {
        fputs("\n[topic ", f);
        print_quoted(f, cfg->topics[t].pattern);
        fputs("]\n", f);
        for (size_t i = 0; i < RP_CONFIG_N_SETTINGS; i++) {
            if (rp_config_settings[i].scope != RP_CONFIG_SCOPE_TOPIC)
                continue;
            fprintf(f, "%s = ", rp_config_settings[i].name);
            print_value(f, &rp_config_settings[i], &cfg->topics[t].values);
            fputc('\n', f);
        }
    }
}

void
rp_config_help(void *out)
{
    static const char *const placeholder[] = {
        [RP_CONFIG_KIND_STRING] = "TEXT", [RP_CONFIG_KIND_INT] = "N",
        [RP_CONFIG_KIND_SIZE] = "SIZE",   [RP_CONFIG_KIND_DURATION] = "DURATION",
        [RP_CONFIG_KIND_BOOL] = "[BOOL]", [RP_CONFIG_KIND_ENUM] = "CHOICE",
        [RP_CONFIG_KIND_LIST] = "LIST",   [RP_CONFIG_KIND_SECRET] = "SECRET",
    };
    FILE *f = out;
    char flag[RP_CONFIG_NAME_CAP], env[RP_CONFIG_NAME_CAP + 16], range[RP_CONFIG_CHOICES_CAP];

    rp_config_setting_init();
    fputs("Settings (defaults < config file < environment < flags). Sizes take k, m, g;\n"
          "durations take ms, s, m, h (a bare number is seconds).\n",
          f);
    for (size_t i = 0; i < RP_CONFIG_N_SETTINGS; i++) {
        const struct rp_config_setting *s = &rp_config_settings[i];
        rp_config_setting_flag_name(s, flag, sizeof(flag));
        rp_config_setting_env_name(s, env, sizeof(env));
        rp_config_format_range(s, range, sizeof(range));
        fprintf(f, "\n  --%s %s\n      %s\n      env %s; default ", flag, placeholder[s->kind],
                s->help, env);
        if (s->kind == RP_CONFIG_KIND_STRING || s->kind == RP_CONFIG_KIND_SECRET ||
            s->kind == RP_CONFIG_KIND_LIST)
            print_quoted(f, s->def);
        else
            fputs(s->def, f);
        if (s->kind == RP_CONFIG_KIND_ENUM)
            fprintf(f, "; one of %s", range);
        else if (s->kind == RP_CONFIG_KIND_INT || s->kind == RP_CONFIG_KIND_SIZE ||
                 s->kind == RP_CONFIG_KIND_DURATION)
            fprintf(f, "; %s", range);
        fprintf(f, "%s%s\n", s->reload ? "; reloadable" : "; needs a restart",
                s->scope == RP_CONFIG_SCOPE_TOPIC ? "; per [topic]" : "");
    }
}
