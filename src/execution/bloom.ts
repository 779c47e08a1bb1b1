import { keccak256 } from "../crypto/index.js";
import type { Log } from "../types/index.js";

export const BLOOM_BYTES = 256;

function addToBloom(bloom: Uint8Array, data: Uint8Array): void {
  const h = keccak256(data);
  for (let i = 0; i < 6; i += 2) {
    const bit = ((h[i]! << 8) | h[i + 1]!) & 2047;
    bloom[BLOOM_BYTES - 1 - (bit >> 3)]! |= 1 << (bit & 7);
  }
}

/** Ethereum's 2048-bit logs bloom (yellow paper M3:2048): each log's address and topics set 3 bits. */
export function logsBloom(logs: readonly Log[]): Uint8Array {
  const bloom = new Uint8Array(BLOOM_BYTES);
  for (const log of logs) {
    addToBloom(bloom, log.address);
    for (const topic of log.topics) addToBloom(bloom, topic);
  }
  return bloom;
}

/** True when `data` (an address or a topic) may be in the bloom (false positives possible, no false negatives). */
export function bloomContains(bloom: Uint8Array, data: Uint8Array): boolean {
  const probe = new Uint8Array(BLOOM_BYTES);
  addToBloom(probe, data);
  for (let i = 0; i < BLOOM_BYTES; i++) if ((bloom[i]! & probe[i]!) !== probe[i]) return false;
  return true;
}

/** OR of several blooms (a block's bloom from its receipts). */
export function mergeBlooms(blooms: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(BLOOM_BYTES);
  for (const b of blooms) for (let i = 0; i < BLOOM_BYTES; i++) out[i]! |= b[i]!;
  return out;
}
