#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Drive a PKCS#11 module through PyKCS11: key pairs, signatures, wrapping.

Usage:
  pykcs11_check.py MODULE SLOT PIN OUTDIR
      all in-module checks; writes files for the OpenSSL checks to OUTDIR
  pykcs11_check.py --unwrap-oaep MODULE SLOT PIN OUTDIR
      unwraps OUTDIR/oaep.wrapped (made by openssl under OUTDIR/rsa.pub.der)
      with the py-rsa private key and compares it with OUTDIR/oaep.key

Prints "ok - ..." or "not ok - ..." per check (failures say what was
called and what came back) and exits 1 if any check failed.
"""

import hashlib
import os
import sys

import PyKCS11
from PyKCS11 import (CKA_CLASS, CKA_DECRYPT, CKA_EC_PARAMS, CKA_EC_POINT,
                     CKA_ENCRYPT, CKA_EXTRACTABLE, CKA_ID, CKA_KEY_TYPE,
                     CKA_LABEL, CKA_LOCAL, CKA_MODULUS, CKA_MODULUS_BITS,
                     CKA_PRIVATE, CKA_PUBLIC_EXPONENT, CKA_PUBLIC_KEY_INFO,
                     CKA_SENSITIVE, CKA_SIGN, CKA_TOKEN, CKA_UNWRAP,
                     CKA_VALUE, CKA_VALUE_LEN, CKA_VERIFY, CKA_WRAP,
                     CKK_AES, CKK_EC, CKK_RSA, CKO_PRIVATE_KEY,
                     CKO_PUBLIC_KEY, CKO_SECRET_KEY, CKM_AES_ECB,
                     CKM_AES_KEY_GEN, CKM_EC_KEY_PAIR_GEN, CKM_ECDSA,
                     CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_SHA256_RSA_PKCS,
                     CKM_SHA256_RSA_PKCS_PSS, CKM_SHA_1, CKM_SHA256,
                     CKG_MGF1_SHA1, CKG_MGF1_SHA256, CKF_RW_SESSION,
                     CKF_SERIAL_SESSION, Mechanism, PyKCS11Error,
                     RSA_PSS_Mechanism, RSAOAEPMechanism)

P256_OID = bytes.fromhex("06082a8648ce3d030107")
RSA_ID = b"\x11"
EC_ID = b"\x12"
PLAIN = bytes(range(64))   # four AES blocks to compare keys by


class StepFailed(Exception):
    """A step failed and was reported; the rest of its section is moot."""


class Report:
    """Counts and prints checks."""

    def __init__(self):
        self.failed = 0

    def check(self, desc, cond, detail=""):
        if cond:
            print("ok - " + desc)
        else:
            self.failed += 1
            print("not ok - " + desc)
            if detail:
                print("#   " + detail)
        return cond

    def require(self, desc, cond, detail=""):
        if not self.check(desc, cond, detail):
            raise StepFailed(desc)

    def call(self, desc, fn, *args):
        """Run one PKCS#11 call; a CKR_ error fails the check."""
        try:
            result = fn(*args)
        except PyKCS11Error as e:
            self.require(desc, False, "got " + str(e))
        self.check(desc, True)
        return result

    def section(self, fn, *args):
        """Run one group of checks; a failed step ends only that group."""
        try:
            fn(*args)
        except StepFailed:
            pass
        except PyKCS11Error as e:
            self.check(fn.__name__, False, "unexpected " + str(e))


