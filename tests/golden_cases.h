/* The prompt cases of a golden set's manifest (../shared/golden/sam_tiny or sam2_tiny),
 * read into sam_prompts, and the golden arrays of each case. */
#ifndef SAMRT_GOLDEN_CASES_H
#define SAMRT_GOLDEN_CASES_H

#include "../task/predictor.h"
#include "json.h"
#include "test_util.h"

/* golden/README.md, "What parity means" */
#define LOGITS_MAX_ABS 1e-2
#define IOU_MAX_ABS 1e-3

typedef struct {
    sam_prompt prompts[8];
    float points[8][16];
    int labels[8][8];
    sam_array mask_input;
    int n, batched;
} case_prompts;

/* With Check assertions (main thread), and without (any thread: 0 on success). */
/* `set` is the golden folder ("sam_tiny", "sam2_tiny"). */
void read_case(const char *set, const json_t *c, case_prompts *cp);
int read_case_quiet(const char *set, const json_t *c, case_prompts *cp);
/* The golden array named by c[key] (e.g. "low_res_logits_file"). */
sam_array load_golden(const char *set, const json_t *c, const char *key);
int load_golden_quiet(const char *set, const json_t *c, const char *key, sam_array *out);

#endif
