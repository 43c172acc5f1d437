import { deepEqual, equal, ok } from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { der, loadOrMakeSelfSigned, makeSelfSignedCertificate, oid } from "./self_signed.ts";

Deno.test("der() and oid() encode lengths and arcs as DER does", () => {
  deepEqual([...der(0x04, new Uint8Array(3))], [0x04, 3, 0, 0, 0]);
  deepEqual([...der(0x04, new Uint8Array(200)).subarray(0, 3)], [0x04, 0x81, 200]);
  deepEqual([...der(0x04, new Uint8Array(300)).subarray(0, 4)], [0x04, 0x82, 1, 44]);
  // 1.2.840.10045.4.3.2 (ecdsa-with-SHA256), byte for byte.
  deepEqual([...oid("1.2.840.10045.4.3.2")], [6, 8, 0x2a, 0x86, 0x48, 0xce, 0x3d, 4, 3, 2]);
});

Deno.test("makeSelfSignedCertificate() gives an end-entity certificate that TLS accepts for its names", async () => {
  const { cert, key } = await makeSelfSignedCertificate(["localhost", "127.0.0.1", "::1"]);
  const x509 = new X509Certificate(cert);
  equal(x509.ca, false);
  equal(x509.subjectAltName, "DNS:localhost, IP Address:127.0.0.1, IP Address:::1");
  ok(x509.verify(x509.publicKey), "signed by its own key");
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
  const served = (async () => {
    const conn = await listener.accept();
    await conn.write(new TextEncoder().encode("ok"));
    conn.close();
  })();
  const client = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: (listener.addr as Deno.NetAddr).port,
    caCerts: [cert],
  });
  const buffer = new Uint8Array(2);
  equal(await client.read(buffer), 2);
  client.close();
  await served;
  listener.close();
});

Deno.test("loadOrMakeSelfSigned() keeps its certificate across runs, and makes a new one for new names", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await loadOrMakeSelfSigned(`${dir}/tls`, ["localhost"]);
    ok(first.created);
    equal((await Deno.stat(`${dir}/tls/self-signed-key.pem`)).mode! & 0o777, 0o600);
    const again = await loadOrMakeSelfSigned(`${dir}/tls`, ["localhost"]);
    equal(again.created, false);
    equal(again.cert, first.cert);
    const wider = await loadOrMakeSelfSigned(`${dir}/tls`, ["localhost", "box.local"]);
    ok(wider.created);
    ok(new X509Certificate(wider.cert).subjectAltName?.includes("box.local"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
