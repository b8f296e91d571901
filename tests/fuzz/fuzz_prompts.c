/* libFuzzer target: a predict request's JSON (sam-run's --prompts objects and sam-server's
 * predict bodies) through the programs' parser and prompt reader, bounds and mask checks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "prompts.h"

static sam_status fake_logits(void *ctx, prompt_set *s, int obj, const json_t *value, const char *what, sam_error *err)
{
    (void)ctx;
    if (!json_is_string(value)) return SAM_ERR_INVALID_ARG;
    float *logits = calloc(16 * 16, sizeof(float));
    if (!logits) return SAM_ERR_NOMEM;
    return prompt_attach_mask(s, obj, logits, 16, what, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *root;
    sam_error err = {0};
    if (tool_json_parse((const char *)data, size, "fuzz", &root, &err)) return 0;
    prompt_set ps = {0};
    const json_t *objects = json_is_object(root) ? json_object_get(root, "objects") : root;
    static const char *const extra[] = {"multimask", "objects", NULL};
    sam_status st = SAM_OK;
    if (json_is_array(objects) && json_array_size(objects) <= PROMPT_MAX_OBJECTS) {
        for (size_t i = 0; i < json_array_size(objects) && st == SAM_OK; i++)
            st = prompt_add_json_object(&ps, json_array_get(objects, i), "objects[i]", NULL, fake_logits, NULL, &err);
    } else {
        st = prompt_add_json_object(&ps, root, "prompt", extra, fake_logits, NULL, &err);
    }
    if (st == SAM_OK) st = prompt_check_masks(&ps, 16, &err);
    if (st == SAM_OK) prompt_check_bounds(&ps, 1800, 1200, &err);
    prompt_set_free(&ps);
    json_decref(root);
    return 0;
}
