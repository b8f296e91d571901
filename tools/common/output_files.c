#define _GNU_SOURCE /* open_memstream */
#include "output_files.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool_common.h"

void written_add(written_files *w, const char *path)
{
    char **p = realloc(w->paths, sizeof *p * (size_t)(w->n + 1));
    if (!p) return;
    w->paths = p;
    if ((w->paths[w->n] = strdup(path))) w->n++;
}

void written_rollback(written_files *w)
{
    for (int i = 0; i < w->n; i++) unlink(w->paths[i]);
}

void written_free(written_files *w)
{
    for (int i = 0; i < w->n; i++) free(w->paths[i]);
    free(w->paths);
    w->paths = NULL;
    w->n = 0;
}

sam_status text_open(text_file *t, const char *path, sam_error *err)
{
    memset(t, 0, sizeof *t);
    if (!(t->path = strdup(path)) || !(t->f = open_memstream(&t->buf, &t->size))) {
        free(t->path);
        t->path = NULL;
        return tool_fail(err, SAM_ERR_NOMEM, "out of memory");
    }
    return SAM_OK;
}

sam_status text_commit(text_file *t, written_files *w, sam_error *err)
{
    int ok = !ferror(t->f);
    ok = fclose(t->f) == 0 && ok;
    t->f = NULL;
    sam_status st = ok ? sam_file_write(t->path, t->buf, t->size, err) : tool_fail(err, SAM_ERR_NOMEM, "out of memory composing '%s'", t->path);
    if (st == SAM_OK) written_add(w, t->path);
    text_abandon(t);
    return st;
}

void text_abandon(text_file *t)
{
    if (t->f) fclose(t->f);
    free(t->buf);
    free(t->path);
    memset(t, 0, sizeof *t);
}

sam_status png_output(const char *path, int width, int height, int channels, const uint8_t *pixels, written_files *w, sam_error *err)
{
    sam_status st = sam_png_write(path, width, height, channels, pixels, err);
    if (st == SAM_OK) written_add(w, path);
    return st;
}

sam_status make_dir(const char *path, sam_error *err)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST) return tool_fail(err, SAM_ERR_IO, "cannot create directory '%s': %s", path, strerror(errno));
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return tool_fail(err, SAM_ERR_IO, "'%s' exists and is not a directory", path);
    return SAM_OK;
}
