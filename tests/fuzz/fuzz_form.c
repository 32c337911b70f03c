/* Form and query-string parsing (core/form.c): any bytes as a URL query,
 * then as a POST body added to it, then every pair looked up. */
#include "fuzz.h"

#include "core/form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    form_t *f = form_parse(s, size / 2);
    form_parse_more(f, s + size / 2, size - size / 2);
    size_t total = 0;
    for (size_t i = 0; i < form_count(f); i++) {
        total += strlen(form_name(f, i)) + strlen(form_value(f, i));
        (void)form_get(f, form_name(f, i));
    }
    (void)total;
    form_free(f);
    size_t n = 0;
    char *d = form_url_decode(s, size, size & 1, &n);
    free(d);
    return 0;
}
