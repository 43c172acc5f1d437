/**
 * Scenario 7, crypto in process: identity generation, and seal (encrypt + sign) and open
 * (verify + decrypt) per message for 100 B and 64 KiB texts.
 * @module
 */

import { generateIdentity, importPeerKeys, open, ReplayGuard, seal } from "../protocol/e2e.ts";
import { benchIdentity } from "./_client.ts";
import type { BenchContext, Metric, ScenarioResult } from "./_scenario.ts";

/**
 * Runs scenario 7.
 *
 * @param ctx The bench context.
 * @returns Its results.
 */
export async function cryptoScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const keygens = ctx.quick ? 4 : 30;
  const iterations = ctx.quick ? 30 : 300;
  const keygen: number[] = [];
  for (let i = 0; i < keygens; i++) {
    const t = performance.now();
    await generateIdentity();
    keygen.push(performance.now() - t);
  }
  ctx.log(`crypto: ${keygens} key generations done`);
  const alice = await benchIdentity(await generateIdentity());
  const bob = await benchIdentity(await generateIdentity());
  const [aliceKeys, bobKeys] = await Promise.all([importPeerKeys(alice), importPeerKeys(bob)]);
  const metrics: Metric[] = [
    { name: "generate identity (RSA-2048 + Ed25519)", unit: "ms", values: keygen },
  ];
  for (const [label, size] of [["100 B", 100], ["64 KiB", 64 * 1024]] as const) {
    const text = "m".repeat(size);
    const sealMs: number[] = [];
    const openMs: number[] = [];
    const replay = new ReplayGuard();
    for (let i = 0; i < iterations; i++) {
      const t0 = performance.now();
      const envelope = await seal(text, {
        from: "alice",
        to: "bob",
        identity: alice.identity,
        recipient: bobKeys,
      });
      const t1 = performance.now();
      const opened = await open(envelope, {
        from: "alice",
        me: "bob",
        identity: bob.identity,
        sender: aliceKeys,
        replay,
      });
      const t2 = performance.now();
      if (opened.text.length !== size) throw new Error("Opened text differs from the sealed one");
      sealMs.push(t1 - t0);
      openMs.push(t2 - t1);
    }
    metrics.push(
      { name: `${label}: seal + sign`, unit: "ms", values: sealMs },
      { name: `${label}: verify + open`, unit: "ms", values: openMs },
    );
  }
  return {
    id: "crypto",
    title: "7. Crypto (in process, WebCrypto)",
    metrics,
    failures: [],
    notes: [
      `Per operation, ${iterations} messages per size; open() includes RSA-OAEP unwrap, the costliest step`,
    ],
  };
}
