#define _GNU_SOURCE
#include "dataset.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "output_files.h"
#include "tool_common.h"

static int has_image_ext(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    char ext[8] = {0};
    for (int i = 0; i < 7 && dot[1 + i]; i++) ext[i] = (char)tolower((unsigned char)dot[1 + i]);
    return !strcmp(ext, "jpg") || !strcmp(ext, "jpeg") || !strcmp(ext, "png");
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static sam_status add_path(dataset_images *l, const char *path, sam_error *err)
{
    char **p = realloc(l->paths, sizeof *p * (size_t)(l->n + 1));
    if (!p || !(p[l->n] = strdup(path))) {
        if (p) l->paths = p;
        return tool_fail(err, SAM_ERR_NOMEM, "out of memory");
    }
    l->paths = p;
    l->n++;
    return SAM_OK;
}

void dataset_images_free(dataset_images *l)
{
    for (int i = 0; i < l->n; i++) free(l->paths[i]);
    free(l->paths);
    memset(l, 0, sizeof *l);
}

sam_status dataset_list_images(const char *const *args, int n_args, dataset_images *l, sam_error *err)
{
    memset(l, 0, sizeof *l);
    sam_status s = SAM_OK;
    for (int i = 0; i < n_args && s == SAM_OK; i++) {
        struct stat st;
        if (stat(args[i], &st) != 0 || !S_ISDIR(st.st_mode)) {
            s = add_path(l, args[i], err);
            continue;
        }
        DIR *d = opendir(args[i]);
        if (!d) {
            s = tool_fail(err, SAM_ERR_IO, "cannot read directory '%s': %s", args[i], strerror(errno));
            break;
        }
        int first = l->n;
        struct dirent *e;
        while (s == SAM_OK && (e = readdir(d))) {
            if (e->d_name[0] == '.' || !has_image_ext(e->d_name)) continue;
            char path[8192];
            snprintf(path, sizeof path, "%s/%s", args[i], e->d_name);
            s = add_path(l, path, err);
        }
        closedir(d);
        if (s == SAM_OK && l->n == first) s = tool_fail(err, SAM_ERR_INVALID_ARG, "--image %s: no .jpg, .jpeg or .png files in the directory", args[i]);
        if (s == SAM_OK) qsort(l->paths + first, (size_t)(l->n - first), sizeof *l->paths, by_name);
        l->nested = 1;
    }
    if (l->n > 1) l->nested = 1;
    if (s) dataset_images_free(l);
    return s;
}

sam_status dataset_check_single(const dataset_images *l, int overwrite, int shard_n, sam_error *err)
{
    if (l->nested || (!overwrite && shard_n <= 1)) return SAM_OK;
    return tool_fail(err, SAM_ERR_INVALID_ARG, "--overwrite and --shard are for folder runs (a directory or several --image)");
}

int dataset_parse_shard(const char *arg, int *k, int *n)
{
    const char *slash = strchr(arg, '/');
    long long kk, nn;
    char head[32];
    if (!slash || (size_t)(slash - arg) >= sizeof head) return 0;
    memcpy(head, arg, (size_t)(slash - arg));
    head[slash - arg] = 0;
    if (!tool_parse_int(slash + 1, 1, 1000000, &nn) || !tool_parse_int(head, 0, nn - 1, &kk)) return 0;
    *k = (int)kk;
    *n = (int)nn;
    return 1;
}

/* FNV-1a of the file name: the split does not move when images are added or the folder
 * is mounted elsewhere */
int dataset_in_shard(const char *path, int k, int n)
{
    const char *base = strrchr(path, '/');
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *c = (const unsigned char *)(base ? base + 1 : path); *c; c++) h = (h ^ *c) * 1099511628211ULL;
    return (int)(h % (uint64_t)n) == k;
}

const char *dataset_stem(const char *path, char *buf, size_t cap)
{
    const char *base = strrchr(path, '/');
    snprintf(buf, cap, "%s", base ? base + 1 : path);
    char *dot = strrchr(buf, '.');
    if (dot && dot != buf) *dot = 0;
    return buf;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        unlink(path);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char child[8192];
        snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        struct stat st;
        if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode)) remove_tree(child);
        else unlink(child);
    }
    closedir(d);
    rmdir(path);
}

/* ---- the manifest: one JSON line per image outcome, appended with one write() each,
 * so that shards appending to one file never interleave inside a line ---- */


