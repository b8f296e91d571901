/* Loading a YAML file into a libyaml document, with syntax errors as file:line:column. */
#ifndef SAMRT_YAML_FILE_H
#define SAMRT_YAML_FILE_H

#include <yaml.h>

#include "status.h"

/* On success the caller owns *doc (yaml_document_delete). `what` names the file's role
 * in messages ("graph", "config"). */
sam_status sam_yaml_load_file(const char *path, const char *what, yaml_document_t *doc, sam_error *err);

#endif
