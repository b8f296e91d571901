#include "atomic_file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void release(sam_atomic_file *a)
{
    free(a->tmp);
    free(a->path);
    memset(a, 0, sizeof *a);
}

sam_status sam_atomic_open(sam_atomic_file *a, const char *path, sam_error *err)
{
    memset(a, 0, sizeof *a);
    size_t n = strlen(path) + 16;
    a->tmp = malloc(n);
    a->path = strdup(path);
    if (!a->tmp || !a->path) {
        release(a);
        return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    }
    snprintf(a->tmp, n, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(a->tmp);
    if (fd < 0) {
        sam_status st = sam_fail(err, SAM_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
        release(a);
        return st;
    }
    fchmod(fd, 0644); /* mkstemp makes 0600; results are meant to be shared */
    if (!(a->f = fdopen(fd, "wb"))) {
        sam_status st = sam_fail(err, SAM_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
        close(fd);
        unlink(a->tmp);
        release(a);
        return st;
    }
    return SAM_OK;
}

sam_status sam_atomic_commit(sam_atomic_file *a, sam_error *err)
{
    sam_status st = SAM_OK;
    int bad = ferror(a->f);
    if (fclose(a->f) != 0 || bad) st = sam_fail(err, SAM_ERR_IO, "writing '%s': %s", a->path, bad ? "write error" : strerror(errno));
    if (st == SAM_OK && rename(a->tmp, a->path) != 0) st = sam_fail(err, SAM_ERR_IO, "cannot rename to '%s': %s", a->path, strerror(errno));
    if (st) unlink(a->tmp);
    release(a);
    return st;
}

void sam_atomic_abandon(sam_atomic_file *a)
{
    if (!a->f) return;
    fclose(a->f);
    unlink(a->tmp);
    release(a);
}

sam_status sam_file_write(const char *path, const void *data, size_t size, sam_error *err)
{
    sam_atomic_file a;
    sam_status st = sam_atomic_open(&a, path, err);
    if (st) return st;
    if (size && fwrite(data, 1, size, a.f) != size) {
        st = sam_fail(err, SAM_ERR_IO, "writing '%s': %s", path, strerror(errno));
        sam_atomic_abandon(&a);
        return st;
    }
    return sam_atomic_commit(&a, err);
}
