// SPDX-License-Identifier: MIT
// Load SunPKCS11 from a configuration file and log in through its KeyStore.

import java.security.KeyStore;
import java.security.Provider;
import java.security.Security;

final class P11Provider {
    private P11Provider() {
    }

    // Configure the JDK's SunPKCS11 template provider with CONFIG (name,
    // library, slot).  configure() returns a new provider instance; it must
    // not be added twice, so each program calls this once.
    static Provider load(String config) {
        Provider base = Security.getProvider("SunPKCS11");
        if (base == null) {
            throw new IllegalStateException("SunPKCS11 is not available");
        }
        Provider p = base.configure(config);
        Security.addProvider(p);
        System.out.println("provider: " + p.getName());
        return p;
    }

    // Opening the PKCS11 KeyStore with the PIN is the documented way to
    // log the provider's token in (C_Login CKU_USER).
    static KeyStore login(Provider p, String pin) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS11", p);
        ks.load(null, pin.toCharArray());
        System.out.println("logged in: " + ks.size() + " entries");
        return ks;
    }
}