sam_status dataset_manifest_open(dataset_manifest *m, const char *out_dir, sam_error *err)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/manifest.jsonl", out_dir);
    memset(m, 0, sizeof *m);
    FILE *f = fopen(path, "r");
    if (f) { /* what earlier runs finished; a line torn by a kill is ignored */
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        int ends_in_newline = 1;
        while ((len = getline(&line, &cap, f)) > 0) {
            ends_in_newline = line[len - 1] == '\n';
            json_t *j = json_loadb(line, (size_t)len, 0, NULL);
            const char *status = json_string_value(json_object_get(j, "status")), *stem = json_string_value(json_object_get(j, "output"));
            if (status && stem && !strcmp(status, "done")) {
                char **p = realloc(m->done, sizeof *p * (size_t)(m->n_done + 1));
                if (p && (p[m->n_done] = strdup(stem))) m->n_done++;
                if (p) m->done = p;
            }
            json_decref(j);
        }
        free(line);
        fclose(f);
        if (m->n_done) qsort(m->done, (size_t)m->n_done, sizeof *m->done, by_name);
        m->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (m->fd >= 0 && !ends_in_newline && write(m->fd, "\n", 1) != 1) {
            close(m->fd);
            m->fd = -1;
        }
    } else {
        m->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    }
    if (m->fd < 0) return tool_fail(err, SAM_ERR_IO, "cannot open '%s' for appending: %s", path, strerror(errno));
    return SAM_OK;
}

int dataset_manifest_has_done(const dataset_manifest *m, const char *stem)
{
    return m->n_done && bsearch(&stem, m->done, (size_t)m->n_done, sizeof *m->done, by_name) != NULL;
}

void dataset_manifest_close(dataset_manifest *m)
{
    if (m->fd >= 0) close(m->fd);
    for (int i = 0; i < m->n_done; i++) free(m->done[i]);
    free(m->done);
}

/* status: "done" or "failed"; n_masks < 0 and seconds < 0 are left out */
static int manifest_add(dataset_manifest *m, const char *image, const char *stem, const char *status, int n_masks, double seconds, const char *error,
                        const dataset_options *o)
{
    json_t *j = json_object();
    json_object_set_new(j, "image", json_string(image));
    json_object_set_new(j, "output", json_string(stem));
    json_object_set_new(j, "status", json_string(status));
    if (n_masks >= 0) json_object_set_new(j, "masks", json_integer(n_masks));
    if (seconds >= 0) json_object_set_new(j, "seconds", json_real(seconds));
    if (error) json_object_set_new(j, "error", json_string(error));
    if (o->shard_n > 1) {
        char shard[32];
        snprintf(shard, sizeof shard, "%d/%d", o->shard_k, o->shard_n);
        json_object_set_new(j, "shard", json_string(shard));
    }
    char *text = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(4));
    json_decref(j);
    if (!text) return 0;
    size_t len = strlen(text);
    text[len] = '\n'; /* json_dumps's terminator becomes the line's end */
    int ok = write(m->fd, text, len + 1) == (ssize_t)(len + 1);
    free(text);
    return ok;
}

/* The masks of a finished folder whose manifest line was lost (killed between the rename
 * and the line): the rows of its metadata.csv, or of result.json's masks. */
static int count_masks(const char *dir)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/metadata.csv", dir);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int lines = 0, c, last = '\n';
    while ((c = fgetc(f)) != EOF) {
        if (c == '\n') lines++;
        last = c;
    }
    fclose(f);
    if (last != '\n') lines++;
    return lines > 0 ? lines - 1 : 0;
}

/* ---- the run ---- */

/* Stems sorted with the image they came from, so that a clash is found in n log n */
typedef struct {
    char *stem;
    int image;
} stem_entry;

static int by_stem(const void *a, const void *b)
{
    return strcmp(((const stem_entry *)a)->stem, ((const stem_entry *)b)->stem);
}