def der(tag, body):
    """One DER TLV."""
    n = len(body)
    if n < 0x80:
        head = bytes([n])
    else:
        size = n.to_bytes((n.bit_length() + 7) // 8, "big")
        head = bytes([0x80 | len(size)]) + size
    return bytes([tag]) + head + body


def der_uint(raw):
    """DER INTEGER from unsigned big-endian bytes."""
    raw = raw.lstrip(b"\x00") or b"\x00"
    if raw[0] & 0x80:
        raw = b"\x00" + raw
    return der(0x02, raw)


def rsa_spki(modulus, exponent):
    """SubjectPublicKeyInfo for rsaEncryption."""
    alg = der(0x30, der(0x06, bytes.fromhex("2a864886f70d010101")) +
              b"\x05\x00")
    key = der(0x30, der_uint(modulus) + der_uint(exponent))
    return der(0x30, alg + der(0x03, b"\x00" + key))


def ec_spki(params, point):
    """SubjectPublicKeyInfo for id-ecPublicKey; params is DER already."""
    alg = der(0x30, der(0x06, bytes.fromhex("2a8648ce3d0201")) + params)
    return der(0x30, alg + der(0x03, b"\x00" + point))


def ecdsa_der(raw):
    """PKCS#11 r||s to the DER Ecdsa-Sig-Value OpenSSL wants."""
    half = len(raw) // 2
    return der(0x30, der_uint(raw[:half]) + der_uint(raw[half:]))


def attrs(session, obj, types):
    """Attribute values as bytes (CK_BBOOL and CK_ULONG stay raw)."""
    vals = session.getAttributeValue(obj, types, allAsBinary=True)
    return [bytes(v) if v is not None else None for v in vals]


def boolean(session, obj, attr):
    return session.getAttributeValue(obj, [attr])[0]


def write(outdir, name, data):
    with open(os.path.join(outdir, name), "wb") as f:
        f.write(data)


def read(outdir, name):
    with open(os.path.join(outdir, name), "rb") as f:
        return f.read()


def open_session(rep, module, slot, pin):
    """Load the module, open a R/W session on SLOT and log the user in."""
    lib = PyKCS11.PyKCS11Lib()
    rep.call("PyKCS11Lib.load(%s)" % module, lib.load, module)
    slots = rep.call("C_GetSlotList(tokenPresent)", lib.getSlotList, True)
    rep.require("slot %d has a token" % slot, slot in slots,
                "token slots: %s" % slots)
    mechs = rep.call("C_GetMechanismList(%d)" % slot,
                     lib.getMechanismList, slot)
    session = rep.call("C_OpenSession(RW|SERIAL)", lib.openSession, slot,
                       CKF_RW_SESSION | CKF_SERIAL_SESSION)
    rep.call("C_Login(CKU_USER)", session.login, pin)
    return lib, session, mechs


def offered(rep, mechs, name):
    return rep.check("module offers %s" % name, name in mechs,
                     "C_GetMechanismList has no %s" % name)


def find_one(rep, session, template, what):
    objs = rep.call("C_FindObjects(%s)" % what, session.findObjects,
                    template)
    rep.require("exactly one %s" % what, len(objs) == 1,
                "found %d" % len(objs))
    return objs[0]


def check_rsa(rep, session, outdir, data):
    """RSA-2048 key pair, SHA256_RSA_PKCS sign/verify, public key out."""
    pub_t = [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_KEY_TYPE, CKK_RSA),
             (CKA_TOKEN, True), (CKA_MODULUS_BITS, 2048),
             (CKA_PUBLIC_EXPONENT, (1, 0, 1)), (CKA_VERIFY, True),
             (CKA_WRAP, True), (CKA_LABEL, "py-rsa"), (CKA_ID, RSA_ID)]
    priv_t = [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_KEY_TYPE, CKK_RSA),
              (CKA_TOKEN, True), (CKA_PRIVATE, True),
              (CKA_SENSITIVE, True), (CKA_SIGN, True), (CKA_UNWRAP, True),
              (CKA_LABEL, "py-rsa"), (CKA_ID, RSA_ID)]
    pub, priv = rep.call(
        "C_GenerateKeyPair(CKM_RSA_PKCS_KEY_PAIR_GEN, MODULUS_BITS=2048)",
        session.generateKeyPair, pub_t, priv_t,
        Mechanism(CKM_RSA_PKCS_KEY_PAIR_GEN))

    n, e, bits, pid = rep.call(
        "C_GetAttributeValue(RSA public: MODULUS, PUBLIC_EXPONENT, "
        "MODULUS_BITS, ID)", attrs, session, pub,
        [CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_MODULUS_BITS, CKA_ID])
    rep.check("RSA CKA_MODULUS is 256 bytes", n is not None and
              len(n.lstrip(b"\x00")) == 256, "got %r" % (n and len(n)))
    rep.check("RSA CKA_PUBLIC_EXPONENT is 65537",
              e is not None and int.from_bytes(e, "big") == 65537,
              "got %r" % e)
    rep.check("RSA CKA_MODULUS_BITS is 2048",
              session.getAttributeValue(pub, [CKA_MODULUS_BITS])[0] == 2048)
    priv_id = attrs(session, priv, [CKA_ID])[0]
    rep.check("RSA key pair keeps CKA_ID 11 on both halves",
              pid == RSA_ID and priv_id == RSA_ID,
              "public %r, private %r" % (pid, priv_id))
    rep.check("RSA private key is sensitive and CKA_LOCAL",
              boolean(session, priv, CKA_SENSITIVE) and
              boolean(session, priv, CKA_LOCAL))
    spki = rsa_spki(n, e)
    info = attrs(session, pub, [CKA_PUBLIC_KEY_INFO])[0]
    rep.check("RSA CKA_PUBLIC_KEY_INFO is the SubjectPublicKeyInfo",
              info == spki, "got %s" % (info.hex() if info else info))
    write(outdir, "rsa.pub.der", spki)

    mech = Mechanism(CKM_SHA256_RSA_PKCS)
    sig = bytes(rep.call("C_Sign(CKM_SHA256_RSA_PKCS)", session.sign, priv,
                         data, mech))
    rep.check("RSA signature is 256 bytes", len(sig) == 256,
              "got %d" % len(sig))
    write(outdir, "rsa.sig", sig)
    check_verify(rep, "C_Verify(CKM_SHA256_RSA_PKCS) accepts it", session,
                 pub, data, sig, mech, True)
    bad = bytes([sig[0] ^ 1]) + sig[1:]
    check_verify(rep, "C_Verify(CKM_SHA256_RSA_PKCS) rejects a corrupted "
                 "signature", session, pub, data, bad, mech, False)

    mech = RSA_PSS_Mechanism(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256,
                             CKG_MGF1_SHA256, 32)
    sig = bytes(rep.call("C_Sign(CKM_SHA256_RSA_PKCS_PSS, salt 32)",
                         session.sign, priv, data, mech))
    write(outdir, "rsa-pss.sig", sig)
    check_verify(rep, "C_Verify(CKM_SHA256_RSA_PKCS_PSS) accepts it",
                 session, pub, data, sig, mech, True)


