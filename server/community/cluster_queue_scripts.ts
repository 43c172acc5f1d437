/**
 * Sealed offline delivery in cluster mode: the Lua scripts that keep, hand out and delete what
 * waits for offline peers in Redis, each atomic, so that two nodes (a sender's and a recipient's,
 * or a peer that joins twice) never both count, take or delete one entry. The time of an entry is
 * Redis's own (`TIME`), one clock for every node. Keys share the prefix of `cluster_scripts.ts`:
 *
 * | key              | type   | holds                                                                 |
 * | ---------------- | ------ | --------------------------------------------------------------------- |
 * | `P q:NAME`       | stream | what waits for NAME, in order: entry id `QSEQ-1`, fields below         |
 * | `P qm:NAME`      | hash   | `next` (the last qseq given), `n` messages and `b` their bytes waiting |
 * | `P qdue`         | zset   | NAME → when its oldest message was queued (ms): what may expire        |
 * | `P qtotal`       | string | bytes of messages waiting in all queues                                |
 * | `P queue` (chan) | pubsub | `{"t":"notices","name":N}`: notices wait for N, who is online           |
 *
 * A message entry has fields `k` `m`, `f` sender, `r` their request id, `t` when, `z` its size and
 * `b` the sealed body (base64); a notice `k` `d` (delivered) or `e` (expired), `o` the recipient of
 * the message, `s` its qseq there, `r` the request id, `t` when. A queue's two keys go together
 * once it is empty, so a new queue starts again at qseq 1.
 * @module
 */

import type { Script } from "./cluster_scripts.ts";

/** The prefix, Redis's clock, and the helpers every queue script shares. */
const QHEAD = `local P = ARGV[1]
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function fields(list)
  local f = {}
  for i = 1, #list, 2 do f[list[i]] = list[i + 1] end
  return f
end
local function qseqOf(id) return tonumber(string.match(id, '^(%d+)%-')) end
-- The oldest message's time, or nil: notices before it are skipped.
local function oldest(s)
  local from = '-'
  while true do
    local page = redis.call('XRANGE', s, from, '+', 'COUNT', 32)
    if #page == 0 then return nil end
    for _, e in ipairs(page) do
      local f = fields(e[2])
      if f.k == 'm' then return tonumber(f.t) end
    end
    from = '(' .. page[#page][1]
  end
end
-- After a change: the queue's expiry slot follows its oldest message; an empty queue goes.
local function settle(name)
  local s, m = P..'q:'..name, P..'qm:'..name
  if redis.call('XLEN', s) == 0 then
    redis.call('DEL', s, m)
    redis.call('ZREM', P..'qdue', name)
    return
  end
  local t = oldest(s)
  if t then redis.call('ZADD', P..'qdue', t, name) else redis.call('ZREM', P..'qdue', name) end
end
-- Deletes one message entry and its counts.
local function unqueue(name, id, f)
  redis.call('XDEL', P..'q:'..name, id)
  local size = tonumber(f.z) or 0
  redis.call('HINCRBY', P..'qm:'..name, 'n', -1)
  -- Never a negative zero: Redis refuses "-0" as an integer.
  if size > 0 then
    redis.call('HINCRBY', P..'qm:'..name, 'b', -size)
    redis.call('INCRBY', P..'qtotal', -size)
  end
end
-- What became of a message, for its sender: kept in the sender's own queue when their name is
-- bound (the oldest notice goes past maxNotices), announced when they are online.
local function notify(sender, kind, to, ofQseq, re, now, maxNotices)
  local online = redis.call('HEXISTS', P..'online', sender) == 1
  if redis.call('HEXISTS', P..'bind', sender) == 1 then
    local s, m = P..'q:'..sender, P..'qm:'..sender
    local notices = redis.call('XLEN', s) - tonumber(redis.call('HGET', m, 'n') or '0')
    if notices >= maxNotices then
      local from = '-'
      local done = false
      while not done do
        local page = redis.call('XRANGE', s, from, '+', 'COUNT', 32)
        if #page == 0 then break end
        for _, e in ipairs(page) do
          if fields(e[2]).k ~= 'm' then
            redis.call('XDEL', s, e[1])
            done = true
            break
          end
        end
        from = '(' .. page[#page][1]
      end
    end
    local qseq = redis.call('HINCRBY', m, 'next', 1)
    redis.call('XADD', s, qseq..'-1', 'k', kind, 'o', to, 's', ofQseq, 'r', re, 't', now)
    if online then
      redis.call('PUBLISH', P..'queue', cjson.encode({t = 'notices', name = sender}))
    end
  elseif online then
    redis.call('PUBLISH', P..'queue', cjson.encode({t = 'notice', name = sender, kind = kind,
      to = to, qseq = ofQseq, re = tonumber(re)}))
  end
end
`;

/**
 * Keeps a sealed message for an offline peer whose name is bound to the key it was sealed for.
 * Answers `{'OK', qseq}`, `{'ONLINE', node}` (they joined meanwhile: send it live), `{'OFFLINE'}`
 * (not bound, or bound to another key) or `{'FULL', 'messages'|'bytes'|'total'}`. ARGV: prefix,
 * to, signKey, from, re, body (base64), size, maxMessages, maxBytes, maxTotalBytes, room (`''`
 * for a 1:1 message; kept as the entry's field `g`).
 */
