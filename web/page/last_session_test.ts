import { deepEqual, equal } from "node:assert/strict";
import { LAST_SESSION_KEY, parseLastSession, SessionMemory } from "./last_session.ts";

Deno.test("parseLastSession() reads a saved session and refuses what is not one", () => {
  const table: [text: string | null, expected: ReturnType<typeof parseLastSession>][] = [
    [null, undefined],
    ["", undefined],
    ["{", undefined],
    ["null", undefined],
    ['"ann"', undefined],
    ['{"name":""}', undefined],
    ['{"name":5}', undefined],
    ['{"name":"ann"}', { name: "ann" }],
    [
      '{"name":"ann","playing":{"title":"cat","position":12.5,"quality":"auto"}}',
      { name: "ann", playing: { title: "cat", position: 12.5, quality: "auto" } },
    ],
    [
      '{"name":"ann","playing":{"title":"cat","position":0,"quality":480}}',
      { name: "ann", playing: { title: "cat", position: 0, quality: 480 } },
    ],
    // A damaged playing part is dropped; the name is kept.
    ['{"name":"ann","playing":{"title":"cat","position":-1,"quality":480}}', { name: "ann" }],
    ['{"name":"ann","playing":{"title":"cat","position":1,"quality":"best"}}', { name: "ann" }],
    ['{"name":"ann","playing":{"title":"cat","position":1,"quality":480.5}}', { name: "ann" }],
    ['{"name":"ann","playing":{"title":"","position":1,"quality":480}}', { name: "ann" }],
    ['{"name":"ann","playing":"cat"}', { name: "ann" }],
    // The room followed, by id; one that is not an id is dropped, the rest kept.
    [
      '{"name":"ann","playing":{"title":"cat","position":1,"quality":480,"room":"c2VydmVyLXJvb21zLXRlc3"}}',
      {
        name: "ann",
        playing: { title: "cat", position: 1, quality: 480, room: "c2VydmVyLXJvb21zLXRlc3" },
      },
    ],
    [
      '{"name":"ann","playing":{"title":"cat","position":1,"quality":480,"room":"<b>"}}',
      { name: "ann", playing: { title: "cat", position: 1, quality: 480 } },
    ],
  ];
  for (const [text, expected] of table) deepEqual(parseLastSession(text), expected, String(text));
});

function fakeStorage() {
  const map = new Map<string, string>();
  return {
    map,
    getItem: (key: string) => map.get(key) ?? null,
    setItem: (key: string, value: string) => void map.set(key, value),
    removeItem: (key: string) => void map.delete(key),
  };
}

Deno.test("SessionMemory remembers the name and what plays, forgets the title on stop or another name, and forgets all", () => {
  const storage = fakeStorage();
  const memory = new SessionMemory(storage);
  equal(memory.load(), undefined);
  memory.savePlaying({ title: "cat", position: 1, quality: "auto" }); // no name yet: nothing
  equal(memory.load(), undefined);
  memory.saveName("ann");
  memory.savePlaying({ title: "cat", position: 7, quality: 720 });
  deepEqual(memory.load(), { name: "ann", playing: { title: "cat", position: 7, quality: 720 } });
  memory.saveName("ann"); // a rejoin keeps what plays
  equal(memory.load()?.playing?.title, "cat");
  memory.savePlaying(undefined);
  deepEqual(memory.load(), { name: "ann" });
  memory.savePlaying({ title: "cat", position: 7, quality: 720 });
  memory.saveName("ben");
  deepEqual(memory.load(), { name: "ben" });
  memory.forget();
  equal(storage.map.has(LAST_SESSION_KEY), false);
  equal(storage.map.size, 0);
});

Deno.test("SessionMemory works on when the storage refuses", () => {
  const refusing = {
    getItem: () => {
      throw new Error("SecurityError");
    },
    setItem: () => {
      throw new Error("QuotaExceededError");
    },
    removeItem: () => {
      throw new Error("SecurityError");
    },
  };
  const memory = new SessionMemory(refusing);
  memory.saveName("ann");
  equal(memory.load(), undefined);
  memory.forget();
});
