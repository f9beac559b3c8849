// SPDX-License-Identifier: MIT
// ECDH through SunPKCS11: a P-256 key pair generated in the token agrees
// on a secret with a peer's public key.
//
// Usage: java P11Ecdh CONFIG PIN PEER_PUBLIC_DER PUBLIC_DER SECRET
// Writes the token key's public half and the shared secret.  The config
// must make generated EC private keys CKA_DERIVE and derived secrets
// readable (see java_sunpkcs11.sh).  Exits 1 on any failure.

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Provider;
import java.security.PublicKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.X509EncodedKeySpec;
import javax.crypto.KeyAgreement;

public final class P11Ecdh {
    private P11Ecdh() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 5) {
            System.err.println("usage: P11Ecdh CONFIG PIN PEER_PUBLIC_DER"
                    + " PUBLIC_DER SECRET");
            System.exit(2);
        }
        Provider p = P11Provider.load(args[0]);
        P11Provider.login(p, args[1]);

        byte[] peerDer = Files.readAllBytes(Path.of(args[2]));
        PublicKey peer = KeyFactory.getInstance("EC")
                .generatePublic(new X509EncodedKeySpec(peerDer));

        KeyPairGenerator gen = KeyPairGenerator.getInstance("EC", p);
        gen.initialize(new ECGenParameterSpec("secp256r1"));
        KeyPair kp = gen.generateKeyPair();
        System.out.println("generated: EC by " + gen.getProvider().getName());

        // C_DeriveKey(CKM_ECDH1_DERIVE, CKD_NULL, peer's raw point) into a
        // generic secret, then C_GetAttributeValue(CKA_VALUE).
        KeyAgreement ka = KeyAgreement.getInstance("ECDH", p);
        ka.init(kp.getPrivate());
        ka.doPhase(peer, true);
        byte[] secret = ka.generateSecret();
        System.out.println("derived: " + secret.length + " bytes by "
                + ka.getProvider().getName());

        Files.write(Path.of(args[3]), kp.getPublic().getEncoded());
        Files.write(Path.of(args[4]), secret);
    }
}
