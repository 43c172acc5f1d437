import { deepEqual, equal } from "node:assert/strict";
import { parseRoomMemory } from "./room_memory.ts";

const GOOD = {
  origin: "0123456789abcdef",
  rooms: { r1: { seq: 4, head: "aGVhZA==", counter: 2 } },
};

Deno.test("parseRoomMemory() keeps what a page saved and refuses what is not room memory", () => {
  deepEqual(parseRoomMemory(structuredClone(GOOD)), GOOD);
  const refused: unknown[] = [
    undefined,
    null,
    "memory",
    { ...GOOD, origin: "xyz" },
    { ...GOOD, origin: "0123456789ABCDEF" },
    { ...GOOD, rooms: [] },
    { ...GOOD, rooms: { r1: { seq: "4", head: "h", counter: 0 } } },
    { ...GOOD, rooms: { r1: { seq: 4, head: 5, counter: 0 } } },
    { ...GOOD, rooms: { r1: { seq: 4, head: "h", counter: 1.5 } } },
    { ...GOOD, rooms: { r1: null } },
  ];
  for (const value of refused) equal(parseRoomMemory(value), undefined, JSON.stringify(value));
});

Deno.test("parseRoomMemory() keeps a room id such as __proto__ as a plain entry", () => {
  const rooms = JSON.parse('{"__proto__": {"seq": 1, "head": "h", "counter": 0}}');
  const parsed = parseRoomMemory({ origin: GOOD.origin, rooms })!;
  deepEqual(Object.keys(parsed.rooms), ["__proto__"]);
  equal(Object.getPrototypeOf(parsed.rooms), Object.prototype);
});
