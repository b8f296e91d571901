/* Writing result files all or none: text files appear under their name only when
 * complete, and a job that fails removes the files it already wrote. */
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

/* A text file written under a temporary name; atomic_close renames it into place (or
 * removes it, when writing failed) and records it in w. */
typedef struct atomic_file {
    FILE *f;
    char *tmp;
    char *path;
} atomic_file;

sam_status atomic_open(atomic_file *a, const char *path, sam_error *err);
sam_status atomic_close(atomic_file *a, written_files *w, sam_error *err);
/* Drops a file that will not be completed. */
void atomic_abandon(atomic_file *a);

/* mkdir -p for one more level; fine if it exists. */
sam_status make_dir(const char *path, sam_error *err);

#endif
