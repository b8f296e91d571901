/* Mask predictors for the AMG generator: the SAM model, and the synthetic oracle of
 * ../shared/golden/README.md (a test aid: sam-run --auto --oracle). */
#ifndef SAMRT_AMG_PREDICTORS_H
#define SAMRT_AMG_PREDICTORS_H

#include "amg.h"
#include "predictor.h"

/* The model behind a sam_predictor (which stays the caller's). */
void amg_model_predictor(sam_predictor *pred, amg_predictor *out);

/* The oracle: logits 2 (R_k - |p - point|) + 40 sin(x/23) sin(y/31), R = 48, 96, 192, and
 * IoU 0.80 + 0.06 k + 0.12 sin(0.05 px + 0.03 py), in the 1024-pixel input frame. */
sam_status amg_oracle_predictor(amg_predictor *out, sam_error *err);
void amg_oracle_free(amg_predictor *p);

#endif
