import { deepEqual, equal, throws } from "node:assert/strict";
import { PeerstreamError } from "../../protocol/errors.ts";
import { fileRoomStorage, parseRoomLog, parseRoomRecord } from "./room_store.ts";

const ROOM = "AAAAAAAAAAAAAAAAAAAAAA";

Deno.test("parseRoomRecord() takes a record with or without its first-entry fields and refuses wrong shapes", () => {
  deepEqual(parseRoomRecord('{"at":3,"entry":"AQI="}'), { at: 3, entry: new Uint8Array([1, 2]) });
  deepEqual(parseRoomRecord('{"at":0,"entry":"","name":"club","key":"k"}'), {
    at: 0,
    entry: new Uint8Array(),
    name: "club",
    key: "k",
  });
  for (
    const bad of [
      "",
      "null",
      "[]",
      '{"entry":"AA=="}',
      '{"at":-1,"entry":"AA=="}',
      '{"at":1.5,"entry":"AA=="}',
      '{"at":1,"entry":"!!"}',
      '{"at":1,"entry":7}',
      '{"at":1,"entry":"AA==","name":3}',
      `{"at":1,"entry":"AA==","name":"${"n".repeat(257)}"}`,
      '{"at":1,"entry":"AA==","key":false}',
      `{"at":1,"entry":"${"A".repeat(64 * 1024 + 4)}"}`,
    ]
  ) equal(parseRoomRecord(bad), undefined, bad);
});

Deno.test("parseRoomLog() leaves out a torn last line and refuses a bad line before it", () => {
  const good = '{"at":1,"entry":"AA=="}';
  deepEqual(parseRoomLog(`${good}\n{"at":2,"ent`, "f"), [{ at: 1, entry: new Uint8Array(1) }]);
  deepEqual(parseRoomLog(`${good}\n`, "f"), [{ at: 1, entry: new Uint8Array(1) }]);
  throws(
    () => parseRoomLog(`{"at\n${good}\n`, "r.log"),
    (e: Error) =>
      e instanceof PeerstreamError && e.code === "INTERNAL" &&
      e.message ===
        'Cannot load the room "r.log": line 1 is not a room record; move the file away to drop that room',
  );
});

Deno.test("fileRoomStorage() appends durably, loads each room's records in order, and ignores other files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "peerstream-rooms-" });
  try {
    const storage = fileRoomStorage(`${dir}/rooms`);
    deepEqual(storage.load(), new Map());
    storage.append(ROOM, { at: 1, entry: new Uint8Array([9]), name: "club", key: "k" });
    storage.append(ROOM, { at: 2, entry: new Uint8Array([8]) });
    await Deno.writeTextFile(`${dir}/rooms/notes.txt`, "not a room");
    await Deno.writeTextFile(`${dir}/rooms/short.log`, '{"at":1,"entry":"AA=="}\n');
    deepEqual(
      storage.load(),
      new Map([[ROOM, [
        { at: 1, entry: new Uint8Array([9]), name: "club", key: "k" },
        { at: 2, entry: new Uint8Array([8]) },
      ]]]),
    );
    equal((await Deno.stat(`${dir}/rooms/${ROOM}.log`)).mode! & 0o777, 0o600);
    throws(() => storage.append("../escape", { at: 1, entry: new Uint8Array() }), RangeError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
