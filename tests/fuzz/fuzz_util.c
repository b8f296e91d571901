#define _GNU_SOURCE
#include "fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char scratch[4096];

static void remove_scratch(void)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
    if (system(cmd) != 0) fprintf(stderr, "fuzz: could not remove %s\n", scratch);
}

const char *fuzz_dir(void)
{
    if (!scratch[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(scratch, sizeof scratch, "%s/samrt-fuzz-%d", tmp && *tmp ? tmp : "/tmp", (int)getpid());
        if (mkdir(scratch, 0700) != 0) {
            perror(scratch);
            abort();
        }
        atexit(remove_scratch);
    }
    return scratch;
}

const char *fuzz_file(const char *name, const uint8_t *data, size_t size)
{
    static char path[4200];
    snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name);
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    size_t n = size ? fwrite(data, 1, size, f) : 0;
    if (fclose(f) != 0 || n != size) return NULL;
    return path;
}

char *fuzz_string(const uint8_t *data, size_t size)
{
    static char *buf;
    static size_t cap;
    if (size + 1 > cap) {
        free(buf);
        cap = size + 1;
        buf = malloc(cap);
        if (!buf) abort();
    }
    memcpy(buf, data, size);
    buf[size] = 0;
    return buf;
}

sam_model *fuzz_tiny_model(void)
{
    static sam_model *model;
    static int tried;
    if (tried) return model;
    tried = 1;
    const char *golden = getenv("SAMRT_GOLDEN");
    char pth[4096], blob[4200];
    snprintf(pth, sizeof pth, "%s/sam_tiny/sam_tiny_seed0.pth", golden && *golden ? golden : SAMRT_GOLDEN_DEFAULT);
    snprintf(blob, sizeof blob, "%s/sam_tiny.samrt", fuzz_dir());
    sam_error err;
    if (sam_convert_checkpoint(pth, blob, NULL, NULL, &err) || sam_model_open(blob, NULL, &model, &err)) {
        fprintf(stderr, "fuzz: no test model (%s); set SAMRT_GOLDEN to ../shared/golden\n", err.msg);
        model = NULL;
    }
    return model;
}
