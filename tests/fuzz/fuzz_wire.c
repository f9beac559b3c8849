/* SPDX-License-Identifier: MIT */
/* fuzz_wire.c - libFuzzer target: the wire's decoders on any bytes. */
#include "config.h"
#include "wire/wire.h"

#include <stddef.h>
#include <stdint.h>

/*
 * The first byte picks the decoder, as a call's signature will: a frame
 * header, a template, a mechanism, a template then a mechanism, a
 * GetAttributeValue request or response, message parameters and their
 * outputs, or an output buffer.  Each
 * must answer, read nothing past the input, and leave nothing allocated.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wire_reader r;
    wire_template t;
    wire_mechanism m;
    wire_header h;
    wire_get g;
    wire_out o;
    unsigned char out[64];
    CK_ATTRIBUTE t2[2] = { { CKA_LABEL, out, 32 }, { CKA_ID, out + 32, 32 } };
    CK_ULONG out_len = sizeof(out), tag_len = 0;
    wire_msg_params mp;
    CK_RV rv;

    if (size == 0)
        return 0;
    wire_reader_init(&r, data + 1, size - 1);
    switch (data[0] % 8) {
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
    case 3:
        wire_get_template(&r, &t);
        wire_get_mechanism(&r, &m);
        (void)wire_reader_done(&r);
        wire_template_free(&t);
        break;
    case 4:
        /* A GetAttributeValue request, as the appliance reads it (a small
         * budget keeps the fuzzer fast; the limit is what is tested). */
        wire_get_get_request(&r, &g, 65536);
        (void)wire_reader_done(&r);
        wire_get_free(&g);
        break;
    case 5:
        /* A GetAttributeValue response, into a caller's two buffers. */
        (void)wire_get_get_response(&r, t2, 2, &rv);
        break;
    case 6:
        wire_get_msg_params(&r, &mp);
        wire_get_msg_out(&r, out, 12, &out_len, out + 16, 16, &tag_len);
        (void)wire_reader_done(&r);
        break;
    default:
        wire_get_out_request(&r, &o);
        (void)wire_get_out_response(&r, out, &out_len, &rv);
        break;
    }
    return 0;
}
