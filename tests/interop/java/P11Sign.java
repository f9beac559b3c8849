// SPDX-License-Identifier: MIT
// Sign a file with a private key entry of the PKCS11 KeyStore.
//
// Usage: java P11Sign CONFIG PIN ALIAS ALGORITHM DATA SIGNATURE
// ALGORITHM is a JCA signature name; RSASSA-PSS gets SHA-256, MGF1-SHA256
// and a 32-byte salt.  Prints one "name: value" line per step; exits 1 on
// any failure.

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.spec.MGF1ParameterSpec;
import java.security.spec.PSSParameterSpec;

public final class P11Sign {
    private P11Sign() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 6) {
            System.err.println("usage: P11Sign CONFIG PIN ALIAS ALGORITHM"
                    + " DATA SIGNATURE");
            System.exit(2);
        }
        String alias = args[2];
        String alg = args[3];
        Provider p = P11Provider.load(args[0]);
        KeyStore ks = P11Provider.login(p, args[1]);

        if (!ks.entryInstanceOf(alias, KeyStore.PrivateKeyEntry.class)) {
            fail("alias " + alias + " is not a PrivateKeyEntry");
        }
        KeyStore.PrivateKeyEntry entry = (KeyStore.PrivateKeyEntry)
                ks.getEntry(alias, null);
        PrivateKey key = entry.getPrivateKey();
        Certificate cert = entry.getCertificate();
        System.out.println("entry: " + alias + " PrivateKeyEntry "
                + key.getAlgorithm() + " chain " +
                entry.getCertificateChain().length);

        byte[] data = Files.readAllBytes(Path.of(args[4]));
        Signature signer = Signature.getInstance(alg, p);
        signer.initSign(key);
        setParameters(signer, alg);
        signer.update(data);
        byte[] sig = signer.sign();
        Files.write(Path.of(args[5]), sig);
        System.out.println("signed: " + alg + " " + sig.length + " bytes by "
                + signer.getProvider().getName());

        // Verify in software with the certificate stored next to the key,
        // so a key/certificate mismatch shows up here as well.
        Signature verifier = Signature.getInstance(alg);
        if (verifier.getProvider() == p) {
            fail("no software provider for " + alg);
        }
        verifier.initVerify(cert.getPublicKey());
        setParameters(verifier, alg);
        verifier.update(data);
        if (!verifier.verify(sig)) {
            fail("the certificate's public key rejects the signature");
        }
        System.out.println("verified: certificate public key by "
                + verifier.getProvider().getName());
    }

    // Plain RSASSA-PSS has no default parameters: name them.
    static void setParameters(Signature s, String alg) throws Exception {
        if (alg.equals("RSASSA-PSS")) {
            s.setParameter(new PSSParameterSpec("SHA-256", "MGF1",
                    MGF1ParameterSpec.SHA256, 32, 1));
        }
    }

    static void fail(String why) {
        System.out.println("FAILED: " + why);
        System.exit(1);
    }
}
