/* SPDX-License-Identifier: MIT */
/* device_op.c - what the device's operation kinds are called in PKCS#11. */
#include "config.h"
#include "device.h"

CK_FLAGS device_op_flag(device_op op)
{
    static const CK_FLAGS flags[DEVICE_OP_MAX + 1] = {
        [DEVICE_OP_ENCRYPT] = CKF_ENCRYPT,
        [DEVICE_OP_DECRYPT] = CKF_DECRYPT,
        [DEVICE_OP_DIGEST] = CKF_DIGEST,
        [DEVICE_OP_SIGN] = CKF_SIGN,
        [DEVICE_OP_VERIFY] = CKF_VERIFY,
        [DEVICE_OP_SIGN_RECOVER] = CKF_SIGN_RECOVER,
        [DEVICE_OP_VERIFY_RECOVER] = CKF_VERIFY_RECOVER,
        [DEVICE_OP_MSG_ENCRYPT] = CKF_MESSAGE_ENCRYPT,
        [DEVICE_OP_MSG_DECRYPT] = CKF_MESSAGE_DECRYPT,
        [DEVICE_OP_MSG_SIGN] = CKF_MESSAGE_SIGN,
        [DEVICE_OP_MSG_VERIFY] = CKF_MESSAGE_VERIFY,
    };

    return op >= DEVICE_OP_ENCRYPT && op <= DEVICE_OP_MAX ? flags[op] : 0;
}
