// SPDX-License-Identifier: MIT
// Generate a key pair through SunPKCS11 (so inside the token), sign a file
// with it, and write the public key for an outside check.
//
// Usage: java P11KeyGen CONFIG PIN RSA|EC DATA SIGNATURE PUBLIC_KEY_DER
// Prints one "name: value" line per step; exits 1 on any failure.

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Provider;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;

public final class P11KeyGen {
    private P11KeyGen() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 6) {
            System.err.println("usage: P11KeyGen CONFIG PIN RSA|EC DATA"
                    + " SIGNATURE PUBLIC_KEY_DER");
            System.exit(2);
        }
        String type = args[2];
        Provider p = P11Provider.load(args[0]);
        P11Provider.login(p, args[1]);

        KeyPairGenerator gen = KeyPairGenerator.getInstance(type, p);
        String alg;
        if (type.equals("RSA")) {
            gen.initialize(2048);
            alg = "SHA256withRSA";
        } else {
            gen.initialize(new ECGenParameterSpec("secp256r1"));
            alg = "SHA256withECDSA";
        }
        KeyPair kp = gen.generateKeyPair();
        System.out.println("generated: " + kp.getPrivate().getAlgorithm()
                + " by " + gen.getProvider().getName());
        // A key that stayed in the token has no encoding to hand out.
        System.out.println("private key encoding: "
                + (kp.getPrivate().getEncoded() == null ? "none" : "present"));

        byte[] data = Files.readAllBytes(Path.of(args[3]));
        Signature signer = Signature.getInstance(alg, p);
        signer.initSign(kp.getPrivate());
        signer.update(data);
        byte[] sig = signer.sign();
        Files.write(Path.of(args[4]), sig);
        System.out.println("signed: " + alg + " " + sig.length + " bytes");

        // getEncoded() of the token's public key is built from the
        // attributes Java read back (CKA_MODULUS/CKA_PUBLIC_EXPONENT or
        // CKA_EC_PARAMS/CKA_EC_POINT).
        byte[] spki = kp.getPublic().getEncoded();
        if (spki == null) {
            System.out.println("FAILED: the public key has no encoding");
            System.exit(1);
        }
        Files.write(Path.of(args[5]), spki);
        System.out.println("public key: " + kp.getPublic().getFormat() + " "
                + spki.length + " bytes");
    }
}