export const QUEUE_ADD: Script = {
  name: "queue-add",
  lua: QHEAD + `
local to, key, from, re, body, size = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7])
local maxN, maxB, maxT = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local room = ARGV[11] or ''
local online = redis.call('HGET', P..'online', to)
if online then
  local ok, e = pcall(cjson.decode, online)
  return {'ONLINE', ok and type(e) == 'table' and type(e.node) == 'string' and e.node or ''}
end
if redis.call('HGET', P..'bind', to) ~= key then return {'OFFLINE'} end
local m = P..'qm:'..to
local n = tonumber(redis.call('HGET', m, 'n') or '0')
if n >= maxN then return {'FULL', 'messages'} end
if tonumber(redis.call('HGET', m, 'b') or '0') + size > maxB then return {'FULL', 'bytes'} end
if tonumber(redis.call('GET', P..'qtotal') or '0') + size > maxT then return {'FULL', 'total'} end
local qseq = redis.call('HINCRBY', m, 'next', 1)
local now = clock()
if room == '' then
  redis.call('XADD', P..'q:'..to, qseq..'-1', 'k', 'm', 'f', from, 'r', re, 't', now, 'z', size,
    'b', body)
else
  redis.call('XADD', P..'q:'..to, qseq..'-1', 'k', 'm', 'f', from, 'r', re, 't', now, 'z', size,
    'b', body, 'g', room)
end
redis.call('HINCRBY', m, 'n', 1)
redis.call('HINCRBY', m, 'b', size)
redis.call('INCRBY', P..'qtotal', size)
if n == 0 then redis.call('ZADD', P..'qdue', now, to) end
return {'OK', qseq}
`,
};

/**
 * What waits for a peer who joined (or, with `noticesOnly`, the notices of one online), in order:
 * notices are deleted as they are taken, messages stay until their receipt. Answers a list of
 * `{'m', qseq, from, re, at, body, room}` (room `''` for a 1:1 message) and `{'d'|'e', qseq, to, ofQseq, re, at}`. ARGV: prefix, name,
 * noticesOnly (`1` or `0`).
 */
export const QUEUE_TAKE: Script = {
  name: "queue-take",
  lua: QHEAD + `
local name, noticesOnly = ARGV[2], ARGV[3] == '1'
local s = P..'q:'..name
local out = {}
for _, e in ipairs(redis.call('XRANGE', s, '-', '+')) do
  local f = fields(e[2])
  local qseq = qseqOf(e[1])
  if f.k == 'm' then
    if not noticesOnly then out[#out + 1] = {'m', qseq, f.f, f.r, f.t, f.b, f.g or ''} end
  else
    out[#out + 1] = {f.k, qseq, f.o, f.s, f.r, f.t}
    redis.call('XDEL', s, e[1])
  end
end
settle(name)
return out
`,
};

/**
 * A receipt for a queued message: the entry is deleted, and when `ok` its sender gets a
 * `delivered` notice. Answers `{'OK'}` or `{'NONE'}` (no such message: a stale receipt). ARGV:
 * prefix, name, qseq, ok (`1` or `0`), maxNotices.
 */
export const QUEUE_ACK: Script = {
  name: "queue-ack",
  lua: QHEAD + `
local name, qseq, ok, maxNotices = ARGV[2], ARGV[3], ARGV[4] == '1', tonumber(ARGV[5])
local id = qseq..'-1'
local found = redis.call('XRANGE', P..'q:'..name, id, id)
if #found == 0 then return {'NONE'} end
local f = fields(found[1][2])
if f.k ~= 'm' then return {'NONE'} end
unqueue(name, id, f)
if ok then notify(f.f, 'd', name, qseq, f.r, clock(), maxNotices) end
settle(name)
return {'OK'}
`,
};

/**
 * Deletes messages older than `maxAgeMs` (at most `limit` queues per call), each sender told
 * `expired`. Answers how many expired. ARGV: prefix, maxAgeMs, maxNotices, limit.
 */
export const QUEUE_EXPIRE: Script = {
  name: "queue-expire",
  lua: QHEAD + `
local maxAge, maxNotices, limit = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local now = clock()
local count = 0
for _, name in ipairs(redis.call('ZRANGEBYSCORE', P..'qdue', '-inf', now - maxAge - 1, 'LIMIT', 0, limit)) do
  local s = P..'q:'..name
  for _, e in ipairs(redis.call('XRANGE', s, '-', '+')) do
    local f = fields(e[2])
    if f.k == 'm' then
      -- Oldest first: the first one young enough ends this queue's scan.
      if now - tonumber(f.t) <= maxAge then break end
      unqueue(name, e[1], f)
      notify(f.f, 'e', name, qseqOf(e[1]), f.r, now, maxNotices)
      count = count + 1
    end
  end
  settle(name)
end
return count
`,
};

/**
 * Lua for `RELEASE`: what waited for a released name was sealed for the key that held it, never
 * for its next holder, so its queue goes with the binding. Defines `dropQueue(name)`.
 */
export const DROP_QUEUE = `
local function dropQueue(name)
  local b = tonumber(redis.call('HGET', P..'qm:'..name, 'b') or '0') or 0
  if b > 0 then redis.call('INCRBY', P..'qtotal', -b) end
  redis.call('DEL', P..'q:'..name, P..'qm:'..name)
  redis.call('ZREM', P..'qdue', name)
end
`;
