import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { fileNameStore, NameSaver, type NameStore } from "./name_store.ts";

/** Runs `fn` with a fresh temporary folder, removed afterwards. */
async function withTempDir(fn: (dir: string) => void | Promise<void>): Promise<void> {
  const dir = Deno.makeTempDirSync({ prefix: "peerstream_names_" });
  try {
    await fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("fileNameStore().load() returns an empty map when the file is missing", async () => {
  await withTempDir((dir) => {
    deepEqual(fileNameStore(`${dir}/absent/names.json`).load(), new Map());
  });
});

Deno.test("fileNameStore() round-trips bindings through save() and load()", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/nested/folder/names.json`;
    const bindings = new Map([
      ["alice", "MCowBQYDK2VwAyEAaaaa"],
      ["bob.smith", "MCowBQYDK2VwAyEAbbbb"],
      ["élodie", "key with spaces"],
    ]);
    const store = fileNameStore(path);
    await store.save(bindings);
    deepEqual(store.load(), bindings);
    // A second save replaces the file rather than merging.
    await store.save(new Map([["carol", "k"]]));
    deepEqual(fileNameStore(path).load(), new Map([["carol", "k"]]));
    await store.save(new Map());
    deepEqual(store.load(), new Map());
    // No temporary files are left beside it.
    deepEqual([...Deno.readDirSync(`${dir}/nested/folder`)].map((e) => e.name), ["names.json"]);
  });
});

Deno.test("fileNameStore().save() writes the file with mode 0600", {
  ignore: Deno.build.os === "windows",
}, async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/names.json`;
    await fileNameStore(path).save(new Map([["alice", "k"]]));
    equal(Deno.statSync(path).mode! & 0o777, 0o600);
  });
});

Deno.test("fileNameStore().load() throws SyntaxError with a remedy for a corrupt file", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/names.json`;
    const table = ['{"alice": "k"', "not json", "", "[1, 2]", "null", '"text"', "42"];
    for (const text of table) {
      Deno.writeTextFileSync(path, text);
      throws(() => fileNameStore(path).load(), (error: unknown) => {
        ok(error instanceof SyntaxError, `${JSON.stringify(text)}: ${error}`);
        ok(error.message.includes(path), `${JSON.stringify(text)}: ${error.message}`);
        ok(error.message.includes("fix or delete it"), `${JSON.stringify(text)}: ${error.message}`);
        return true;
      });
    }
  });
});

Deno.test("fileNameStore().load() throws SyntaxError when a binding's key is not a string", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/names.json`;
    for (const value of ["3", "null", "[]", "{}"]) {
      Deno.writeTextFileSync(path, `{"alice": "k", "bob": ${value}}`);
      throws(() => fileNameStore(path).load(), (error: unknown) => {
        ok(error instanceof SyntaxError, `${value}: ${error}`);
        ok(error.message.includes('the key of "bob" is not a string'), error.message);
        ok(error.message.includes("fix or delete it"), error.message);
        return true;
      });
    }
  });
});

Deno.test("fileNameStore().save() creates no stray folder for a bare file name", async () => {
  await withTempDir(async (dir) => {
    const cwd = Deno.cwd();
    Deno.chdir(dir);
    try {
      const store = fileNameStore("names.json");
      await store.save(new Map([["alice", "k"]]));
      deepEqual(store.load(), new Map([["alice", "k"]]));
      deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["names.json"]);
    } finally {
      Deno.chdir(cwd);
    }
  });
});

