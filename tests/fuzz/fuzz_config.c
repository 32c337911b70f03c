/* The config loader (core/config.c) from a buffer: libyaml reads the bytes
 * into a document (as config_load does from a file) and the loader checks
 * it, reporting FILE:LINE:COLUMN problems; nothing touches the disk. */
#include "fuzz.h"

#include <yaml.h>

#include "core/config.h"

static void ignore(void *ctx, const char *line)
{
    (void)ctx;
    (void)line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        return 0;
    yaml_parser_set_input_string(&parser, data, size);
    if (yaml_parser_load(&parser, &doc)) {
        int problems = 0;
        if (yaml_document_get_root_node(&doc)) {
            config_t *c = config_load_document("/fuzz/sluice.yaml", &doc, ignore, NULL, &problems);
            config_free(c);
        }
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    return 0;
}
