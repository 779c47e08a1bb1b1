import type { Hash } from "../types/index.js";
import { bytesToHex } from "../util/hex.js";
import { RpcError } from "./errors.js";
import type { Json } from "./ethFormat.js";
import { newId } from "./filters.js";
import type { LogCriteria } from "./logs.js";

export type Subscription =
  | { kind: "newHeads" }
  | { kind: "logs"; criteria: LogCriteria }
  | { kind: "newPendingTransactions" };

/** One WebSocket connection's view for eth_subscribe. */
export interface WsSession {
  readonly subscriptions: Map<string, Subscription>;
  /** Send a text frame (the session closes itself when the client is too slow). */
  send(text: string): void;
}

/** Fans node events out to the subscriptions of all WebSocket sessions. */
export class SubscriptionHub {
  private readonly sessions = new Set<WsSession>();

  constructor(private readonly maxPerSession: number) {}

  add(session: WsSession): void {
    this.sessions.add(session);
  }

  remove(session: WsSession): void {
    session.subscriptions.clear();
    this.sessions.delete(session);
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  get subscriptionCount(): number {
    let n = 0;
    for (const s of this.sessions) n += s.subscriptions.size;
    return n;
  }

  subscribe(session: WsSession, sub: Subscription): string {
    if (session.subscriptions.size >= this.maxPerSession) {
      throw new RpcError(
        "RPC_LIMIT_EXCEEDED",
        `too many subscriptions on this connection (max ${this.maxPerSession})`,
      );
    }
    const id = newId();
    session.subscriptions.set(id, sub);
    return id;
  }

  /** Notify newHeads and logs subscribers of a committed block. `logsFor` formats the block's matching logs. */
  onBlock(header: Json, logsFor: (c: LogCriteria) => Json[]): void {
    let headerText: string | null = null;
    for (const session of this.sessions) {
      for (const [id, sub] of session.subscriptions) {
        if (sub.kind === "newHeads") {
          headerText ??= JSON.stringify(header);
          session.send(notification(id, headerText));
        } else if (sub.kind === "logs") {
          for (const log of logsFor(sub.criteria)) session.send(notification(id, JSON.stringify(log)));
        }
      }
    }
  }

  onPending(hashes: Hash[]): void {
    let hexes: string[] | null = null;
    for (const session of this.sessions) {
      for (const [id, sub] of session.subscriptions) {
        if (sub.kind !== "newPendingTransactions") continue;
        hexes ??= hashes.map((h) => JSON.stringify(bytesToHex(h)));
        for (const h of hexes) session.send(notification(id, h));
      }
    }
  }
}

function notification(subscription: string, resultJson: string): string {
  return `{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"${subscription}","result":${resultJson}}}`;
}
