/**
 * The Lua scripts that change what a cluster shares, each atomic in Redis, and the key layout they
 * use. Every change of presence takes the next number from `seq` and publishes one event with it
 * on the events channel, in the same script: a node that sees a gap in the numbers knows it missed
 * one. Keys are built from a prefix (ARGV[1]), so one Redis (not Redis Cluster) holds the data.
 *
 * | key                   | type   | holds                                                   |
 * | --------------------- | ------ | ------------------------------------------------------- |
 * | `P seq`               | string | the last presence event's number                        |
 * | `P nodes`             | hash   | node → `{"proto":N,"inst":ID}`: nodes that hold presence  |
 * | `P alive:NODE`        | string | the node's instance id, expiring (`PX` = heartbeat TTL) |
 * | `P online`            | hash   | name → presence entry (JSON)                            |
 * | `P members:NODE`      | set    | names online on that node                               |
 * | `P bind`              | hash   | name → signing key: the durable bindings                |
 * | `P bykey:KEY`         | set    | names bound to that signing key                         |
 * | `P nskel`             | hash   | bound or online name → its look-alike keys (JSON list)  |
 * | `P lk:KEY`            | set    | bound or online names with that look-alike key          |
 * | `P bkeys`             | hash   | bound name → its public keys (JSON), for it offline      |
 * | `P events` (channel)  | pubsub | presence events                                         |
 * | `P to:NODE` (channel) | pubsub | sealed messages and their outcomes for that node        |
 *
 * The offline queues' keys are in `cluster_queue_scripts.ts`.
 * @module
 */

import { DROP_QUEUE } from "./cluster_queue_scripts.ts";

/** A script and its name for logs. */
export interface Script {
  /** For messages. */
  name: string;
  /** The Lua source. */
  lua: string;
}

/**
 * Every script starts here: the prefix, and checks of the values a script parses from Redis. A
 * script that fails half-way keeps the writes it made (Redis does not roll a script back), so the
 * sequence number is checked before anything is written, and a corrupt value is answered with
 * `{'CORRUPT', key, field, kind, value, expected}` (`kind`: `value` or `type`) for the node to
 * name, rather than a Lua error it could only call a lost connection. See `describeCorrupt`.
 */
const HEAD = `local P = ARGV[1]
local function badSeq()
  local t = redis.call('TYPE', P..'seq').ok
  if t == 'none' then return nil end
  if t ~= 'string' then return {'CORRUPT', P..'seq', '', 'type', t, 'a number'} end
  local v = redis.call('GET', P..'seq')
  if #v > 18 or not string.match(v, '^%-?%d+$') then
    return {'CORRUPT', P..'seq', '', 'value', string.sub(v, 1, 200), 'a number'}
  end
  return nil
end
local function decodeEntry(raw)
  local ok, e = pcall(cjson.decode, raw)
  if ok and type(e) == 'table' then return e end
  return nil
end
local function badEntry(name, raw)
  return {'CORRUPT', P..'online', name, 'value', string.sub(raw, 1, 200), 'a presence entry (JSON)'}
end
`;

/** Marks the node alive, refusing a name held by a live node or a cluster of another version. */
export const HELLO: Script = {
  name: "hello",
  lua: HEAD + `
local node, inst, ttl, proto = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local cur = redis.call('GET', P..'alive:'..node)
if cur and cur ~= inst then return {'TAKEN'} end
local nodes = redis.call('HGETALL', P..'nodes')
for i = 1, #nodes, 2 do
  local ok, info = pcall(cjson.decode, nodes[i + 1])
  local other = ok and type(info) == 'table' and tonumber(info.proto) or -1
  if nodes[i] ~= node and other ~= proto and redis.call('EXISTS', P..'alive:'..nodes[i]) == 1 then
    return {'PROTO', nodes[i], tostring(other)}
  end
end
redis.call('SET', P..'alive:'..node, inst, 'PX', ttl)
redis.call('HSET', P..'nodes', node, cjson.encode({proto = proto, inst = inst}))
return {'OK'}
`,
};

const BIND = `
local function bind(name, key)
  redis.call('HSET', P..'bind', name, key)
  redis.call('SADD', P..'bykey:'..key, name)
end
local function index(name, keys)
  for _, k in ipairs(keys) do redis.call('SADD', P..'lk:'..k, name) end
  redis.call('HSET', P..'nskel', name, cjson.encode(keys))
end
`;

