import { equal } from "node:assert/strict";
import { QueuedRoomSends } from "./room_queued.ts";

Deno.test("QueuedRoomSends.take() finds a room message by recipient and qseq, once", () => {
  const queued = new QueuedRoomSends();
  queued.add(7, { name: "bob", qseq: 3 });
  equal(queued.take("carol", 3), undefined, "another recipient's qseq 3 is a 1:1 message");
  equal(queued.take("bob", 4), undefined);
  equal(queued.take("bob", 3), 7);
  equal(queued.take("bob", 3), undefined);
});

Deno.test("QueuedRoomSends.add() forgets the oldest past its limit", () => {
  const queued = new QueuedRoomSends(2);
  queued.add(1, { name: "bob", qseq: 1 });
  queued.add(2, { name: "bob", qseq: 2 });
  queued.add(3, { name: "bob", qseq: 3 });
  equal(queued.take("bob", 1), undefined);
  equal(queued.take("bob", 2), 2);
  equal(queued.take("bob", 3), 3);
});