def check_ec(rep, session, outdir, data):
    """EC P-256 key pair, CKM_ECDSA over a SHA-256 digest, public key out."""
    pub_t = [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_KEY_TYPE, CKK_EC),
             (CKA_TOKEN, True), (CKA_EC_PARAMS, P256_OID),
             (CKA_VERIFY, True), (CKA_LABEL, "py-ec"), (CKA_ID, EC_ID)]
    priv_t = [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_KEY_TYPE, CKK_EC),
              (CKA_TOKEN, True), (CKA_PRIVATE, True),
              (CKA_SENSITIVE, True), (CKA_SIGN, True),
              (CKA_LABEL, "py-ec"), (CKA_ID, EC_ID)]
    pub, priv = rep.call(
        "C_GenerateKeyPair(CKM_EC_KEY_PAIR_GEN, EC_PARAMS=P-256 OID)",
        session.generateKeyPair, pub_t, priv_t,
        Mechanism(CKM_EC_KEY_PAIR_GEN))

    params, point, pid = rep.call(
        "C_GetAttributeValue(EC public: EC_PARAMS, EC_POINT, ID)", attrs,
        session, pub, [CKA_EC_PARAMS, CKA_EC_POINT, CKA_ID])
    rep.check("EC CKA_EC_PARAMS is the P-256 OID", params == P256_OID,
              "got %s" % (params.hex() if params else params))
    rep.require("EC CKA_EC_POINT is a DER OCTET STRING of an uncompressed "
                "point", point is not None and len(point) == 67 and
                point[:3] == b"\x04\x41\x04",
                "got %s" % (point.hex() if point else point))
    rep.check("EC key pair keeps CKA_ID 12", pid == EC_ID, "got %r" % pid)
    spki = ec_spki(params, point[2:])
    info = attrs(session, pub, [CKA_PUBLIC_KEY_INFO])[0]
    rep.check("EC CKA_PUBLIC_KEY_INFO is the SubjectPublicKeyInfo",
              info == spki, "got %s" % (info.hex() if info else info))
    write(outdir, "ec.pub.der", spki)

    digest = hashlib.sha256(data).digest()
    mech = Mechanism(CKM_ECDSA)
    sig = bytes(rep.call("C_Sign(CKM_ECDSA, SHA-256 digest)", session.sign,
                         priv, digest, mech))
    rep.check("ECDSA P-256 signature is r||s, 64 bytes", len(sig) == 64,
              "got %d" % len(sig))
    write(outdir, "ec.sig.der", ecdsa_der(sig))
    check_verify(rep, "C_Verify(CKM_ECDSA) accepts it", session, pub,
                 digest, sig, mech, True)
    bad = sig[:-1] + bytes([sig[-1] ^ 1])
    check_verify(rep, "C_Verify(CKM_ECDSA) rejects a corrupted signature",
                 session, pub, digest, bad, mech, False)