/** Drops a name from the look-alike index once it is neither bound nor online. */
const UNINDEX = `
local function unindex(name)
  if redis.call('HEXISTS', P..'bind', name) == 1 or redis.call('HEXISTS', P..'online', name) == 1 then
    return
  end
  local keys = redis.call('HGET', P..'nskel', name)
  local ok, list = pcall(cjson.decode, keys or '[]')
  -- An unreadable list leaves stale index entries, which match no owner and refuse nobody.
  if ok and type(list) == 'table' then
    for _, k in ipairs(list) do redis.call('SREM', P..'lk:'..k, name) end
  end
  redis.call('HDEL', P..'nskel', name)
end
`;

/**
 * Claims a name for a key and puts the peer online on this node: refused when the name is online
 * anywhere (`TAKEN`), bound to another key (`BOUND`), looks like a name bound to or online with
 * another key (`CONFUSABLE`, with that name), or a new binding would pass the key's or the
 * cluster's bound (`LIMIT_KEY`, `LIMIT_ALL`). A new binding needs `mayBind` (the node's own
 * per-address budget): without it the answer is `NEEDBIND` and nothing changes. Answers
 * `{'OK', new, queued}`: whether the binding is new, and whether a queue waits for the name.
 */
export const JOIN: Script = {
  name: "join",
  lua: HEAD + BIND + `
local node, inst, name, keys = ARGV[2], ARGV[3], ARGV[4], cjson.decode(ARGV[5])
local encKey, signKey, eph = ARGV[6], ARGV[7], ARGV[8]
local maxPerKey, maxNames, mayBind = tonumber(ARGV[9]), tonumber(ARGV[10]), ARGV[11]
if redis.call('GET', P..'alive:'..node) ~= inst then return {'NODE'} end
local corrupt = badSeq()
if corrupt then return corrupt end
if redis.call('HEXISTS', P..'online', name) == 1 then return {'TAKEN'} end
local bound = redis.call('HGET', P..'bind', name)
if bound and bound ~= signKey then return {'BOUND'} end
if not bound then
  for _, k in ipairs(keys) do
    for _, other in ipairs(redis.call('SMEMBERS', P..'lk:'..k)) do
      if other ~= name then
        local owner = redis.call('HGET', P..'bind', other)
        if not owner then
          local e = redis.call('HGET', P..'online', other)
          if e then
            local entry = decodeEntry(e)
            if not entry then return badEntry(other, e) end
            owner = entry.signKey
          end
        end
        if owner and owner ~= signKey then return {'CONFUSABLE', other} end
      end
    end
  end
end
local new = 0
if not bound and eph == '0' then
  if redis.call('SCARD', P..'bykey:'..signKey) >= maxPerKey then return {'LIMIT_KEY'} end
  if redis.call('HLEN', P..'bind') >= maxNames then return {'LIMIT_ALL'} end
  if mayBind ~= '1' then return {'NEEDBIND'} end
  bind(name, signKey)
  new = 1
end
index(name, keys)
-- A bound name's keys, so that any node can answer for it (and queue for it) while it is offline.
if bound or new == 1 then
  redis.call('HSET', P..'bkeys', name, cjson.encode({encKey = encKey, signKey = signKey}))
end
local entry = {name = name, node = node, encKey = encKey, signKey = signKey}
redis.call('HSET', P..'online', name, cjson.encode({name = name, node = node, encKey = encKey,
  signKey = signKey, eph = tonumber(eph)}))
redis.call('SADD', P..'members:'..node, name)
local seq = redis.call('INCR', P..'seq')
redis.call('PUBLISH', P..'events', cjson.encode({t = 'join', seq = seq, entry = entry}))
-- Whether messages or notices wait for the name (cluster_queue_scripts.ts).
return {'OK', new, redis.call('EXISTS', P..'q:'..name)}
`,
};

/** Takes a peer of this node offline. */
export const LEAVE: Script = {
  name: "leave",
  lua: HEAD + UNINDEX + `
local node, name, reason = ARGV[2], ARGV[3], ARGV[4]
local corrupt = badSeq()
if corrupt then return corrupt end
local cur = redis.call('HGET', P..'online', name)
if not cur then return 0 end
local entry = decodeEntry(cur)
if not entry then return badEntry(name, cur) end
if entry.node ~= node then return 0 end
redis.call('HDEL', P..'online', name)
redis.call('SREM', P..'members:'..node, name)
unindex(name)
local seq = redis.call('INCR', P..'seq')
redis.call('PUBLISH', P..'events', cjson.encode({t = 'leave', seq = seq, node = node, name = name,
  reason = reason}))
return 1
`,
};

