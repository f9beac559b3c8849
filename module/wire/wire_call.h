/* SPDX-License-Identifier: MIT */
/* wire_call.h - the trust link's call table, shared by client and daemon. */
#ifndef HSMSIM_WIRE_CALL_H
#define HSMSIM_WIRE_CALL_H

#include <stdint.h>

/*
 * One call per device_ops entry (device/device.h), with fixed ids, as
 * they travel in a frame header.  Each line is the call's request, then
 * (after ->) its response.  Notation, in wire.h's encodings:
 *
 *   u    a CK_ULONG (64 bits)        b    bytes (may be a NULL buffer)
 *   T    a template                  M    a mechanism
 *   out  an output buffer's request  OUT  its response (wire_out.c)
 *   o?   out, or none (u8 0/1 then out: a NULL length pointer)
 *   G    C_GetAttributeValue's request / response (wire_out.c)
 *   P    message parameters          MO   a generated IV and a made tag
 *
 * Every response but OUT and G begins with the call's CK_RV as u; the
 * fields after it travel only when it is CKR_OK.  OUT and G carry the
 * code themselves, with the lengths of CKR_BUFFER_TOO_SMALL.  A request
 * that does not decode exactly is a protocol error: the daemon closes
 * the connection.  An id this side does not know is answered with u
 * CKR_FUNCTION_NOT_SUPPORTED alone.
 */
/*
 * Call 0 is the hello that begins every connection, before any other
 * call: u32 WIRE_HELLO_VERSION, b context token (WIRE_TOKEN_LEN bytes)
 * -> u32 status, b message, u8 fresh.  The token names the application
 * (one module instance): the appliance serves every connection that
 * presents the same token under the same certificate from one client
 * context, so a pool of connections shares its sessions.  `fresh` is 1
 * when the context was made for this connection.
 */
#define WIRE_CALL_HELLO 0
#define WIRE_HELLO_VERSION 1
#define WIRE_TOKEN_LEN 16
#define WIRE_HELLO_MESSAGE_MAX 512
enum wire_hello_status {
    WIRE_HELLO_OK = 0,
    WIRE_HELLO_UNREGISTERED = 1, /* no client has this certificate */
    WIRE_HELLO_EXPIRED = 2,      /* the certificate is out of its dates */
    WIRE_HELLO_BUSY = 3,         /* the appliance serves its maximum */
    WIRE_HELLO_BAD = 4,          /* a hello that did not decode */
};

enum wire_call {
    WIRE_CALL_SLOT_LIST = 1,     /* out                -> u n, u8, n*u   */
    WIRE_CALL_SLOT_INFO,         /* u slot             -> u, slot info   */
    WIRE_CALL_TOKEN_INFO,        /* u slot             -> u, token info  */
    WIRE_CALL_MECHANISM_LIST,    /* u slot, out        -> u n, u8, n*u   */
    WIRE_CALL_MECHANISM_INFO,    /* u slot, u type     -> u, u u u       */
    WIRE_CALL_INIT_TOKEN,        /* u slot, b pin, b label32  -> u       */
    WIRE_CALL_SESSION_OPEN,      /* u slot, u flags    -> u, u handle    */
    WIRE_CALL_SESSION_CLOSE,     /* u h                -> u              */
    WIRE_CALL_SESSION_CLOSE_ALL, /* u slot             -> u              */
    WIRE_CALL_SESSION_INFO,      /* u h                -> u, u u u u     */
    WIRE_CALL_SESSION_CANCEL,    /* u h, u flags       -> u              */
    WIRE_CALL_LOGIN,             /* u h, u user, b pin -> u              */
    WIRE_CALL_LOGOUT,            /* u h                -> u              */
    WIRE_CALL_INIT_PIN,          /* u h, b pin         -> u              */
    WIRE_CALL_SET_PIN,           /* u h, b old, b new  -> u              */
    WIRE_CALL_OBJECT_CREATE,     /* u h, T             -> u, u handle    */
    WIRE_CALL_OBJECT_COPY,       /* u h, u o, T        -> u, u handle    */
    WIRE_CALL_OBJECT_DESTROY,    /* u h, u o           -> u              */
    WIRE_CALL_OBJECT_SIZE,       /* u h, u o           -> u, u size      */
    WIRE_CALL_ATTR_GET,          /* u h, u o, G        -> G              */
    WIRE_CALL_ATTR_SET,          /* u h, u o, T        -> u              */
    WIRE_CALL_FIND_INIT,         /* u h, T             -> u              */
    WIRE_CALL_FIND_NEXT,         /* u h, u max         -> u, u n, n*u    */
    WIRE_CALL_FIND_FINAL,        /* u h                -> u              */
    WIRE_CALL_OP_INIT,           /* u h, u op, M, u key       -> u       */
    WIRE_CALL_OP_ONESHOT,        /* u h, u op, b in, out      -> OUT     */
    WIRE_CALL_OP_UPDATE,         /* u h, u op, b in, o?       -> OUT     */
    WIRE_CALL_OP_FINAL,          /* u h, u op, o?             -> OUT     */
    WIRE_CALL_VERIFY,            /* u h, b in, b sig          -> u       */
    WIRE_CALL_VERIFY_FINAL,      /* u h, b sig                -> u       */
    WIRE_CALL_DIGEST_KEY,        /* u h, u key                -> u       */
    WIRE_CALL_MSG_ONESHOT,       /* u h, u op, P, b aad, b in, out
                                                       -> OUT, MO        */
    WIRE_CALL_MSG_BEGIN,         /* u h, u op, P, b aad       -> u, MO   */
    WIRE_CALL_MSG_NEXT,          /* u h, u op, P, b in, o?, u flags
                                                       -> OUT, MO        */
    WIRE_CALL_MSG_VERIFY,        /* u h, P, b in, b sig, u8 oneshot -> u */
    WIRE_CALL_GENERATE_KEY,      /* u h, M, T          -> u, u handle    */
    WIRE_CALL_GENERATE_KEY_PAIR, /* u h, M, T pub, T priv -> u, u u      */
    WIRE_CALL_WRAP_KEY,          /* u h, M, u wrapping, u key, out -> OUT */
    WIRE_CALL_UNWRAP_KEY,        /* u h, M, u unwrapping, b in, T
                                                       -> u, u handle    */
    WIRE_CALL_DERIVE_KEY,        /* u h, M, u base, T  -> u, u handle    */
    WIRE_CALL_RANDOM,            /* u h, u len         -> u, b random    */
    WIRE_CALL_SEED,              /* u h, b seed        -> u              */
};
#define WIRE_CALL_MAX WIRE_CALL_SEED

/* Entries one list response carries (slots, mechanisms, found handles). */
#define WIRE_LIST_MAX 4096

/* The call's name, as the audit log and the daemon's log write it; NULL
 * for an id that is not a call. */
const char *wire_call_name(uint16_t call);

#endif
