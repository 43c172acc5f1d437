/**
 * The refusals of a cluster node: what a `JOIN` script's answer means for the person joining,
 * and the errors of an outage.
 * @module
 */

import { PeerstreamError } from "../../protocol/errors.ts";
import type { ClusterLimits } from "./cluster_config.ts";
import { nameBound, nameConfusable, nameInUse, nameLimit } from "./community.ts";

/** What {@linkcode throwRefusal} needs of its node. */
export interface RefusalHooks {
  /** The cluster's limits, for `NAME_LIMIT` messages. */
  limits: ClusterLimits;
  /** Says (rate-limited) that a script found corrupt state; returns what it found. */
  corrupt: (reply: readonly unknown[], effect: string) => string;
  /** Takes the node down. */
  down: (cause: string) => void;
}

/**
 * Throws the refusal a `JOIN` answered, if any.
 *
 * @param name The name asked for.
 * @param reply The script's answer.
 * @param hooks The node's limits, its corrupt-state log and its outage.
 * @throws {PeerstreamError} `NAME_TAKEN`, `NAME_BOUND`, `NAME_CONFUSABLE`, `NAME_LIMIT` or
 * `UNAVAILABLE`.
 */
export function throwRefusal(name: string, reply: unknown[], hooks: RefusalHooks): void {
  switch (reply[0]) {
    case "OK":
      return;
    case "CORRUPT": {
      const what = hooks.corrupt(reply, "joins are refused until then");
      throw new PeerstreamError("UNAVAILABLE", `Cannot join: ${what}`);
    }
    case "TAKEN":
      throw nameInUse(name);
    case "BOUND":
      throw nameBound(name);
    case "CONFUSABLE":
      throw nameConfusable(name, String(reply[1]));
    case "LIMIT_KEY":
      throw nameLimit(name, { perKey: hooks.limits.maxNamesPerKey });
    case "LIMIT_ALL":
      throw nameLimit(name, { total: hooks.limits.maxNames });
    default:
      // NODE: this node's heartbeat lapsed; resynchronise before taking joins.
      hooks.down("this node's heartbeat lapsed");
      throw unavailable();
  }
}

/** Joins are refused: the node lost the cluster. */
export function unavailable(): PeerstreamError {
  return new PeerstreamError(
    "UNAVAILABLE",
    "Cannot register now: this server lost its connection to the cluster; try again shortly",
  );
}

/** A message to a peer on a node that cannot be reached. */
export function peerUnreachable(to: string): PeerstreamError {
  return new PeerstreamError(
    "PEER_UNREACHABLE",
    `Cannot send to "${to}": their server cannot be reached now; try again later`,
  );
}