const REAP = `
local function reap(n)
  local gone = {}
  for _, name in ipairs(redis.call('SMEMBERS', P..'members:'..n)) do
    local e = redis.call('HGET', P..'online', name)
    local entry = e and decodeEntry(e)
    -- An unreadable entry listed under the dead node goes with it.
    if e and (not entry or entry.node == n) then
      redis.call('HDEL', P..'online', name)
      unindex(name)
      gone[#gone + 1] = name
    end
  end
  redis.call('DEL', P..'members:'..n)
  redis.call('HDEL', P..'nodes', n)
  local seq = redis.call('INCR', P..'seq')
  redis.call('PUBLISH', P..'events', cjson.encode({t = 'gone', seq = seq, node = n, names = gone}))
end
`;

/**
 * Renews this node's heartbeat and, when asked, takes the peers of nodes whose heartbeat lapsed
 * offline (one `gone` event per node). Answers `LAPSED` when this node's own heartbeat had lapsed
 * (others may have taken its peers offline: resynchronise), `TAKEN` when another instance holds
 * the name now.
 */
export const BEAT: Script = {
  name: "beat",
  lua: HEAD + UNINDEX + REAP + `
local node, inst, ttl, proto, doReap = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local cur = redis.call('GET', P..'alive:'..node)
if cur and cur ~= inst then return {'TAKEN'} end
redis.call('SET', P..'alive:'..node, inst, 'PX', ttl)
redis.call('HSET', P..'nodes', node, cjson.encode({proto = proto, inst = inst}))
local reaped = 0
-- With a corrupt sequence, no reaping (it publishes numbered events); the answer says why.
local corrupt = badSeq()
if corrupt then return {'CORRUPT', corrupt[2], corrupt[3], corrupt[4], corrupt[5], corrupt[6], cur and 'OK' or 'LAPSED'} end
if doReap == '1' then
  for _, n in ipairs(redis.call('HKEYS', P..'nodes')) do
    if n ~= node and redis.call('EXISTS', P..'alive:'..n) == 0 then
      reap(n)
      reaped = reaped + 1
    end
  end
end
return {cur and 'OK' or 'LAPSED', reaped}
`,
};

/**
 * Re-asserts this node's presence after a (re)connect: its peers are put back online unless their
 * name went to someone else meanwhile (returned as conflicts), stale ones of an earlier instance
 * are removed, and one `sync` event tells the others. Answers with a snapshot of the presence
 * table taken in the same step.
 */
export const SYNC: Script = {
  name: "sync",
  lua: HEAD + BIND + UNINDEX + `
local node, inst, ttl, proto = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local cur = redis.call('GET', P..'alive:'..node)
if cur and cur ~= inst then return {'TAKEN'} end
local corrupt = badSeq()
if corrupt then return corrupt end
redis.call('SET', P..'alive:'..node, inst, 'PX', ttl)
redis.call('HSET', P..'nodes', node, cjson.encode({proto = proto, inst = inst}))
local keep, conflicts, entries = {}, {}, {}
for _, e in ipairs(cjson.decode(ARGV[6])) do
  local ok = true
  local other = redis.call('HGET', P..'online', e.name)
  local entry = other and decodeEntry(other)
  -- An unreadable entry is nobody's: this node's peer takes its place.
  if entry and entry.node ~= node then ok = false end
  local bound = redis.call('HGET', P..'bind', e.name)
  if bound and bound ~= e.signKey then ok = false end
  if ok then keep[e.name] = e else conflicts[#conflicts + 1] = e.name end
end
for _, name in ipairs(redis.call('SMEMBERS', P..'members:'..node)) do
  if not keep[name] then
    local e = redis.call('HGET', P..'online', name)
    local entry = e and decodeEntry(e)
    if e and (not entry or entry.node == node) then
      redis.call('HDEL', P..'online', name)
      unindex(name)
    end
    redis.call('SREM', P..'members:'..node, name)
  end
end
for name, e in pairs(keep) do
  redis.call('HSET', P..'online', name, cjson.encode({name = name, node = node, encKey = e.encKey,
    signKey = e.signKey, eph = e.eph}))
  redis.call('SADD', P..'members:'..node, name)
  if e.eph == 0 and not redis.call('HGET', P..'bind', name) then
    bind(name, e.signKey)
    redis.call('HSET', P..'bkeys', name, cjson.encode({encKey = e.encKey, signKey = e.signKey}))
  end
  index(name, e.skel)
  entries[#entries + 1] = {name = name, node = node, encKey = e.encKey, signKey = e.signKey}
end
local seq = redis.call('INCR', P..'seq')
redis.call('PUBLISH', P..'events', cjson.encode({t = 'sync', seq = seq, node = node,
  entries = entries}))
-- Live: a heartbeat and someone listening on the node's channel (after a Redis restart the
-- heartbeats come back from the append-only file before their nodes reconnect).
local live = {}
for _, n in ipairs(redis.call('HKEYS', P..'nodes')) do
  if redis.call('EXISTS', P..'alive:'..n) == 1 and
    redis.call('PUBSUB', 'NUMSUB', P..'to:'..n)[2] > 0 then
    live[#live + 1] = n
  end
end
return {'OK', cjson.encode(conflicts), seq, redis.call('HVALS', P..'online'), live}
`,
};

