import { deepEqual, equal, ok, throws } from "node:assert/strict";
import {
  type Command,
  COMMAND_HELP,
  COMMAND_WORDS,
  complete,
  parseCommand,
  parseQuality,
  parseSeekTarget,
  quoteWord,
  type SeekTarget,
  splitWords,
  type TitleChoice,
} from "./commands.ts";

/** Asserts a SyntaxError whose message contains `fragment`. */
function assertSyntaxError(fn: () => unknown, fragment: string, label: string): void {
  throws(fn, (error: unknown) => {
    ok(error instanceof SyntaxError, `${label}: expected SyntaxError, got ${error}`);
    ok(error.message.includes(fragment), `${label}: "${error.message}" lacks "${fragment}"`);
    return true;
  });
}

const PARSE_TABLE: readonly [string, Command][] = [
  ["", { kind: "empty" }],
  ["   \t ", { kind: "empty" }],
  ["LIST", { kind: "list" }],
  ["list", { kind: "list" }],
  ["  List  ", { kind: "list" }],
  ["LS", { kind: "list" }],
  ["ls", { kind: "list" }],
  ["PLAY dog", { kind: "play", title: "dog", quality: "auto" }],
  ["play Dog", { kind: "play", title: "Dog", quality: "auto" }],
  ["PLAY dog 720p", { kind: "play", title: "dog", quality: 720 }],
  ["PLAY dog 720", { kind: "play", title: "dog", quality: 720 }],
  ["PLAY dog 720P", { kind: "play", title: "dog", quality: 720 }],
  ["PLAY dog auto", { kind: "play", title: "dog", quality: "auto" }],
  ["PLAY dog AUTO", { kind: "play", title: "dog", quality: "auto" }],
  ["pLaY   dog \t 240p  ", { kind: "play", title: "dog", quality: 240 }],
  ['PLAY "my film"', { kind: "play", title: "my film", quality: "auto" }],
  ['PLAY "my film" 480p', { kind: "play", title: "my film", quality: 480 }],
  ["PLAY 'l’été'", { kind: "play", title: "l’été", quality: "auto" }],
  ["PLAY 'l’été à Paris' 720", { kind: "play", title: "l’été à Paris", quality: 720 }],
  ["PLAY l’été", { kind: "play", title: "l’été", quality: "auto" }],
  ["PLAY my\\ film", { kind: "play", title: "my film", quality: "auto" }],
  ['PLAY "say \\"hi\\""', { kind: "play", title: 'say "hi"', quality: "auto" }],
  ['PLAY "back\\\\slash"', { kind: "play", title: "back\\slash", quality: "auto" }],
  ['PLAY "a\\b"', { kind: "play", title: "a\\b", quality: "auto" }],
  ["PLAY 'a\\b'", { kind: "play", title: "a\\b", quality: "auto" }],
  ['PLAY "it\'s"', { kind: "play", title: "it's", quality: "auto" }],
  ['PLAY "my "film', { kind: "play", title: "my film", quality: "auto" }],
  ['PLAY ""', { kind: "play", title: "", quality: "auto" }],
  ["PLAY 🎬\\ 🎥", { kind: "play", title: "🎬 🎥", quality: "auto" }],
  ["STOP", { kind: "stop" }],
  ["stop", { kind: "stop" }],
  ["PAUSE", { kind: "pause" }],
  ["pause", { kind: "pause" }],
  ["RESUME", { kind: "resume" }],
  ["SEEK 1:30", { kind: "seek", target: { absolute: 90 } }],
  ["seek +10", { kind: "seek", target: { relative: 10 } }],
  ["SEEK -10", { kind: "seek", target: { relative: -10 } }],
  ["QUALITY 480p", { kind: "quality", quality: 480 }],
  ["quality auto", { kind: "quality", quality: "auto" }],
  ["MESSAGE", { kind: "message" }],
  ["MESSAGE bob", { kind: "message", to: "bob" }],
  ["message bob   ", { kind: "message", to: "bob" }],
  ["MESSAGE bob hello", { kind: "message", to: "bob", text: "hello" }],
  ["MESSAGE bob  hello   big \t world !", {
    kind: "message",
    to: "bob",
    text: "hello   big \t world !",
  }],
  ["MESSAGE bob bob says bob", { kind: "message", to: "bob", text: "bob says bob" }],
  ["MESSAGE message message", { kind: "message", to: "message", text: "message" }],
  // MESSAGE text is not parsed: an apostrophe or a backslash is text.
  ["MESSAGE bob it's \"fine\\", { kind: "message", to: "bob", text: "it's \"fine\\" }],
  ["MSG bob hi", { kind: "message", to: "bob", text: "hi" }],
  ["msg\tbob\thi  there", { kind: "message", to: "bob", text: "hi  there" }],
  ["MSG", { kind: "message" }],
  ["WHO", { kind: "who" }],
  ["KEYS", { kind: "who" }],
  ["keys", { kind: "who" }],
  ["VERIFY bob", { kind: "verify", peer: "bob", confirm: false }],
  ["VERIFY bob yes", { kind: "verify", peer: "bob", confirm: true }],
  ["verify bob YES", { kind: "verify", peer: "bob", confirm: true }],
  ["ACCEPT bob", { kind: "accept", peer: "bob" }],
  ["accept bob", { kind: "accept", peer: "bob" }],
  ["HELP", { kind: "help" }],
  ["help", { kind: "help" }],
  ["?", { kind: "help" }],
  ["QUIT", { kind: "quit" }],
  ["EXIT", { kind: "quit" }],
  ["exit", { kind: "quit" }],
  ["ROOM CREATE club", { kind: "room-create", room: "club" }],
  ["room create #club", { kind: "room-create", room: "club" }],
  ["ROOMS", { kind: "rooms" }],
  ["VERIFY #club", { kind: "room-verify", room: "club" }],
  ["ROOM CHECK #club", { kind: "room-check", room: "club" }],
  ["room check #club", { kind: "room-check", room: "club" }],
  ["INVITE #club bob", { kind: "room-change", op: "invite", room: "club", peer: "bob" }],
  ["ACCEPT #club", { kind: "room-change", op: "accept", room: "club" }],
  ["DECLINE #club", { kind: "room-change", op: "decline", room: "club" }],
  ["LEAVE #club", { kind: "room-change", op: "leave", room: "club" }],
  ["REMOVE #club dave", { kind: "room-change", op: "remove", room: "club", peer: "dave" }],
  ["HANDOVER #club bob", { kind: "room-change", op: "handover", room: "club", peer: "bob" }],
  ["MESSAGE #club hi  all ", { kind: "room-message", room: "club", text: "hi  all" }],
  ["MSG #club", { kind: "room-message", room: "club" }],
  ["WATCH #club", { kind: "watch", room: "club" }],
  ["watch #club film", { kind: "watch", room: "club", title: "film", quality: "auto" }],
  ['WATCH #club "my film" 240p', { kind: "watch", room: "club", title: "my film", quality: 240 }],
  ["ROOM STOP #club", { kind: "room-stop", room: "club" }],
  ["room control #club HOST", { kind: "room-control", room: "club", control: "host" }],
  ["ROOM CONTROL #club all", { kind: "room-control", room: "club", control: "all" }],
  ["MESSAGE #club", { kind: "room-message", room: "club" }],
  ["msg #club it's \"fine\\", { kind: "room-message", room: "club", text: "it's \"fine\\" }],
  ["LIST anything", { kind: "list" }],
];

