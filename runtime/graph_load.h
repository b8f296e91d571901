#ifndef SAMRT_GRAPH_LOAD_H
#define SAMRT_GRAPH_LOAD_H

#include "graph.h"
#include "model.h"

/* Loads a YAML graph, resolving $(...) expressions from params and weight names from
 * the model, and checks it whole: every error (syntax, unknown key or op, undefined
 * tensor, shape mismatch) is reported as file:line:column with what was expected. */
sam_status sam_graph_load_file(const char *path, const sam_params *params, const sam_model *model, sam_graph **out,
                          sam_error *err);

#endif