/** Takes every peer of this node offline and forgets the node (a clean shutdown). */
export const BYE: Script = {
  name: "bye",
  lua: HEAD + UNINDEX + REAP + `
local node, inst = ARGV[2], ARGV[3]
if redis.call('GET', P..'alive:'..node) ~= inst then return 0 end
local corrupt = badSeq()
if corrupt then return corrupt end
redis.call('DEL', P..'alive:'..node)
reap(node)
return 1
`,
};

/** Frees a name from its key (`serve --release`), and deletes what waited for it. */
export const RELEASE: Script = {
  name: "release",
  lua: HEAD + UNINDEX + DROP_QUEUE + `
local name = ARGV[2]
local key = redis.call('HGET', P..'bind', name)
if not key then return 0 end
dropQueue(name)
redis.call('HDEL', P..'bind', name)
redis.call('HDEL', P..'bkeys', name)
redis.call('SREM', P..'bykey:'..key, name)
unindex(name)
return 1
`,
};

/**
 * A bound name's public keys as its key last joined with: `{signing key bound, keys JSON}`, or
 * nil when the name is not bound or its keys are not known. ARGV: prefix, name.
 */
export const BOUND_KEYS: Script = {
  name: "bound-keys",
  lua: HEAD + `
local name = ARGV[2]
local key = redis.call('HGET', P..'bind', name)
local keys = redis.call('HGET', P..'bkeys', name)
if not key or not keys then return false end
return {key, keys}
`,
};

/** The bound names (`serve --list-grandfathered`). */
export const BOUND_NAMES: Script = {
  name: "bound",
  lua: HEAD + `
return redis.call('HKEYS', P..'bind')
`,
};

/**
 * Moves a binding to a new name for the same key (`serve --rename OLD NEW`): `NOOLD` when no key
 * owns OLD, `BOUND` when another name's binding holds NEW (`MINE` when OLD's key does), `TAKEN`
 * when NEW is online with another key, `CONFUSABLE` (with the name) when NEW looks like a name
 * bound to or online with another key. OLD's offline queue is deleted. ARGV: prefix, OLD, NEW,
 * NEW's look-alike keys (JSON).
 */
export const RENAME: Script = {
  name: "rename",
  lua: HEAD + BIND + UNINDEX + DROP_QUEUE + `
local old, new, keys = ARGV[2], ARGV[3], cjson.decode(ARGV[4])
local key = redis.call('HGET', P..'bind', old)
if not key then return {'NOOLD'} end
local other = redis.call('HGET', P..'bind', new)
if other then return {other == key and 'MINE' or 'BOUND'} end
local online = redis.call('HGET', P..'online', new)
if online then
  local e = decodeEntry(online)
  if not e then return badEntry(new, online) end
  if e.signKey ~= key then return {'TAKEN'} end
end
for _, k in ipairs(keys) do
  for _, name in ipairs(redis.call('SMEMBERS', P..'lk:'..k)) do
    if name ~= old and name ~= new then
      local owner = redis.call('HGET', P..'bind', name)
      if not owner then
        local raw = redis.call('HGET', P..'online', name)
        local e = raw and decodeEntry(raw)
        if e then owner = e.signKey end
      end
      if owner and owner ~= key then return {'CONFUSABLE', name} end
    end
  end
end
redis.call('HDEL', P..'bind', old)
redis.call('SREM', P..'bykey:'..key, old)
unindex(old)
-- What waited was addressed to OLD, which anyone may claim now: it goes, as with --release.
dropQueue(old)
local known = redis.call('HGET', P..'bkeys', old)
redis.call('HDEL', P..'bkeys', old)
if known then redis.call('HSET', P..'bkeys', new, known) end
bind(new, key)
index(new, keys)
return {'OK'}
`,
};
