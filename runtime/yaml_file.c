#include "yaml_file.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

sam_status sam_yaml_load_file(const char *path, const char *what, yaml_document_t *doc, sam_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return sam_fail(err, SAM_ERR_IO, "cannot open %s '%s': %s", what, path, strerror(errno));
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    }
    yaml_parser_set_input_file(&parser, f);
    sam_status st = SAM_OK;
    if (!yaml_parser_load(&parser, doc))
        st = sam_fail(err, SAM_ERR_FORMAT, "%s:%zu:%zu: YAML syntax error: %s%s%s", path, parser.problem_mark.line + 1,
                      parser.problem_mark.column + 1, parser.problem ? parser.problem : "unknown", parser.context ? " " : "",
                      parser.context ? parser.context : "");
    yaml_parser_delete(&parser);
    fclose(f);
    return st;
}
