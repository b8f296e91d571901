/* sam-run --input/--output: any graph of a model on .npy tensors, with its memory plan,
 * profile and trace on request. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "modes.h"
#include "tool_common.h"

int run_graph_mode(const run_options *o)
{
    sam_error err = {0};
    sam_model *model = NULL;
    sam_graph *graph = NULL;
    sam_session *sess = NULL;
    const char *params[RUN_MAX_IO + 1];
    char param_text[RUN_MAX_IO][512];
    int written = 0, rc = 1;
    for (int i = 0; i < o->n_params; i++) {
        snprintf(param_text[i], sizeof param_text[i], "%s=%s", o->params[i].name, o->params[i].value);
        params[i] = param_text[i];
    }
    params[o->n_params] = NULL;
    sam_model_params mp = sam_model_default_params();
    mp.config_path = o->config;
    if (sam_model_open(o->model, &mp, &model, &err) || sam_graph_load(model, o->graph ? o->graph : "image_encoder", params, &graph, &err)) goto fail;
    for (int i = 0; i < o->n_outputs; i++)
        if (sam_graph_keep(graph, o->outputs[i].name, &err)) goto fail;
    for (int k = 0; k < sam_graph_n_inputs(graph); k++) {
        sam_tensor_view in;
        sam_graph_input(graph, k, &in);
        int given = 0;
        for (int i = 0; i < o->n_inputs; i++) given |= strcmp(o->inputs[i].name, in.name) == 0;
        if (!given) {
            tool_fail(&err, SAM_ERR_INVALID_ARG, "graph '%s' needs input '%s': give --input %s=FILE.npy", sam_graph_name(graph), in.name, in.name);
            goto fail;
        }
    }
    sam_session_params sp = sam_session_default_params();
    sp.n_threads = o->threads;
    sp.profile = o->profile;
    sp.fuse = !o->no_fuse;
    sp.reference = o->reference;
    sp.trace = o->trace != NULL;
    if (sam_session_create(graph, &sp, &sess, &err)) goto fail;
    if (o->dump_plan) sam_session_print_plan(sess, stdout);
    for (int i = 0; i < o->n_inputs; i++) {
        sam_npy a;
        if (sam_npy_load(o->inputs[i].value, &a, &err)) goto fail;
        sam_status st = a.dtype == SAM_NPY_F32 ? sam_session_set_input(sess, o->inputs[i].name, a.data, a.ndim, a.shape, &err)
                                               : tool_fail(&err, SAM_ERR_INVALID_ARG, "%s: input must be float32", o->inputs[i].value);
        sam_npy_free(&a);
        if (st) {
            char old[sizeof err.msg];
            memcpy(old, err.msg, sizeof old);
            tool_fail(&err, st, "--input %s=%s: %s", o->inputs[i].name, o->inputs[i].value, old);
            goto fail;
        }
    }
    if (sam_session_run(sess, &err)) goto fail;
    for (int i = 0; i < o->n_outputs; i++) {
        sam_tensor_view t;
        if (sam_session_tensor(sess, o->outputs[i].name, &t, &err) || sam_npy_save(o->outputs[i].value, SAM_NPY_F32, t.ndim, t.shape, t.data, &err)) goto fail;
        written++;
    }
    double secs = sam_session_last_run_seconds(sess);
    fprintf(stderr, "sam-run: graph '%s' (%s) ran in %.3f s, %.1f GFLOP/s, activation arena %.1f MiB, peak RSS %.1f MiB\n", sam_graph_name(graph),
            sam_model_variant(model), secs, sam_graph_flops(graph) / secs * 1e-9, (double)sam_session_arena_bytes(sess) / (1 << 20),
            (double)tool_peak_rss() / (1 << 20));
    if (o->profile) {
        sam_session_print_fusion(sess, stderr);
        sam_session_print_profile(sess, stderr);
    }
    if (o->trace) {
        if (sam_session_write_trace(sess, o->trace, &err)) goto fail;
        fprintf(stderr, "sam-run: wrote the trace to %s\n", o->trace);
    }
    rc = 0;
    goto done;
fail:
    tool_error("sam-run", &err);
    for (int i = 0; i < written; i++) unlink(o->outputs[i].value); /* all outputs or none */
done:
    sam_session_free(sess);
    sam_graph_free(graph);
    sam_model_free(model);
    return rc;
}
