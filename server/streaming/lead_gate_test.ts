import { deepEqual, equal, ok } from "node:assert/strict";
import { LeadGate } from "./lead_gate.ts";

const MiB = 1024 * 1024;

Deno.test("LeadGate lets urgent segments go whatever the backlog", () => {
  const gate = new LeadGate({ urgentSeconds: 2, maxBacklogBytes: MiB });
  gate.writing(10 * MiB);
  ok(gate.mayGo(0));
  ok(gate.mayGo(2));
  ok(!gate.mayGo(2.01));
  ok(!gate.mayGo(6));
  equal(gate.backlogBytes, 10 * MiB);
});

Deno.test("LeadGate lets lead-filling segments go while the backlog is under the bound", () => {
  const gate = new LeadGate({ maxBacklogBytes: MiB });
  ok(gate.mayGo(5));
  gate.writing(MiB);
  ok(gate.mayGo(5), "at the bound");
  const oneByte = gate.writing(1);
  ok(!gate.mayGo(5), "over it");
  oneByte();
  ok(gate.mayGo(5));
});

Deno.test("LeadGate wakes waiting streams oldest first, a few per write, and gives them a turn", () => {
  const gate = new LeadGate({ maxBacklogBytes: MiB, wakePerWrite: 2 });
  const woken: string[] = [];
  const wakes = ["a", "b", "c", "d", "e"].map((name) => () => woken.push(name));
  const first = gate.writing(MiB);
  const second = gate.writing(MiB);
  const third = gate.writing(MiB);
  for (const wake of wakes) {
    ok(!gate.mayGo(5, wake));
    gate.wait(wake);
  }
  gate.wait(wakes[0]); // queued once only
  equal(gate.waiting, 5);
  first(); // still 2 MiB: over the bound, nobody woken
  deepEqual(woken, []);
  second(); // 1 MiB: room
  deepEqual(woken, ["a", "b"]);
  const big = gate.writing(5 * MiB);
  ok(gate.mayGo(5, wakes[0]), "a woken stream takes its turn even over the bound");
  ok(!gate.mayGo(5, wakes[0]), "once");
  ok(!gate.mayGo(5, wakes[2]), "a stream still waiting does not");
  gate.cancel(wakes[2]);
  big();
  deepEqual(woken, ["a", "b", "d", "e"], "c left the queue");
  equal(gate.waiting, 0);
  third();
  equal(gate.backlogBytes, 0);
});

Deno.test("LeadGate uncounts each write once, however often it is told", () => {
  const gate = new LeadGate();
  const a = gate.writing(100);
  const b = gate.writing(50);
  a();
  a();
  equal(gate.backlogBytes, 50);
  b();
  b();
  equal(gate.backlogBytes, 0);
});
