/* What the programs share: finding the graphs folder, progress on stderr, parsing
 * numbers from the command line, and opening a model with its config. */
#ifndef SAMRT_TOOL_COMMON_H
#define SAMRT_TOOL_COMMON_H

#include <stdint.h>
#include <stdio.h>

#include "samrt.h"

/* Exit codes: 1 for failures while working, 2 for bad command lines. */
enum { EXIT_USAGE = 2 };

/* $SAMRT_GRAPH_DIR, else the installed share/sam-rt/graphs next to the program, else
 * the source tree's graphs/. */
const char *tool_graph_dir(void);
/* A progress bar on stderr when it is a terminal, "NN%" lines otherwise. */
void tool_progress(void *label, uint64_t done, uint64_t total);
int tool_parse_int(const char *s, long long lo, long long hi, long long *out);
/* Prints "prog: message" to stderr. */
void tool_error(const char *prog, const sam_error *err);
/* Opens the model, finds its config (then applies `overrides`, which may be NULL) and
 * loads the named graph of it (or graph_override). */
sam_status tool_load_graph(const char *model_path, const char *config_path, const char *graph_override,
                           const char *graph_name, const sam_params *overrides, sam_model **model, sam_config *cfg,
                           sam_graph **graph, sam_error *err);
/* Peak resident set size of this process, bytes. */
uint64_t tool_peak_rss(void);

#endif
