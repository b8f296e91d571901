/* The $(...) expression language of graph files. */
#include <string.h>

#include "test_util.h"

static sam_params P;

static void setup(void)
{
    memset(&P, 0, sizeof P);
    int64_t g[] = {2, 5, 8, 11};
    sam_params_set_int(&P, "embed_dim", 768, NULL);
    sam_params_set_int(&P, "window_size", 14, NULL);
    sam_params_set_int(&P, "i", 5, NULL);
    sam_params_set_list(&P, "global_attn_indexes", g, 4, NULL);
    sam_params_set_float(&P, "eps", 1e-6, NULL);
    int64_t stages[] = {1, 2, 7, 2};
    sam_params_set_list(&P, "stages", stages, 4, NULL);
    sam_params_set_str(&P, "decoder", "sam_mask_decoder", NULL);
}

static int64_t eval_int(const char *s)
{
    sam_value v;
    sam_error err = {0};
    ck_assert_msg(sam_expr_eval(s, &P, &v, &err) == SAM_OK, "%s: %s", s, err.msg);
    ck_assert_int_eq(v.type, SAM_VAL_INT);
    return v.i;
}

START_TEST(test_arithmetic)
{
    setup();
    ck_assert_int_eq(eval_int("embed_dim * 4"), 3072);
    ck_assert_int_eq(eval_int("(1 + 2) * 3 - -1"), 10);
    ck_assert_int_eq(eval_int("1024 / 16"), 64);
    ck_assert_int_eq(eval_int("7 % 3"), 1);
    ck_assert_int_eq(eval_int("i in global_attn_indexes ? 0 : window_size"), 0);
    ck_assert_int_eq(eval_int("i + 1 in global_attn_indexes ? 0 : window_size"), 14);
    ck_assert_int_eq(eval_int("i not in [1, 2]"), 1);
    ck_assert_int_eq(eval_int("global_attn_indexes[3]"), 11);
    ck_assert_int_eq(eval_int("i >= 5"), 1);
}
END_TEST

START_TEST(test_functions_and_logic)
{
    setup();
    ck_assert_int_eq(eval_int("len(stages)"), 4);
    ck_assert_int_eq(eval_int("sum(stages)"), 12);
    ck_assert_int_eq(eval_int("sum(stages, 2) + 1"), 4); /* the second block of stage 3 */
    ck_assert_int_eq(eval_int("sum(stages, 0)"), 0);
    ck_assert_int_eq(eval_int("sum([])"), 0);
    ck_assert_int_eq(eval_int("embed_dim * pow(2, 3)"), 6144);
    ck_assert_int_eq(eval_int("pow(7, 0)"), 1);
    ck_assert_int_eq(eval_int("i > 0 and i < 5"), 0);
    ck_assert_int_eq(eval_int("i > 0 and i <= 5"), 1);
    ck_assert_int_eq(eval_int("i == 0 or 3 in stages"), 0);
    ck_assert_int_eq(eval_int("i == 0 or 7 in stages"), 1);
    ck_assert_int_eq(eval_int("not i == 5"), 0);
    ck_assert_int_eq(eval_int("not 0 and 1"), 1);                  /* not binds tighter than and */
    ck_assert_int_eq(eval_int("1 or 0 ? 10 : 20"), 10);            /* and/or bind tighter than ?: */
    ck_assert_int_eq(eval_int("stages[len(stages) - 1]"), 2);
    ck_assert_int_eq(eval_int("i not in stages"), 1);

    sam_value v;
    sam_error err = {0};
    ck_assert_int_eq(sam_expr_eval("sum(stages, 5)", &P, &v, &err), SAM_ERR_GRAPH);
    ck_assert_int_eq(sam_expr_eval("pow(2, 63)", &P, &v, &err), SAM_ERR_GRAPH);
    ck_assert_int_eq(sam_expr_eval("pow(10, 19)", &P, &v, &err), SAM_ERR_GRAPH); /* overflow */
    ck_assert_int_eq(sam_expr_eval("-(-9223372036854775807 - 1)", &P, &v, &err), SAM_ERR_GRAPH); /* -INT64_MIN (a fuzzing finding) */
    ck_assert_msg(strstr(err.msg, "overflow"), "%s", err.msg);
    ck_assert_int_eq(sam_expr_eval("len(i)", &P, &v, &err), SAM_ERR_GRAPH);
    ck_assert_int_eq(sam_expr_eval("max(1, 2)", &P, &v, &err), SAM_ERR_GRAPH);
    ck_assert_ptr_nonnull(strstr(err.msg, "unknown function 'max'"));
    ck_assert_int_eq(sam_expr_eval("sum(stages, 1, 2)", &P, &v, &err), SAM_ERR_GRAPH);
    ck_assert_int_eq(sam_expr_eval("len(stages", &P, &v, &err), SAM_ERR_GRAPH);
    ck_assert_int_eq(sam_expr_eval("1 and", &P, &v, &err), SAM_ERR_GRAPH);
    ck_assert_int_eq(sam_expr_eval("stages and 1", &P, &v, &err), SAM_ERR_GRAPH);
}
END_TEST