Deno.test("parseCommand() returns the command for every valid line", () => {
  for (const [line, expected] of PARSE_TABLE) {
    deepEqual(parseCommand(line), expected, JSON.stringify(line));
  }
});

Deno.test("parseCommand() covers every command word", () => {
  const parsed = new Set(PARSE_TABLE.map(([line]) => line.trim().split(/\s+/)[0].toUpperCase()));
  for (const word of COMMAND_WORDS) ok(parsed.has(word), word);
  for (const word of COMMAND_WORDS) ok(COMMAND_HELP.includes(word), `HELP lacks ${word}`);
});

const ERROR_TABLE: readonly [string, string][] = [
  ["PLAY", "Usage: PLAY"],
  ["PLAY dog 720p now", "too many words"],
  ["PLAY my film", "quote a title with spaces"],
  ['PLAY "my film', 'the quote " is not closed'],
  ["PLAY 'l’été", "the quote ' is not closed"],
  ["PLAY dog\\", "ends with a backslash"],
  ['SEEK "1:30', "is not closed"],
  ["PLAY dog fast", 'Invalid quality "fast"'],
  ["PLAY dog 7", 'Invalid quality "7"'],
  ["PLAY dog 0p", "Invalid quality"],
  ["QUALITY", "Usage: QUALITY"],
  ["QUALITY 720p auto", "Usage: QUALITY"],
  ["QUALITY best", "Invalid quality"],
  ["VERIFY", "Usage: VERIFY"],
  ["VERIFY bob no", "Usage: VERIFY"],
  ["VERIFY bob yes please", "Usage: VERIFY"],
  ["SEEK", "Usage: SEEK"],
  ["SEEK 1 2", "Usage: SEEK"],
  ["SEEK soon", 'Invalid time "soon"'],
  ["ACCEPT", "Usage: ACCEPT"],
  ["ACCEPT bob carol", "Usage: ACCEPT"],
  ["ROOM", "Usage: ROOM CREATE <name>, ROOM CHECK #room, ROOM STOP #room"],
  ["ROOM MAKE club", "Usage: ROOM CREATE <name>, ROOM CHECK #room"],
  ["WATCH", "Usage: WATCH #room"],
  ["WATCH club film", 'Invalid room "club"'],
  ["WATCH #club my film", "quote a title with spaces"],
  ["WATCH #club a b c", "Usage: WATCH #room"],
  ["ROOM STOP club", 'Invalid room "club"'],
  ["ROOM CONTROL #club some", "Usage: ROOM CONTROL #room host|all"],
  ["INVITE #club", "Usage: INVITE #room <peer>"],
  ["INVITE club bob", 'Invalid room "club": type a room as #name'],
  ["LEAVE #club now", "Usage: LEAVE #room"],
  ["REMOVE #", "Usage: REMOVE #room <peer>"],
  ["HANDOVER # bob", 'Invalid room "#"'],
  ["DANCE", 'Unknown command "DANCE"'],
  ["dance now", 'Unknown command "dance"'],
  ["LISTS", "Unknown command"],
  ["/quit", "Unknown command"],
  ["constructor", 'Unknown command "constructor"'],
  ["__proto__", 'Unknown command "__proto__"'],
  ['DANCE "now', 'the quote " is not closed'],
  ["MESSAGE # hi", 'Invalid room "#"'],
  ["VERIFY #", 'Invalid room "#"'],
  ["ROOM CREATE", "Usage: ROOM CREATE <name>"],
  ["ROOM CHECK club", 'Invalid room "club"'],
  ["ROOM CONTROL #club", "Usage: ROOM CONTROL #room host|all"],
  ["ROOM CONTROL club all", 'Invalid room "club"'],
];

