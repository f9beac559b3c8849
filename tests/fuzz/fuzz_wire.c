/* SPDX-License-Identifier: MIT */
/* fuzz_wire.c - libFuzzer target: the wire's decoders on any bytes. */
#include "config.h"
#include "wire/wire.h"

#include <stddef.h>
#include <stdint.h>

/*
 * The first byte picks the decoder, as a call's signature will: a frame
 * header, a template, a mechanism, or a template then a mechanism.  Each
 * must answer, read nothing past the input, and leave nothing allocated.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wire_reader r;
    wire_template t;
    wire_mechanism m;
    wire_header h;

    if (size == 0)
        return 0;
    wire_reader_init(&r, data + 1, size - 1);
    switch (data[0] % 4) {
    case 0:
        if (size - 1 >= WIRE_HEADER_LEN)
            (void)wire_header_parse(data + 1, &h);
        break;
    case 1:
        wire_get_template(&r, &t);
        (void)wire_reader_done(&r);
        wire_template_free(&t);
        break;
    case 2:
        wire_get_mechanism(&r, &m);
        (void)wire_reader_done(&r);
        break;
    default:
        wire_get_template(&r, &t);
        wire_get_mechanism(&r, &m);
        (void)wire_reader_done(&r);
        wire_template_free(&t);
        break;
    }
    return 0;
}