static sam_status check_stems(char *const *images, int n, sam_error *err)
{
    stem_entry *e = calloc((size_t)(n > 0 ? n : 1), sizeof *e);
    sam_status st = e ? SAM_OK : tool_fail(err, SAM_ERR_NOMEM, "out of memory");
    for (int i = 0; st == SAM_OK && i < n; i++) {
        char stem[4096];
        e[i].image = i;
        if (!(e[i].stem = strdup(dataset_stem(images[i], stem, sizeof stem)))) st = tool_fail(err, SAM_ERR_NOMEM, "out of memory");
    }
    if (st == SAM_OK) qsort(e, (size_t)n, sizeof *e, by_stem);
    for (int i = 1; st == SAM_OK && i < n; i++)
        if (!strcmp(e[i - 1].stem, e[i].stem)) {
            int first = e[i - 1].image < e[i].image ? e[i - 1].image : e[i].image;
            int second = e[i - 1].image < e[i].image ? e[i].image : e[i - 1].image;
            st = tool_fail(err, SAM_ERR_INVALID_ARG, "'%s' and '%s' would both write the folder '%s'", images[first], images[second], e[i].stem);
        }
    for (int i = 0; e && i < n; i++) free(e[i].stem);
    free(e);
    return st;
}

static sam_status commit_dir(const char *tmp, const char *final, int overwrite, sam_error *err)
{
    char old[8300];
    int had_old = 0;
    if (overwrite && is_dir(final)) {
        snprintf(old, sizeof old, "%s.old-%d", final, (int)getpid());
        if (rename(final, old) != 0) return tool_fail(err, SAM_ERR_IO, "cannot move '%s' aside: %s", final, strerror(errno));
        had_old = 1;
    }
    if (rename(tmp, final) != 0) {
        sam_status st = tool_fail(err, SAM_ERR_IO, "cannot rename '%s' to '%s': %s", tmp, final, strerror(errno));
        if (had_old) rename(old, final);
        return st;
    }
    if (had_old) remove_tree(old);
    return SAM_OK;
}

int dataset_run(const dataset_options *o, char *const *images, int n_images, dataset_image_fn fn, void *ctx)
{
    sam_error err = {0};
    dataset_manifest m = {.fd = -1};
    if (check_stems(images, n_images, &err) || make_dir(o->out_dir, &err) || dataset_manifest_open(&m, o->out_dir, &err)) {
        fprintf(stderr, "sam-run: %s\n", err.msg);
        dataset_manifest_close(&m);
        return 1;
    }
    int in_shard = 0, done = 0, skipped = 0, failed = 0, position = 0;
    for (int i = 0; i < n_images; i++) in_shard += dataset_in_shard(images[i], o->shard_k, o->shard_n);
    if (o->shard_n > 1) fprintf(stderr, "sam-run: shard %d/%d: %d of %d images\n", o->shard_k, o->shard_n, in_shard, n_images);
    double start = tool_now();
    for (int i = 0; i < n_images; i++) {
        if (!dataset_in_shard(images[i], o->shard_k, o->shard_n)) continue;
        position++;
        char stem[4096], final[8192], tmp[8300];
        dataset_stem(images[i], stem, sizeof stem);
        snprintf(final, sizeof final, "%s/%s", o->out_dir, stem);
        snprintf(tmp, sizeof tmp, "%s/.%s.partial", o->out_dir, stem);
        if (is_dir(final) && !o->overwrite) {
            if (!dataset_manifest_has_done(&m, stem)) manifest_add(&m, images[i], stem, "done", count_masks(final), -1, NULL, o);
            skipped++;
            continue;
        }
        /* a partial folder is a killed run's (shards never share an image) */
        remove_tree(tmp);
        double t0 = tool_now();
        int n_masks = -1;
        sam_status st = make_dir(tmp, &err);
        if (st == SAM_OK) st = fn(ctx, images[i], tmp, &n_masks, &err);
        if (st == SAM_OK) st = commit_dir(tmp, final, o->overwrite, &err);
        double seconds = tool_now() - t0;
        if (st == SAM_OK) {
            done++;
            if (!manifest_add(&m, images[i], stem, "done", n_masks, seconds, NULL, o)) fprintf(stderr, "sam-run: warning: cannot append to the manifest\n");
            fprintf(stderr, "[%d/%d] %s: %d mask%s in %.1f s\n", position, in_shard, images[i], n_masks, n_masks == 1 ? "" : "s", seconds);
        } else {
            remove_tree(tmp);
            failed++;
            manifest_add(&m, images[i], stem, "failed", -1, seconds, err.msg, o);
            fprintf(stderr, "[%d/%d] %s: FAILED: %s\n", position, in_shard, images[i], err.msg);
            if (!o->keep_going) break;
        }
    }
    fprintf(stderr, "sam-run: %d done, %d already there, %d failed in %.1f s; outcomes in %s/manifest.jsonl\n", done, skipped, failed, tool_now() - start,
            o->out_dir);
    dataset_manifest_close(&m);
    return failed ? 1 : 0;
}