def check_verify(rep, desc, session, key, data, sig, mech, want):
    """C_VerifyInit/C_Verify must say WANT (True = valid)."""
    try:
        got = session.verify(key, data, sig, mech)
    except PyKCS11Error as e:
        rep.check(desc, False, "C_Verify returned " + str(e))
        return
    rep.check(desc, got == want, "C_Verify returned " +
              ("CKR_OK" if got else "CKR_SIGNATURE_INVALID"))


def aes_key(rep, session, desc, extra, mech=Mechanism(CKM_AES_KEY_GEN)):
    """C_GenerateKey of a session AES-256 key with EXTRA attributes."""
    t = [(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, CKK_AES),
         (CKA_VALUE_LEN, 32), (CKA_TOKEN, False)] + extra
    return rep.call("C_GenerateKey(CKM_AES_KEY_GEN, %s)" % desc,
                    session.generateKey, t, mech)


EXTRACTABLE = [(CKA_SENSITIVE, False), (CKA_EXTRACTABLE, True),
               (CKA_ENCRYPT, True), (CKA_DECRYPT, True)]
UNWRAP_AES = [(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, CKK_AES),
              (CKA_TOKEN, False)] + EXTRACTABLE


def ecb(rep, session, key, what):
    return bytes(rep.call("C_Encrypt(CKM_AES_ECB) with the %s" % what,
                          session.encrypt, key, PLAIN,
                          Mechanism(CKM_AES_ECB)))


def same_key(rep, session, key, unwrapped, how):
    """The unwrapped key must encrypt like the original and hold its value."""
    want = ecb(rep, session, key, "original key")
    got = ecb(rep, session, unwrapped, "key unwrapped from " + how)
    rep.check("key unwrapped from %s encrypts like the original" % how,
              got == want)
    v1 = attrs(session, key, [CKA_VALUE])[0]
    v2 = attrs(session, unwrapped, [CKA_VALUE])[0]
    rep.check("key unwrapped from %s has the original CKA_VALUE" % how,
              v1 is not None and v1 == v2)


def check_aes_wrap(rep, session, mechs, outdir):
    """AES key wrap (KWP and/or PAD) of an extractable AES key."""
    kek = aes_key(rep, session, "WRAP/UNWRAP", [(CKA_WRAP, True),
                                                (CKA_UNWRAP, True)])
    key = aes_key(rep, session, "SENSITIVE=FALSE, EXTRACTABLE=TRUE",
                  EXTRACTABLE)
    kinds = [n for n in ("CKM_AES_KEY_WRAP_KWP", "CKM_AES_KEY_WRAP_PAD")
             if n in mechs]
    rep.require("module offers CKM_AES_KEY_WRAP_KWP or _PAD", kinds,
                "C_GetMechanismList has neither")
    for name in kinds:
        mech = Mechanism(PyKCS11.CKM[name])
        wrapped = bytes(rep.call("C_WrapKey(%s, AES-256 key)" % name,
                                 session.wrapKey, kek, key, mech))
        if name == "CKM_AES_KEY_WRAP_KWP":
            rep.check("KWP of a 32-byte key is 40 bytes (RFC 5649)",
                      len(wrapped) == 40, "got %d" % len(wrapped))
        else:
            rep.check("PAD wrap of a 32-byte key is 40 or 48 bytes",
                      len(wrapped) in (40, 48), "got %d" % len(wrapped))
        unwrapped = rep.call("C_UnwrapKey(%s) as an AES key" % name,
                             session.unwrapKey, kek, wrapped, UNWRAP_AES,
                             mech)
        same_key(rep, session, key, unwrapped, name)
        bad = bytes([wrapped[0] ^ 1]) + wrapped[1:]
        try:
            session.unwrapKey(kek, bad, UNWRAP_AES, mech)
            rep.check("C_UnwrapKey(%s) rejects a corrupted blob" % name,
                      False, "got CKR_OK")
        except PyKCS11Error:
            rep.check("C_UnwrapKey(%s) rejects a corrupted blob" % name,
                      True)

    # For OpenSSL: a known KEK (imported) wraps the key with the first
    # mechanism; the shell unwraps with "openssl enc -id-aes256-wrap-pad".
    kek_value = os.urandom(32)
    known = rep.call("C_CreateObject(AES-256 KEK with CKA_WRAP)",
                     session.createObject,
                     [(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, CKK_AES),
                      (CKA_TOKEN, False), (CKA_WRAP, True),
                      (CKA_VALUE, kek_value)])
    mech = Mechanism(PyKCS11.CKM[kinds[0]])
    wrapped = bytes(rep.call("C_WrapKey(%s) under the imported KEK" %
                             kinds[0], session.wrapKey, known, key, mech))
    write(outdir, "aeswrap.kek", kek_value.hex().encode())
    write(outdir, "aeswrap.key", attrs(session, key, [CKA_VALUE])[0])
    write(outdir, "aeswrap.wrapped", wrapped)
    write(outdir, "aeswrap.mech", kinds[0].encode())


