/* core/ids: a UUIDv4 is 36 characters, 8-4-4-4-12 lowercase hex digits,
 * version 4 and RFC 4122's variant, and ids do not repeat. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/ids.h"

static int cmp_id(const void *a, const void *b) { return strcmp(a, b); }

static void test_uuid4_has_the_rfc_4122_shape(void **state)
{
    (void)state;
    for (int n = 0; n < 10000; n++) {
        char id[IDS_UUID_LEN + 2];
        memset(id, 'X', sizeof id);
        ids_uuid4(id);
        assert_int_equal(strlen(id), IDS_UUID_LEN);
        assert_int_equal(id[IDS_UUID_LEN + 1], 'X'); /* nothing past the NUL */
        for (int i = 0; i < IDS_UUID_LEN; i++) {
            if (i == 8 || i == 13 || i == 18 || i == 23)
                assert_int_equal(id[i], '-');
            else
                assert_non_null(strchr("0123456789abcdef", id[i]));
        }
        assert_int_equal(id[14], '4');                    /* version 4 */
        assert_non_null(strchr("89ab", id[19]));          /* variant 10xx */
    }
}

static void test_uuid4_does_not_repeat(void **state)
{
    (void)state;
    enum { N = 50000 };
    char (*ids)[IDS_UUID_LEN + 1] = malloc(N * sizeof *ids);
    for (int i = 0; i < N; i++)
        ids_uuid4(ids[i]);
    qsort(ids, N, sizeof *ids, cmp_id);
    for (int i = 1; i < N; i++)
        assert_int_not_equal(strcmp(ids[i - 1], ids[i]), 0);
    free(ids);
}

static void test_hex_of_every_byte(void **state)
{
    (void)state;
    unsigned char in[256];
    for (int i = 0; i < 256; i++)
        in[i] = (unsigned char)i;
    char out[513], want[3];
    ids_hex(in, 256, out);
    assert_int_equal(strlen(out), 512);
    for (int i = 0; i < 256; i++) {
        snprintf(want, sizeof want, "%02x", i);
        assert_memory_equal(out + 2 * i, want, 2);
    }
    ids_hex(in, 0, out);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uuid4_has_the_rfc_4122_shape),
        cmocka_unit_test(test_uuid4_does_not_repeat),
        cmocka_unit_test(test_hex_of_every_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
