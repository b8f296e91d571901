/* Writing a program's results all or none: text is composed in memory and handed to the
 * library's atomic write, and a job that fails removes the files it already wrote. */
#ifndef SAMRT_OUTPUT_FILES_H
#define SAMRT_OUTPUT_FILES_H

#include <stdio.h>

#include "samrt.h"

typedef struct written_files {
    char **paths;
    int n;
} written_files;

/* Records a file the job wrote. */
void written_add(written_files *w, const char *path);
/* Removes every recorded file (the job failed). */
void written_rollback(written_files *w);
void written_free(written_files *w);

/* A text file being composed: write to f, then text_commit it. */
typedef struct text_file {
    FILE *f;
    char *buf, *path;
    size_t size;
} text_file;

sam_status text_open(text_file *t, const char *path, sam_error *err);
/* Writes the file whole (or not at all) and records it in w. */
sam_status text_commit(text_file *t, written_files *w, sam_error *err);
void text_abandon(text_file *t);
/* The PNG, recorded in w. */
sam_status png_output(const char *path, int width, int height, int channels, const uint8_t *pixels, written_files *w, sam_error *err);

/* mkdir for one more level; fine if it exists. */
sam_status make_dir(const char *path, sam_error *err);

#endif
