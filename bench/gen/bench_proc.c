/* SPDX-License-Identifier: MIT */
#include "gen/bench_proc.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "gen/bench_clock.h"

struct proc_stat {
    pid_t pid;
    pid_t ppid;
    bool in_tree;
    unsigned long long ticks; /* utime + stime + cutime + cstime */
    unsigned long long rss_pages;
};

/* Reads /proc/<pid>/stat; false when the process went away meanwhile. */
static bool
read_stat(pid_t pid, struct proc_stat *st)
{
    char path[64], line[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    size_t n = fread(line, 1, sizeof(line) - 1, f);
    fclose(f);
    line[n] = '\0';
    /* The command name may hold spaces and parentheses: fields restart after the last ')'. */
    const char *p = strrchr(line, ')');
    if (!p)
        return false;
    int ppid;
    unsigned long long ut, stt, cut, cst, rss;
    int got = sscanf(p + 1,
                     " %*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu %*d %*d "
                     "%*d %*d %*u %*u %llu",
                     &ppid, &ut, &stt, &cut, &cst, &rss);
    if (got != 6)
        return false;
    st->pid = pid;
    st->ppid = (pid_t)ppid;
    st->in_tree = false;
    st->ticks = ut + stt + cut + cst;
    st->rss_pages = rss;
    return true;
}

int
bench_proc_sample(pid_t pid, struct bench_proc_sample *out)
{
    memset(out, 0, sizeof(*out));
    out->at_ns = bench_clock_ns();
    DIR *d = opendir("/proc");
    if (!d)
        return -errno;
    size_t n = 0, cap = 256;
    struct proc_stat *all = rp_xmalloc(cap * sizeof(*all));
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char *end;
        long v = strtol(de->d_name, &end, 10);
        if (*end || v <= 0)
            continue;
        if (n == cap) {
            cap *= 2;
            all = rp_xrealloc(all, cap * sizeof(*all));
        }
        if (read_stat((pid_t)v, &all[n]))
            n++;
    }
    closedir(d);

    bool found = false;
    for (size_t i = 0; i < n; i++) {
        if (all[i].pid == pid) {
            all[i].in_tree = true;
            found = true;
        }
    }
    /* Mark descendants until a pass adds none; process trees are shallow. */
    for (bool grew = found; grew;) {
        grew = false;
        for (size_t i = 0; i < n; i++) {
            if (all[i].in_tree)
                continue;
            for (size_t j = 0; j < n; j++) {
                if (all[j].in_tree && all[j].pid == all[i].ppid) {
                    all[i].in_tree = true;
                    grew = true;
                    break;
                }
            }
        }
    }
    unsigned long long ticks = 0, pages = 0;
    for (size_t i = 0; i < n; i++) {
        if (!all[i].in_tree)
            continue;
        ticks += all[i].ticks;
        pages += all[i].rss_pages;
        out->n_procs++;
    }
    free(all);
    if (!found)
        return -ESRCH;
    long hz = sysconf(_SC_CLK_TCK);
    long page = sysconf(_SC_PAGESIZE);
    out->rss_kb = pages * (unsigned long long)(page > 0 ? page : 4096) / 1024;
    out->cpu_s = (double)ticks / (double)(hz > 0 ? hz : 100);
    out->ok = true;
    return 0;
}