def oaep(hash_name):
    if hash_name == "SHA-1":
        return RSAOAEPMechanism(CKM_SHA_1, CKG_MGF1_SHA1)
    return RSAOAEPMechanism(CKM_SHA256, CKG_MGF1_SHA256)


def rsa_pair(rep, session):
    pub = find_one(rep, session, [(CKA_CLASS, CKO_PUBLIC_KEY),
                                  (CKA_LABEL, "py-rsa")], "py-rsa public")
    priv = find_one(rep, session, [(CKA_CLASS, CKO_PRIVATE_KEY),
                                   (CKA_LABEL, "py-rsa")], "py-rsa private")
    return pub, priv


def check_oaep_wrap(rep, session, mechs):
    """RSA-OAEP wrap under the public key, unwrap with the private key."""
    rep.require("PyKCS11 has RSAOAEPMechanism",
                hasattr(PyKCS11, "RSAOAEPMechanism"))
    offered(rep, mechs, "CKM_RSA_PKCS_OAEP")
    pub, priv = rsa_pair(rep, session)
    key = aes_key(rep, session, "SENSITIVE=FALSE, EXTRACTABLE=TRUE",
                  EXTRACTABLE)
    for hash_name in ("SHA-1", "SHA-256"):
        how = "CKM_RSA_PKCS_OAEP %s" % hash_name
        try:
            wrapped = bytes(rep.call("C_WrapKey(%s, AES key)" % how,
                                     session.wrapKey, pub, key,
                                     oaep(hash_name)))
            rep.check("OAEP-wrapped key is 256 bytes", len(wrapped) == 256,
                      "got %d" % len(wrapped))
            unwrapped = rep.call("C_UnwrapKey(%s) with the private key" %
                                 how, session.unwrapKey, priv, wrapped,
                                 UNWRAP_AES, oaep(hash_name))
            same_key(rep, session, key, unwrapped, how)
        except StepFailed:
            pass


def check_openssl_oaep(rep, session, outdir):
    """Unwrap a key that OpenSSL wrapped (RSA-OAEP SHA-256)."""
    pub, priv = rsa_pair(rep, session)
    want = read(outdir, "oaep.key")
    key = rep.call("C_UnwrapKey(CKM_RSA_PKCS_OAEP SHA-256) of openssl's "
                   "blob", session.unwrapKey, priv, read(outdir,
                                                         "oaep.wrapped"),
                   UNWRAP_AES, oaep("SHA-256"))
    got = attrs(session, key, [CKA_VALUE])[0]
    rep.check("the key unwrapped from openssl's blob is openssl's key",
              got == want, "got %s" % (got.hex() if got else got))


def main(argv):
    unwrap_only = argv[:1] == ["--unwrap-oaep"]
    if unwrap_only:
        argv = argv[1:]
    if len(argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    module, slot, pin, outdir = argv[0], int(argv[1]), argv[2], argv[3]
    rep = Report()
    try:
        lib, session, mechs = open_session(rep, module, slot, pin)
    except StepFailed:
        return 1
    if unwrap_only:
        rep.section(check_openssl_oaep, rep, session, outdir)
    else:
        data = os.urandom(5003)
        write(outdir, "data.bin", data)
        for name in ("CKM_RSA_PKCS_KEY_PAIR_GEN", "CKM_SHA256_RSA_PKCS",
                     "CKM_EC_KEY_PAIR_GEN", "CKM_ECDSA", "CKM_AES_KEY_GEN"):
            offered(rep, mechs, name)
        rep.section(check_rsa, rep, session, outdir, data)
        rep.section(check_ec, rep, session, outdir, data)
        rep.section(check_aes_wrap, rep, session, mechs, outdir)
        rep.section(check_oaep_wrap, rep, session, mechs)
    try:
        session.logout()
        session.closeSession()
    except PyKCS11Error as e:
        rep.check("C_Logout/C_CloseSession", False, "got " + str(e))
    print("%s: %d failed" % (os.path.basename(sys.argv[0]), rep.failed))
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
