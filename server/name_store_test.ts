import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { fileNameStore } from "./name_store.ts";

/** Runs `fn` with a fresh temporary folder, removed afterwards. */
function withTempDir(fn: (dir: string) => void): void {
  const dir = Deno.makeTempDirSync({ prefix: "peerstream_names_" });
  try {
    fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("fileNameStore().load() returns an empty map when the file is missing", () => {
  withTempDir((dir) => {
    deepEqual(fileNameStore(`${dir}/absent/names.json`).load(), new Map());
  });
});

Deno.test("fileNameStore() round-trips bindings through save() and load()", () => {
  withTempDir((dir) => {
    const path = `${dir}/nested/folder/names.json`;
    const bindings = new Map([
      ["alice", "MCowBQYDK2VwAyEAaaaa"],
      ["bob.smith", "MCowBQYDK2VwAyEAbbbb"],
      ["élodie", "key with spaces"],
    ]);
    const store = fileNameStore(path);
    store.save(bindings);
    deepEqual(store.load(), bindings);
    // A second save replaces the file rather than merging.
    store.save(new Map([["carol", "k"]]));
    deepEqual(fileNameStore(path).load(), new Map([["carol", "k"]]));
    store.save(new Map());
    deepEqual(store.load(), new Map());
    // No temporary files are left beside it.
    deepEqual([...Deno.readDirSync(`${dir}/nested/folder`)].map((e) => e.name), ["names.json"]);
  });
});

Deno.test("fileNameStore().save() writes the file with mode 0600", {
  ignore: Deno.build.os === "windows",
}, () => {
  withTempDir((dir) => {
    const path = `${dir}/names.json`;
    fileNameStore(path).save(new Map([["alice", "k"]]));
    equal(Deno.statSync(path).mode! & 0o777, 0o600);
  });
});

Deno.test("fileNameStore().load() throws SyntaxError with a remedy for a corrupt file", () => {
  withTempDir((dir) => {
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

Deno.test("fileNameStore().load() throws SyntaxError when a binding's key is not a string", () => {
  withTempDir((dir) => {
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

Deno.test("fileNameStore().save() creates no stray folder for a bare file name", () => {
  withTempDir((dir) => {
    const cwd = Deno.cwd();
    Deno.chdir(dir);
    try {
      const store = fileNameStore("names.json");
      store.save(new Map([["alice", "k"]]));
      deepEqual(store.load(), new Map([["alice", "k"]]));
      deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["names.json"]);
    } finally {
      Deno.chdir(cwd);
    }
  });
});
