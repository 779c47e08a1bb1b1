import type { Transaction } from "../types/index.js";
import { TxType } from "../types/index.js";
import type { Entry, PendingSet, SenderQueue } from "./pending.js";

/**
 * One sender's sealable txs for this seal: its Ethereum txs in consecutive nonce order from its first one not in
 * flight (a gap or a parked tx holds the rest back), and its native txs in arrival order (blockLimit still ahead,
 * not parked). The two streams are merged by arrival.
 */
class SenderCursor {
  private nonce: bigint;
  private readonly natives: Iterator<Entry>;
  private nextNative: Entry | undefined;
  done = false;

  constructor(
    private readonly pending: PendingSet,
    private readonly queue: SenderQueue,
    private readonly height: number,
  ) {
    this.nonce = firstUnsealed(pending, queue);
    this.natives = queue.native.values();
    this.nextNative = this.advanceNative();
  }

  /** The next tx this sender would seal, or undefined when it has nothing more for this seal. */
  peek(): Entry | undefined {
    if (this.done) return undefined;
    const eth = this.nextEthereum();
    const native = this.nextNative;
    if (eth === undefined) return native;
    if (native === undefined) return eth;
    return native.seq < eth.seq ? native : eth;
  }

  take(entry: Entry): void {
    if (entry.tx.type === TxType.Native) this.nextNative = this.advanceNative();
    else this.nonce = firstUnsealedFrom(this.pending, this.queue, this.nonce + 1n);
  }

  private nextEthereum(): Entry | undefined {
    const entry = this.queue.byNonce.get(this.nonce);
    if (entry === undefined || this.pending.parked.has(entry.key)) return undefined;
    return entry;
  }

  private advanceNative(): Entry | undefined {
    for (let r = this.natives.next(); !r.done; r = this.natives.next()) {
      const entry = r.value;
      const tx = entry.tx;
      if (tx.type !== TxType.Native || tx.blockLimit <= this.height) continue;
      if (this.pending.inFlight.has(entry.key) || this.pending.parked.has(entry.key)) continue;
      return entry;
    }
    return undefined;
  }
}

function firstUnsealed(pending: PendingSet, queue: SenderQueue): bigint {
  return firstUnsealedFrom(pending, queue, queue.base);
}

function firstUnsealedFrom(pending: PendingSet, queue: SenderQueue, from: bigint): bigint {
  let nonce = from;
  for (let e = queue.byNonce.get(nonce); e !== undefined && pending.inFlight.has(e.key); ) {
    nonce++;
    e = queue.byNonce.get(nonce);
  }
  return nonce;
}

/**
 * The txs the leader proposes next, at most `countMax`, and at most `gasMax` of summed gas limits. Round-robin
 * across senders: one tx from each sender per round, senders in the order of their oldest pooled tx, so a sender
 * with thousands of pending txs gets one slot per round like everyone else and cannot fill a block while others
 * wait. Within a sender, Ethereum nonce order (see SenderCursor). A sender whose next tx does not fit in the gas
 * left leaves the rotation for this seal (its later nonces must not overtake it); others with smaller txs go on.
 * The returned txs are marked in flight.
 */
export function sealRoundRobin(
  pending: PendingSet,
  height: number,
  countMax: number,
  gasMax?: bigint,
): Transaction[] {
  const out: Transaction[] = [];
  if (countMax <= 0) return out;
  let gasLeft = gasMax;
  const seen = new Set<string>();
  const arrivals = pending.byHash.values();
  let rotation: SenderCursor[] = [];
  /** Adds senders to the rotation in arrival order of their oldest pooled tx, until it holds `want` of them. */
  const discover = (want: number): void => {
    for (let r = arrivals.next(); !r.done; r = arrivals.next()) {
      const entry = r.value;
      if (seen.has(entry.senderKey) || pending.inFlight.has(entry.key)) continue;
      seen.add(entry.senderKey);
      const queue = pending.sender(entry.senderKey);
      if (queue === undefined) continue;
      const cursor = new SenderCursor(pending, queue, height);
      if (cursor.peek() === undefined) continue;
      rotation.push(cursor);
      if (rotation.length >= want) return;
    }
  };
  discover(countMax);
  while (out.length < countMax && rotation.length > 0) {
    for (const cursor of rotation) {
      if (out.length >= countMax) break;
      const entry = cursor.peek();
      if (entry === undefined) continue;
      if (gasLeft !== undefined && entry.tx.gasLimit > gasLeft) {
        cursor.done = true;
        continue;
      }
      if (gasLeft !== undefined) gasLeft -= entry.tx.gasLimit;
      pending.inFlight.add(entry.key);
      out.push(entry.tx);
      cursor.take(entry);
    }
    rotation = rotation.filter((c) => c.peek() !== undefined);
    // Senders ran dry: bring in the next ones (at most as many as slots are left).
    if (out.length < countMax) discover(rotation.length + (countMax - out.length));
  }
  return out;
}

/**
 * True when the pool holds work for consensus: a tx in flight (in a proposal) or one `seal` would return now.
 * False when every pooled tx is held back (an Ethereum nonce gap, parked): the view timer need not run for those.
 */
export function hasSealableWork(pending: PendingSet, height: number): boolean {
  if (pending.inFlight.size > 0) return true;
  for (const queue of pending.senders.values()) {
    const next = queue.byNonce.get(queue.base);
    if (next !== undefined && !pending.parked.has(next.key)) return true;
  }
  if (pending.nativeCount > 0) {
    for (const [blockLimit, bucket] of pending.byBlockLimit) {
      if (blockLimit <= height) continue;
      for (const key of bucket) if (!pending.parked.has(key)) return true;
    }
  }
  return false;
}
