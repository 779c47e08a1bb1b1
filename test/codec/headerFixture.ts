import { encodePb, type PbMessage } from "../../src/codec/fields.js";
import { pb } from "../../src/codec/schema.js";
import type { BlockHeader } from "../../src/types/index.js";
import { bigintToBytes } from "../../src/util/hex.js";

/** Shared by the refusal tests of headers, blocks and receipts. */

export const fill = (n: number, b: number) => new Uint8Array(n).fill(b);
export const CHAIN_ID = 20200n;
export const TWO_POW_53 = "9007199254740992"; // a uint64 one above Number.MAX_SAFE_INTEGER

export const header: BlockHeader = {
  chainId: CHAIN_ID,
  groupId: "group0",
  number: 9,
  parentHash: fill(32, 1),
  timestampMs: 1_700_000_000_000,
  txRoot: fill(32, 2),
  receiptRoot: fill(32, 3),
  stateRoot: fill(32, 4),
  gasUsed: 21_000n,
  proposer: fill(32, 5),
  view: 2,
};

/** The header as the protobuf message our encoder writes, with fields overridden (anything goes). */
export const headerPb = (overrides: PbMessage = {}): PbMessage => ({
  ...header,
  chainId: bigintToBytes(header.chainId),
  gasUsed: bigintToBytes(header.gasUsed),
  ...overrides,
});
export const rawHeader = (overrides: PbMessage = {}) => encodePb(pb.BlockHeader, headerPb(overrides));