Deno.test("parseCommand() throws SyntaxError with a usage hint for a bad line", () => {
  for (const [line, fragment] of ERROR_TABLE) {
    assertSyntaxError(() => parseCommand(line), fragment, JSON.stringify(line));
  }
  assertSyntaxError(() => parseCommand("DANCE"), "type HELP", "remedy");
});

Deno.test("parseQuality() accepts 2 to 4 digits with an optional p, or auto", () => {
  const table: readonly [string, number | "auto"][] = [
    ["auto", "auto"],
    ["AUTO", "auto"],
    ["Auto", "auto"],
    ["10", 10],
    ["10p", 10],
    ["99", 99],
    ["240p", 240],
    ["720", 720],
    ["720P", 720],
    ["1080p", 1080],
    ["9999", 9999],
    ["9999p", 9999],
  ];
  for (const [text, expected] of table) equal(parseQuality(text), expected, text);
});

Deno.test("parseQuality() throws SyntaxError for anything that is not a height or auto", () => {
  const table = [
    "",
    "p",
    "1",
    "9p",
    "00",
    "0000p",
    "0720",
    "10000",
    "10000p",
    "720pp",
    "p720",
    "-720",
    "72 0",
    " 720",
    "1e3",
    "0x2d0",
    "720.5",
    "automatic",
    "hd",
  ];
  for (const text of table) {
    assertSyntaxError(() => parseQuality(text), `Invalid quality "${text}"`, JSON.stringify(text));
  }
});