START_TEST(test_errors)
{
    setup();
    sam_value v;
    sam_error err = {0};
    ck_assert_int_eq(sam_expr_eval("embed_dims * 2", &P, &v, &err), SAM_ERR_GRAPH);
    ck_assert_ptr_nonnull(strstr(err.msg, "unknown parameter 'embed_dims'"));
    ck_assert_int_eq(sam_expr_eval("1 / 0", &P, &v, &err), SAM_ERR_GRAPH);
    ck_assert_int_eq(sam_expr_eval("(1 + 2", &P, &v, &err), SAM_ERR_GRAPH);
    ck_assert_int_eq(sam_expr_eval("9223372036854775807 + 1", &P, &v, &err), SAM_ERR_GRAPH);
    ck_assert_int_eq(sam_expr_eval("global_attn_indexes[9]", &P, &v, &err), SAM_ERR_GRAPH);
    ck_assert_int_eq(sam_expr_eval("1 2", &P, &v, &err), SAM_ERR_GRAPH);
    char deep[400];
    memset(deep, '(', sizeof deep - 1);
    deep[sizeof deep - 1] = 0;
    ck_assert_int_eq(sam_expr_eval(deep, &P, &v, &err), SAM_ERR_GRAPH);
}
END_TEST

START_TEST(test_interpolation)
{
    setup();
    sam_value v;
    sam_error err = {0};
    ck_assert_int_eq(sam_resolve_scalar("image_encoder.blocks.$(i).norm1.weight", &P, &v, &err), SAM_OK);
    ck_assert_int_eq(v.type, SAM_VAL_STR);
    ck_assert_str_eq(v.s, "image_encoder.blocks.5.norm1.weight");
    ck_assert_int_eq(sam_resolve_scalar("x.$(i + 1)", &P, &v, &err), SAM_OK);
    ck_assert_str_eq(v.s, "x.6");
    ck_assert_int_eq(sam_resolve_scalar("$(eps)", &P, &v, &err), SAM_OK);
    ck_assert_int_eq(v.type, SAM_VAL_FLOAT);
    ck_assert_double_eq(v.f, 1e-6);
    ck_assert_int_eq(sam_resolve_scalar("$(global_attn_indexes)", &P, &v, &err), SAM_OK);
    ck_assert_int_eq(v.type, SAM_VAL_LIST);
    ck_assert_int_eq(sam_resolve_scalar("42", &P, &v, &err), SAM_OK);
    ck_assert_int_eq(v.type, SAM_VAL_INT);
    ck_assert_int_eq(sam_resolve_scalar("a.$(i", &P, &v, &err), SAM_ERR_GRAPH);
    ck_assert_int_eq(sam_resolve_scalar("a.$(eps)", &P, &v, &err), SAM_ERR_GRAPH); /* names need integers or strings */
    ck_assert_int_eq(sam_resolve_scalar("$(decoder).transformer.layers.$(i - 5).norm1.weight", &P, &v, &err), SAM_OK);
    ck_assert_str_eq(v.s, "sam_mask_decoder.transformer.layers.0.norm1.weight");
    ck_assert_int_eq(sam_resolve_scalar("a.$(stages)", &P, &v, &err), SAM_ERR_GRAPH);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("params");
    TCase *tc = tcase_create("expressions");
    tcase_add_test(tc, test_arithmetic);
    tcase_add_test(tc, test_functions_and_logic);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_interpolation);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
