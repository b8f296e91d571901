#include "output_files.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

sam_status atomic_open(atomic_file *a, const char *path, sam_error *err)
{
    size_t len = strlen(path) + 16;
    a->f = NULL;
    a->path = strdup(path);
    a->tmp = malloc(len);
    if (!a->tmp || !a->path) {
        free(a->tmp);
        free(a->path);
        return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    }
    snprintf(a->tmp, len, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(a->tmp);
    if (fd >= 0) {
        fchmod(fd, 0644);
        a->f = fdopen(fd, "w");
        if (!a->f) {
            close(fd);
            unlink(a->tmp);
        }
    }
    if (!a->f) {
        sam_status st = sam_fail(err, SAM_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
        free(a->tmp);
        free(a->path);
        a->tmp = a->path = NULL;
        return st;
    }
    return SAM_OK;
}

sam_status atomic_close(atomic_file *a, written_files *w, sam_error *err)
{
    int ok = !ferror(a->f);
    ok = fclose(a->f) == 0 && ok;
    if (ok) ok = rename(a->tmp, a->path) == 0;
    sam_status st = SAM_OK;
    if (ok) written_add(w, a->path);
    else {
        st = sam_fail(err, SAM_ERR_IO, "cannot write '%s': %s", a->path, strerror(errno));
        unlink(a->tmp);
    }
    free(a->tmp);
    free(a->path);
    a->tmp = a->path = NULL;
    a->f = NULL;
    return st;
}

void atomic_abandon(atomic_file *a)
{
    if (a->f) fclose(a->f);
    if (a->tmp) unlink(a->tmp);
    free(a->tmp);
    free(a->path);
    a->f = NULL;
    a->tmp = a->path = NULL;
}

sam_status make_dir(const char *path, sam_error *err)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST) return sam_fail(err, SAM_ERR_IO, "cannot create directory '%s': %s", path, strerror(errno));
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return sam_fail(err, SAM_ERR_IO, "'%s' exists and is not a directory", path);
    return SAM_OK;
}
