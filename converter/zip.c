#include "zip.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static int in_bounds(const sam_zip *z, uint64_t off, uint64_t len)
{
    return off <= z->size && len <= z->size - off;
}

static sam_status corrupt(const sam_zip *z, sam_error *err, const char *what)
{
    return sam_fail(err, SAM_ERR_FORMAT, "%s: corrupt or truncated zip archive (%s)", z->path, what);
}

/* Locates the central directory through the end records (classic and zip64). */
static sam_status find_directory(const sam_zip *z, uint64_t *cd_off, uint64_t *cd_size, uint64_t *count, sam_error *err)
{
    if (z->size < 22) return sam_fail(err, SAM_ERR_FORMAT, "%s: not a zip archive (too small); is it a PyTorch checkpoint?", z->path);
    size_t lo = z->size > 22 + 65535 ? z->size - 22 - 65535 : 0;
    size_t eocd = (size_t)-1;
    for (size_t p = z->size - 22 + 1; p-- > lo;)
        if (le(z->map + p, 4) == 0x06054b50u) {
            eocd = p;
            break;
        }
    if (eocd == (size_t)-1) return sam_fail(err, SAM_ERR_FORMAT, "%s: not a zip archive (no end of central directory); PyTorch checkpoints saved with torch.save are zip files", z->path);
    const uint8_t *e = z->map + eocd;
    *count = le(e + 10, 2);
    *cd_size = le(e + 12, 4);
    *cd_off = le(e + 16, 4);
    if (*count == 0xffff || *cd_size == 0xffffffffu || *cd_off == 0xffffffffu) {
        if (eocd < 20 || le(z->map + eocd - 20, 4) != 0x07064b50u) return corrupt(z, err, "zip64 locator missing");
        uint64_t z64 = le(z->map + eocd - 20 + 8, 8);
        if (!in_bounds(z, z64, 56) || le(z->map + z64, 4) != 0x06064b50u) return corrupt(z, err, "bad zip64 end record");
        *count = le(z->map + z64 + 32, 8);
        *cd_size = le(z->map + z64 + 40, 8);
        *cd_off = le(z->map + z64 + 48, 8);
    }
    if (!in_bounds(z, *cd_off, *cd_size)) return corrupt(z, err, "central directory out of bounds");
    if (*count > *cd_size / 46) return corrupt(z, err, "entry count does not fit the central directory");
    return SAM_OK;
}

static sam_status read_entry(sam_zip *z, uint64_t *pos, uint64_t end, sam_zip_entry *e, sam_error *err)
{
    if (*pos > end || end - *pos < 46 || le(z->map + *pos, 4) != 0x02014b50u) return corrupt(z, err, "bad central directory entry");
    const uint8_t *h = z->map + *pos;
    uint64_t csize = le(h + 20, 4), usize = le(h + 24, 4), local = le(h + 42, 4);
    uint64_t nlen = le(h + 28, 2), xlen = le(h + 30, 2), clen = le(h + 32, 2);
    if (end - *pos - 46 < nlen + xlen + clen) return corrupt(z, err, "central directory entry runs past its end");
    e->method = (uint16_t)le(h + 10, 2);
    e->name = malloc(nlen + 1);
    if (!e->name) return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    memcpy(e->name, h + 46, nlen);
    e->name[nlen] = 0;
    /* zip64 extra field: 64-bit values for the fields that hold 0xffffffff */
    const uint8_t *x = h + 46 + nlen, *xend = x + xlen;
    while (xend - x >= 4) {
        uint64_t id = le(x, 2), len = le(x + 2, 2);
        if ((uint64_t)(xend - x - 4) < len) break;
        if (id == 1) {
            const uint8_t *v = x + 4, *vend = x + 4 + len;
            if (usize == 0xffffffffu && vend - v >= 8) { usize = le(v, 8); v += 8; }
            if (csize == 0xffffffffu && vend - v >= 8) { csize = le(v, 8); v += 8; }
            if (local == 0xffffffffu && vend - v >= 8) { local = le(v, 8); v += 8; }
        }
        x += 4 + len;
    }
    e->size = usize;
    if (e->method == 0 && csize != usize) return corrupt(z, err, "stored entry with differing sizes");
    if (!in_bounds(z, local, 30) || le(z->map + local, 4) != 0x04034b50u) return corrupt(z, err, "bad local header");
    uint64_t data = local + 30 + le(z->map + local + 26, 2) + le(z->map + local + 28, 2);
    e->data_offset = data;
    if (!in_bounds(z, data, csize)) {
        return sam_fail(err, SAM_ERR_FORMAT, "%s: entry '%s' (%llu bytes at offset %llu) runs past the end of the file (%zu bytes): truncated download?",
                        z->path, e->name, (unsigned long long)csize, (unsigned long long)data, z->size);
    }
    *pos += 46 + nlen + xlen + clen;
    return SAM_OK;
}

sam_status sam_zip_open(const char *path, sam_zip *z, sam_error *err)
{
    memset(z, 0, sizeof *z);
    z->path = path;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sam_fail(err, SAM_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return sam_fail(err, SAM_ERR_IO, "'%s' is not a regular file", path);
    }
    z->size = (size_t)st.st_size;
    if (z->size == 0) {
        close(fd);
        return sam_fail(err, SAM_ERR_FORMAT, "%s: file is empty", path);
    }
    void *m = mmap(NULL, z->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return sam_fail(err, SAM_ERR_IO, "cannot mmap '%s': %s", path, strerror(errno));
    z->map = m;
    uint64_t cd_off = 0, cd_size = 0, count = 0;
    sam_status s = find_directory(z, &cd_off, &cd_size, &count, err);
    if (s == SAM_OK) {
        z->entries = calloc(count ? count : 1, sizeof *z->entries);
        if (!z->entries) s = sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    }
    uint64_t pos = cd_off;
    for (uint64_t i = 0; s == SAM_OK && i < count; i++) {
        s = read_entry(z, &pos, cd_off + cd_size, &z->entries[i], err);
        z->n_entries++; /* the entry's name is freed even if it failed half-way */
    }
    if (s) sam_zip_close(z);
    return s;
}

void sam_zip_close(sam_zip *z)
{
    for (int i = 0; i < z->n_entries; i++) free(z->entries[i].name);
    free(z->entries);
    if (z->map) munmap((void *)z->map, z->size);
    memset(z, 0, sizeof *z);
}

const sam_zip_entry *sam_zip_find(const sam_zip *z, const char *name)
{
    for (int i = 0; i < z->n_entries; i++)
        if (strcmp(z->entries[i].name, name) == 0) return &z->entries[i];
    return NULL;
}

sam_status sam_zip_data(const sam_zip *z, const sam_zip_entry *e, const uint8_t **data, sam_error *err)
{
    if (e->method != 0)
        return sam_fail(err, SAM_ERR_UNSUPPORTED, "%s: entry '%s' is compressed (method %u); PyTorch stores checkpoint data uncompressed", z->path, e->name, e->method);
    *data = z->map + e->data_offset;
    return SAM_OK;
}
