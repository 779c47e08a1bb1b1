/**
 * Toy blocks for the simulator: payload = height u64 | parent 32 B | proposer u32 | nonce u32 | valid u8.
 * blockHash = sha256(payload). "Execution" (SimChain.verifyBlock) checks height, parent, hash and the valid flag.
 */
import type { Block } from "../../src/types/index.js";
import { sha256 } from "./simCrypto.js";

export const TOY_BLOCK_BYTES = 8 + 32 + 4 + 4 + 1;

export interface ToyBlock {
  height: number;
  parentHash: Uint8Array;
  proposer: number;
  nonce: number;
  valid: boolean;
}

export function encodeToyBlock(b: ToyBlock): Uint8Array {
  const out = new Uint8Array(TOY_BLOCK_BYTES);
  const view = new DataView(out.buffer);
  view.setUint32(0, Math.floor(b.height / 0x1_0000_0000));
  view.setUint32(4, b.height >>> 0);
  out.set(b.parentHash, 8);
  view.setUint32(40, b.proposer >>> 0);
  view.setUint32(44, b.nonce >>> 0);
  out[48] = b.valid ? 1 : 0;
  return out;
}

export function decodeToyBlock(payload: Uint8Array): ToyBlock | null {
  if (payload.length !== TOY_BLOCK_BYTES) return null;
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  return {
    height: view.getUint32(0) * 0x1_0000_0000 + view.getUint32(4),
    parentHash: payload.slice(8, 40),
    proposer: view.getUint32(40),
    nonce: view.getUint32(44),
    valid: payload[48] === 1,
  };
}

export function toyBlockHash(payload: Uint8Array): Uint8Array {
  return sha256(payload);
}

/**
 * A Block as the fake chains hand it to the consensus driver (SimChain here, FakeChain in the driver tests): the
 * driver reads only a block's transactions (how many; their hashes, to hold them in the pool), so only those and
 * the header fields the fake chain itself reads back are filled in. Nothing may encode or execute it.
 */
export function consensusBlock(
  transactions: readonly { hash: Uint8Array }[],
  header: { number?: number; parentHash?: Uint8Array } = {},
): Block {
  return { header, transactions } as unknown as Block;
}