Deno.test("parseSeekTarget() reads times, seconds and signed offsets", () => {
  const table: readonly [string, SeekTarget][] = [
    ["0", { absolute: 0 }],
    ["90", { absolute: 90 }],
    ["1:30", { absolute: 90 }],
    ["0:05", { absolute: 5 }],
    ["1:02:03", { absolute: 3723 }],
    ["12:00", { absolute: 720 }],
    ["1:30.5", { absolute: 90.5 }],
    ["+10", { relative: 10 }],
    ["-10", { relative: -10 }],
    ["+1:00", { relative: 60 }],
    ["-0", { relative: -0 }],
  ];
  for (const [text, expected] of table) deepEqual(parseSeekTarget(text), expected, text);
  for (
    const text of ["", "+", "1:5", "1:60", "1:2:3:4", "1::30", "a", "10s", "--1", "1:30:", "1.2.3"]
  ) {
    assertSyntaxError(() => parseSeekTarget(text), `Invalid time "${text}"`, JSON.stringify(text));
  }
});

Deno.test("splitWords() reads back every word quoteWord() writes", () => {
  const table = [
    "dog",
    "my film",
    "l’été",
    "l'été",
    'say "hi"',
    "a\\b",
    "a\\",
    "  lead and trail  ",
    "tab\there",
    "",
    '"',
    "'",
    "🎬 film",
    "\\\"'\\",
  ];
  for (const word of table) {
    deepEqual(splitWords(` ${quoteWord(word)} 720p`), [word, "720p"], JSON.stringify(word));
  }
  equal(quoteWord("dog"), "dog");
  equal(quoteWord("my film"), '"my film"');
  equal(quoteWord("l’été"), "l’été");
});

Deno.test("splitWords() splits on any blanks and joins quoted parts", () => {
  const table: readonly [string, string[]][] = [
    ["", []],
    ["   ", []],
    ["a", ["a"]],
    [" a \t b ", ["a", "b"]],
    ['"a b"c', ["a bc"]],
    ["'a'\"b\"", ["ab"]],
    ["a\\ b c", ["a b", "c"]],
    ["'' x", ["", "x"]],
  ];
  for (const [text, expected] of table) deepEqual(splitWords(text), expected, JSON.stringify(text));
});

const PEERS = ["alice", "bob", "bobby"];
const TITLE_CHOICES: readonly TitleChoice[] = [
  { title: "dog", heights: [720, 240] },
  { title: "dolphin", heights: [480] },
  { title: "cat", heights: [240, 360, 480, 720, 1080] },
  { title: "my film", heights: [480, 1080] },
  { title: "l’été", heights: [360] },
];
const TITLES = { peers: PEERS, titles: TITLE_CHOICES };

Deno.test("complete() offers command words for the first word, whatever its case", () => {
  const table: readonly [string, string[]][] = [
    ["", COMMAND_WORDS.map((w) => `${w} `)],
    ["P", ["PLAY ", "PAUSE "]],
    ["pl", ["PLAY "]],
    ["R", ["RESUME ", "ROOM ", "ROOMS ", "REMOVE "]],
    ["se", ["SEEK "]],
    ["  pl", ["PLAY "]],
    ["Q", ["QUALITY ", "QUIT "]],
    ["qu", ["QUALITY ", "QUIT "]],
    ["QUI", ["QUIT "]],
    ["M", ["MESSAGE "]],
    ["X", []],
    ["PLAYS", []],
  ];
  for (const [line, expected] of table) {
    const [hits, replaced] = complete(line, TITLES);
    deepEqual(hits, expected, JSON.stringify(line));
    equal(replaced, line.trim(), JSON.stringify(line));
  }
});

