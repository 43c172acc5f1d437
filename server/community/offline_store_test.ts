import { deepEqual, equal, throws } from "node:assert/strict";
import { PeerstreamError } from "../../protocol/errors.ts";
import { fileQueueStorage, parseLog, parseRecord } from "./offline_store.ts";

Deno.test("parseRecord() takes each record kind and refuses wrong shapes", () => {
  deepEqual(parseRecord('{"kind":"removed","qseq":3}'), { kind: "removed", qseq: 3 });
  deepEqual(
    parseRecord('{"kind":"message","qseq":1,"from":"a","re":2,"at":3,"body":"AQI="}'),
    { kind: "message", qseq: 1, from: "a", re: 2, at: 3, body: new Uint8Array([1, 2]) },
  );
  deepEqual(
    parseRecord('{"kind":"message","qseq":1,"from":"a","re":2,"at":3,"body":"","room":"r"}'),
    { kind: "message", qseq: 1, from: "a", re: 2, at: 3, body: new Uint8Array(), room: "r" },
  );
  deepEqual(
    parseRecord('{"kind":"expired","qseq":1,"to":"b","ofQseq":4,"re":2,"at":3}'),
    { kind: "expired", qseq: 1, to: "b", ofQseq: 4, re: 2, at: 3 },
  );
  for (
    const bad of [
      "",
      "null",
      '{"kind":"removed"}',
      '{"kind":"removed","qseq":-1}',
      '{"kind":"message","qseq":1,"from":"a","re":2,"at":3,"body":"!!"}',
      '{"kind":"message","qseq":1,"from":7,"re":2,"at":3,"body":"AA=="}',
      '{"kind":"message","qseq":1,"from":"a","re":2,"at":3,"body":"AA==","room":5}',
      '{"kind":"delivered","qseq":1,"to":"b","re":2,"at":3}',
      '{"kind":"other","qseq":1,"re":2,"at":3}',
    ]
  ) equal(parseRecord(bad), undefined, bad);
});

Deno.test("parseLog() leaves out a torn last line and refuses a bad line before it", () => {
  const good = '{"kind":"removed","qseq":1}';
  deepEqual(parseLog(`${good}\n{"kind":"rem`, "f"), [{ kind: "removed", qseq: 1 }]);
  deepEqual(parseLog(`${good}\n`, "f"), [{ kind: "removed", qseq: 1 }]);
  throws(
    () => parseLog(`{"kind\n${good}\n`, "f"),
    (e: Error) =>
      e instanceof PeerstreamError && e.message.includes("line 1 is not a queue record"),
  );
});

Deno.test("fileQueueStorage() appends, loads by name and removes a recipient's log", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const storage = fileQueueStorage(`${dir}/queue`);
    deepEqual(storage.load(), new Map());
    storage.append("bøb", [{
      kind: "message",
      qseq: 1,
      from: "a",
      re: 1,
      at: 1,
      body: new Uint8Array([7]),
    }], true);
    storage.append("bøb", [{ kind: "removed", qseq: 1 }], false);
    deepEqual([...storage.load().keys()], ["bøb"]);
    equal(storage.load().get("bøb")?.length, 2);
    storage.saveKeys("bøb", { encKey: "E", signKey: "S" });
    storage.saveKeys("al", { encKey: "E2", signKey: "S2" });
    storage.saveKeys("bøb", { encKey: "E3", signKey: "S" });
    deepEqual(
      storage.loadKeys(),
      new Map([["al", { encKey: "E2", signKey: "S2" }], ["bøb", { encKey: "E3", signKey: "S" }]]),
    );
    storage.remove("bøb");
    storage.remove("bøb");
    deepEqual(storage.load(), new Map());
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
