/* sam-rt: Segment Anything inference runtime. The one header for library users.
 *
 *   sam_model *m;   sam_model_open("vit_b.samrt", &m, &err);
 *   sam_config *c;  sam_config_for_model(m, NULL, graph_dir, c, &err);
 *   sam_graph *g;   sam_graph_load(sam_config_graph(c, "image_encoder"), &c->params, m, &g, &err);
 *   sam_session *s; sam_session_create(g, NULL, &s, &err);
 *   sam_session_set_input(s, "image", pixels, 4, shape, &err);
 *   sam_session_run(s, &err);
 *   sam_session_tensor(s, "image_embeddings", &t, &err);
 *
 * Every call returns a sam_status and fills a sam_error with a message; nothing is
 * printed and nothing exits. */
#ifndef SAMRT_H
#define SAMRT_H

#define SAMRT_VERSION "0.1.0"

#include "config.h"
#include "graph.h"
#include "graph_load.h"
#include "model.h"
#include "npy.h"
#include "params.h"
#include "planner.h"
#include "session.h"
#include "status.h"
#include "tensor.h"

#endif