Deno.test("complete() offers peers after MESSAGE/MSG/VERIFY/ACCEPT, titles after PLAY", () => {
  const table: readonly [string, string[], string][] = [
    ["MESSAGE ", ["alice ", "bob ", "bobby "], ""],
    ["message b", ["bob ", "bobby "], "b"],
    ["MSG al", ["alice "], "al"],
    ["VERIFY bobb", ["bobby "], "bobb"],
    ["ACCEPT ", ["alice ", "bob ", "bobby "], ""],
    ["ACCEPT z", [], "z"],
    ["PLAY ", ["dog ", "dolphin ", "cat ", '"my film" ', "l’été "], ""],
    ["play do", ["dog ", "dolphin "], "do"],
    ["PLAY c", ["cat "], "c"],
    // A title with spaces is inserted quoted, replacing what was typed of it, quoted or not.
    ["PLAY my", ['"my film" '], "my"],
    ['PLAY "my f', ['"my film" '], '"my f'],
    ["PLAY 'my f", ['"my film" '], "'my f"],
    ["PLAY my\\ f", ['"my film" '], "my\\ f"],
    ["PLAY l’", ["l’été "], "l’"],
    ["PLAY my film", [], "film"],
    ["PLAY dog 720p ", [], ""],
    ["MESSAGE bob ", [], ""],
    ["STOP ", [], ""],
    ["LIST x", [], "x"],
  ];
  for (const [line, expected, replaced] of table) {
    deepEqual(complete(line, TITLES), [expected, replaced], line);
  }
});

Deno.test("complete() offers only the resolutions the title, or what plays, has", () => {
  const table: readonly [string, string[], string][] = [
    ["PLAY dog ", ["auto ", "240p ", "720p "], ""],
    ["PLAY dog 1", [], "1"],
    ["PLAY dog 7", ["720p "], "7"],
    ["PLAY dolphin ", ["auto ", "480p "], ""],
    ["PLAY cat 1", ["1080p "], "1"],
    ["PLAY cat a", ["auto "], "a"],
    ['PLAY "my film" ', ["auto ", "480p ", "1080p "], ""],
    ["play 'my film' 1", ["1080p "], "1"],
    ["PLAY my\\ film ", ["auto ", "480p ", "1080p "], ""],
    // A title LIST has not shown: only auto is sure to exist.
    ["PLAY zebra ", ["auto "], ""],
    // QUALITY: the heights of what plays.
    ["QUALITY ", ["auto "], ""],
  ];
  for (const [line, expected, replaced] of table) {
    deepEqual(complete(line, TITLES), [expected, replaced], line);
  }
  const playing = { ...TITLES, playing: [720, 240, 480] };
  deepEqual(complete("QUALITY ", playing), [["auto ", "240p ", "480p ", "720p "], ""]);
  deepEqual(complete("quality 4", playing), [["480p "], "4"]);
});

Deno.test("complete() offers nothing when there are no peers or titles", () => {
  deepEqual(complete("MESSAGE ", { peers: [], titles: [] }), [[], ""]);
  deepEqual(complete("PLAY ", { peers: [], titles: [] }), [[], ""]);
});

Deno.test("complete() offers rooms after the room commands, then peers", () => {
  const sources = { peers: ["bob", "carol"], titles: [], rooms: ["club", "chess"] };
  const table: [string, string[], string][] = [
    ["INVITE #c", ["#club ", "#chess "], "#c"],
    ["LEAVE ", ["#club ", "#chess "], ""],
    ["INVITE #club ", ["bob ", "carol "], ""],
    ["REMOVE #club c", ["carol "], "c"],
    ["MESSAGE #ch", ["#chess "], "#ch"],
    ["MESSAGE ", ["#club ", "#chess ", "bob ", "carol "], ""],
    ["ACCEPT #", ["#club ", "#chess "], "#"],
    ["VERIFY ", ["bob ", "carol ", "#club ", "#chess "], ""],
    ["ROO", ["ROOM ", "ROOMS "], "ROO"],
  ];
  for (const [line, want, replaced] of table) {
    deepEqual(complete(line, sources), [want, replaced], line);
  }
});