Deno.test("fileNameStore().save() writes the bindings as they were when it was called", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/names.json`;
    const bindings = new Map([["alice", "k"]]);
    const saved = fileNameStore(path).save(bindings);
    bindings.set("bob", "k2");
    await saved;
    deepEqual(fileNameStore(path).load(), new Map([["alice", "k"]]));
  });
});

Deno.test("fileNameStore().save() rejects and leaves no temporary file when the folder is a file", async () => {
  await withTempDir(async (dir) => {
    Deno.writeTextFileSync(`${dir}/taken`, "");
    const store = fileNameStore(`${dir}/taken/names.json`);
    let failed = false;
    await store.save(new Map([["alice", "k"]])).catch(() => failed = true);
    ok(failed);
    deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["taken"]);
  });
});

/** A store whose saves wait until released, recording what each one wrote. */
function gatedStore(): NameStore & { writes: string[][]; release(): void; fail: boolean } {
  let gate = Promise.withResolvers<void>();
  const store = {
    writes: [] as string[][],
    fail: false,
    release() {
      const open = gate;
      gate = Promise.withResolvers<void>();
      open.resolve();
    },
    load: () => new Map<string, string>(),
    async save(bindings: ReadonlyMap<string, string>) {
      const names = [...bindings.keys()];
      await gate.promise;
      if (store.fail) throw new Error("disk full");
      store.writes.push(names);
    },
  };
  return store;
}

/** Lets every pending promise callback run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("NameSaver.request() keeps one save in flight and folds later requests into one more", async () => {
  const store = gatedStore();
  const bindings = new Map<string, string>();
  const saver = new NameSaver(store, bindings, { onError: (e) => ok(false, String(e)) });
  bindings.set("a", "k");
  saver.request();
  for (const name of ["b", "c", "d"]) {
    bindings.set(name, "k");
    saver.request();
  }
  store.release();
  await settle();
  // The first save wrote only "a"; the three requests made meanwhile became one save of all four.
  deepEqual(store.writes, [["a"]]);
  store.release();
  await saver.flush();
  deepEqual(store.writes, [["a"], ["a", "b", "c", "d"]]);
});

Deno.test("NameSaver.flush() resolves at once when nothing was requested", async () => {
  const store = gatedStore();
  const saver = new NameSaver(store, new Map(), { onError: (e) => ok(false, String(e)) });
  await saver.flush();
  deepEqual(store.writes, []);
});

Deno.test("NameSaver reports a failed save and writes again on the next request", async () => {
  const store = gatedStore();
  const errors: unknown[] = [];
  const bindings = new Map([["a", "k"]]);
  const saver = new NameSaver(store, bindings, { onError: (e) => errors.push(e) });
  store.fail = true;
  saver.request();
  store.release();
  await saver.flush();
  equal(errors.length, 1);
  ok((errors[0] as Error).message.includes("disk full"));
  store.fail = false;
  bindings.set("b", "k");
  saver.request();
  store.release();
  await saver.flush();
  deepEqual(store.writes, [["a", "b"]]);
});

Deno.test("NameSaver leaves the latest bindings in the file after a burst of requests", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/names.json`;
    const bindings = new Map<string, string>();
    const saver = new NameSaver(fileNameStore(path), bindings, {
      onError: (e) => ok(false, String(e)),
    });
    for (let i = 0; i < 100; i++) {
      bindings.set(`user${i}`, `key${i}`);
      saver.request();
    }
    await saver.flush();
    deepEqual(fileNameStore(path).load(), bindings);
    deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["names.json"]);
  });
});

Deno.test("NameSaver.refresh() reports names released in the file and keeps them out of the next save", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/names.json`;
    const store = fileNameStore(path);
    await store.save(new Map([["alice", "ka"], ["bob", "kb"]]));
    const bindings = store.load();
    const released: string[][] = [];
    const saver = new NameSaver(store, bindings, {
      onError: (e) => ok(false, String(e)),
      onReleased: (names) => {
        released.push(names);
        for (const name of names) bindings.delete(name);
      },
    });
    deepEqual(saver.refresh(), []);
    // The operator runs `serve --release alice` while the server runs.
    const onDisk = store.load();
    onDisk.delete("alice");
    await store.save(onDisk);
    deepEqual(saver.refresh(), ["alice"]);
    deepEqual(released, [["alice"]]);
    deepEqual(saver.refresh(), []);
    // A new binding saved afterwards does not bring alice back.
    bindings.set("carol", "kc");
    saver.request();
    await saver.flush();
    deepEqual(store.load(), new Map([["bob", "kb"], ["carol", "kc"]]));
    deepEqual(saver.refresh(), []);
  });
});

Deno.test("NameSaver drops a release made just before a save instead of writing the name back", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/names.json`;
    const store = fileNameStore(path);
    await store.save(new Map([["alice", "ka"]]));
    const bindings = store.load();
    const saver = new NameSaver(store, bindings, {
      onError: (e) => ok(false, String(e)),
      onReleased: (names) => names.forEach((name) => bindings.delete(name)),
    });
    await store.save(new Map());
    // No tick ran: the save itself notices the release first.
    bindings.set("bob", "kb");
    saver.request();
    await saver.flush();
    deepEqual(store.load(), new Map([["bob", "kb"]]));
  });
});

