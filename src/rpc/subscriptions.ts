import type { Hash } from "../types/index.js";
import { bytesToHex } from "../util/hex.js";
import { RpcError } from "./errors.js";
import type { Json } from "./ethFormat.js";
import { newId } from "./filters.js";
import type { LogCriteria } from "./logs.js";
import type { Pauser } from "./slicer.js";

export type Subscription =
  | { kind: "newHeads" }
  | { kind: "logs"; criteria: LogCriteria }
  | { kind: "newPendingTransactions" };

/** One WebSocket connection's view for eth_subscribe. */
export interface WsSession {
  readonly subscriptions: Map<string, Subscription>;
  /** Whose quota the session's subscriptions count against (see quotaKey). */
  readonly quotaKey: string;
  /** Send a text frame (the session closes itself when the client is too slow). */
  send(text: string): void;
}

/**
 * Fans node events out to the subscriptions of all WebSocket sessions. Bounded: `maxPerSession` subscriptions per
 * connection and `maxPerPrincipal` over all connections of one principal.
 */
export class SubscriptionHub {
  private readonly sessions = new Set<WsSession>();
  private readonly perPrincipal = new Map<string, number>();

  constructor(
    private readonly maxPerSession: number,
    private readonly maxPerPrincipal = Number.MAX_SAFE_INTEGER,
  ) {}

  add(session: WsSession): void {
    this.sessions.add(session);
  }

  remove(session: WsSession): void {
    if (!this.sessions.delete(session)) return;
    this.count(session.quotaKey, -session.subscriptions.size);
    session.subscriptions.clear();
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
    // A request queued or running when its connection closed: counting it would hold the principal's quota for good
    // (remove() already subtracted what the session had).
    if (!this.sessions.has(session)) throw new RpcError("RPC_NOT_FOUND", "the connection is closed");
    if (session.subscriptions.size >= this.maxPerSession) {
      throw new RpcError(
        "RPC_LIMIT_EXCEEDED",
        `too many subscriptions on this connection (max ${this.maxPerSession})`,
      );
    }
    if ((this.perPrincipal.get(session.quotaKey) ?? 0) >= this.maxPerPrincipal) {
      throw new RpcError(
        "RPC_LIMIT_EXCEEDED",
        `too many subscriptions for this principal over all its connections (max ${this.maxPerPrincipal})`,
      );
    }
    const id = newId();
    session.subscriptions.set(id, sub);
    this.count(session.quotaKey, 1);
    return id;
  }

  unsubscribe(session: WsSession, id: string): boolean {
    if (!session.subscriptions.delete(id)) return false;
    this.count(session.quotaKey, -1);
    return true;
  }

  /** Notify newHeads and logs subscribers of a committed block. `logsFor` formats the block's matching logs. */
  async onBlock(header: Json, logsFor: (c: LogCriteria) => Json[], pauser: Pauser): Promise<void> {
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
      if (pauser.due()) await pauser.pause();
    }
  }

  async onPending(hashes: Hash[], pauser: Pauser): Promise<void> {
    let hexes: string[] | null = null;
    for (const session of this.sessions) {
      for (const [id, sub] of session.subscriptions) {
        if (sub.kind !== "newPendingTransactions") continue;
        hexes ??= hashes.map((h) => JSON.stringify(bytesToHex(h)));
        for (const h of hexes) session.send(notification(id, h));
      }
      if (pauser.due()) await pauser.pause();
    }
  }

  private count(key: string, delta: number): void {
    const n = (this.perPrincipal.get(key) ?? 0) + delta;
    if (n <= 0) this.perPrincipal.delete(key);
    else this.perPrincipal.set(key, n);
  }
}

function notification(subscription: string, resultJson: string): string {
  return `{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"${subscription}","result":${resultJson}}}`;
}
