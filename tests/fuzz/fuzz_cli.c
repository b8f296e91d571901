/* libFuzzer target: the programs' command-line values: integers and numbers with ranges,
 * --point X,Y[,LABEL], --box X0,Y0,X1,Y1, and the generator's options by keyword. The first
 * byte picks the parser, the rest is the argument. */
#include <string.h>

#include "amg_options.h"
#include "fuzz_util.h"
#include "prompts.h"
#include "tool_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 1024) return 0;
    char *arg = fuzz_string(data + 1, size - 1);
    sam_error err;
    long long i;
    double d;
    prompt_set ps = {0};
    switch (data[0] % 6) {
    case 0: (void)tool_parse_int(arg, 1, 1024, &i); break;
    case 1: (void)tool_parse_double(arg, 1e-9, 100, &d); break;
    case 2: (void)tool_parse_int(arg, -(1LL << 62), 1LL << 62, &i); break;
    case 3: /* several --point, as ';'-separated arguments */
        for (char *s = arg, *next; s; s = next) {
            if ((next = strchr(s, ';'))) *next++ = 0;
            if (prompt_add_point(&ps, s, &err) != SAM_OK) break;
        }
        (void)prompt_check_bounds(&ps, 1800, 1200, &err);
        break;
    case 4:
        if (prompt_set_box(&ps, arg, &err) == SAM_OK) (void)prompt_check_bounds(&ps, 1800, 1200, &err);
        break;
    case 5: {
        char *eq = strchr(arg, '=');
        if (!eq) break;
        *eq = 0;
        const amg_option *opt = amg_option_find(arg);
        sam_amg_params given;
        amg_options_unset(&given);
        if (opt && tool_parse_double(eq + 1, opt->lo, opt->hi, &d)) (void)amg_option_store(&given, opt, d);
        break;
    }
    }
    prompt_set_free(&ps);
    return 0;
}