Deno.test("fileNameStore() records which version a running server acknowledged, while its heartbeat lasts", async () => {
  await withTempDir((dir) => {
    const store = fileNameStore(`${dir}/names.json`);
    equal(store.acknowledged!(), undefined);
    store.acknowledge!("v1");
    deepEqual(store.acknowledged!(), { pid: Deno.pid, version: "v1" });
    store.acknowledge!(null);
    deepEqual(store.acknowledged!(), { pid: Deno.pid, version: null });
    // A server whose heartbeat stopped (it crashed) no longer counts.
    const path = `${dir}/names.applied.json`;
    const old = new Date(Date.now() - 10_000);
    Deno.utimeSync(path, old, old);
    equal(store.acknowledged!(), undefined);
    store.heartbeat!();
    deepEqual(store.acknowledged!(), { pid: Deno.pid, version: null });
    store.withdraw!();
    equal(store.acknowledged!(), undefined);
    deepEqual([...Deno.readDirSync(dir)], []);
  });
});

Deno.test("NameSaver with acknowledge acknowledges every version it reads, so serve --release can wait for it", async () => {
  await withTempDir(async (dir) => {
    const store = fileNameStore(`${dir}/names.json`);
    await store.save(new Map([["alice", "ka"], ["bob", "kb"]]));
    const bindings = store.load();
    const saver = new NameSaver(store, bindings, {
      onError: (e) => ok(false, String(e)),
      onReleased: (names) => names.forEach((name) => bindings.delete(name)),
      acknowledge: true,
    });
    equal(store.acknowledged!()?.version, store.version!());
    // `serve --release alice` writes the file; the server's next refresh acknowledges it.
    await store.save(new Map([["bob", "kb"]]));
    const released = store.version!();
    ok(store.acknowledged!()?.version !== released);
    deepEqual(saver.refresh(), ["alice"]);
    equal(store.acknowledged!()?.version, released);
    // Its own saves do not move the acknowledgement: it still says what it last read.
    bindings.set("carol", "kc");
    saver.request();
    await saver.flush();
    equal(store.acknowledged!()?.version, released);
    saver.close();
    equal(store.acknowledged!(), undefined);
  });
});

Deno.test("NameSaver.refresh() reports bindings added in the file (serve --rename), once, and the next save keeps them", async () => {
  await withTempDir(async (dir) => {
    const store = fileNameStore(`${dir}/names.json`);
    await store.save(new Map([["\u0430lice", "ka"], ["bob", "kb"]]));
    const bindings = store.load();
    const bound: [string, string][][] = [];
    const saver = new NameSaver(store, bindings, {
      onError: (e) => ok(false, String(e)),
      onReleased: (names) => names.forEach((name) => bindings.delete(name)),
      onBound: (added) => {
        bound.push(added);
        for (const [name, key] of added) bindings.set(name, key);
      },
    });
    // The operator runs `serve --rename аlice alice2` while the server runs.
    await store.save(new Map([["alice2", "ka"], ["bob", "kb"]]));
    deepEqual(saver.refresh(), ["\u0430lice"]);
    deepEqual(bound, [[["alice2", "ka"]]]);
    deepEqual(saver.refresh(), []);
    equal(bound.length, 1);
    bindings.set("carol", "kc");
    saver.request();
    await saver.flush();
    deepEqual(store.load(), new Map([["alice2", "ka"], ["bob", "kb"], ["carol", "kc"]]));
    equal(bound.length, 1);
  });
});
