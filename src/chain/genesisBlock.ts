import { hashHeader } from "../codec/index.js";
import type { GenesisConfig } from "../config/index.js";
import { type ExecutedBlock, genesisState } from "../execution/index.js";
import { receiptRootOf, txRootOf } from "../ledger/index.js";
import type { Block, BlockHeader, CommitCertificate } from "../types/index.js";

/** Block 0 of a chain and its state: derived from the genesis file alone, so every node gets the same hash. */
export function genesisBlock(genesis: GenesisConfig): {
  block: Block;
  stateChanges: ExecutedBlock["stateChanges"];
} {
  const { stateChanges, stateRoot } = genesisState(genesis);
  const header: BlockHeader = {
    chainId: genesis.chainId,
    groupId: genesis.groupId,
    number: 0,
    parentHash: new Uint8Array(32),
    timestampMs: genesis.timestampMs,
    txRoot: txRootOf([]),
    receiptRoot: receiptRootOf([]),
    stateRoot,
    gasUsed: 0n,
    proposer: new Uint8Array(32),
    view: 0,
  };
  // Genesis is final by definition: a certificate with no signatures.
  const certificate: CommitCertificate = {
    height: 0,
    view: 0,
    blockHash: hashHeader(header),
    signatures: [],
  };
  return { block: { header, transactions: [], certificate }, stateChanges };
}
