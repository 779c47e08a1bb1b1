/**
 * The simulator's checkers: every block an honest node commits (by consensus or sync) must be the one every other
 * honest node decided at that height, extend the node's own chain, be valid, and carry a certificate that verifies
 * under that height's validator set; and no honest node signs two different hashes for one (type, height, view).
 */
import {
  equalBytes,
  type PbftCrypto,
  type PbftMessage,
  toHex,
  verifyCertificate,
} from "../../src/consensus/index.js";
import type { CommitCertificate, ValidatorInfo } from "../../src/types/index.js";
import { decodeToyBlock } from "./block.js";

export interface ChainEntry {
  hash: Uint8Array;
  payload: Uint8Array;
  certificate: CommitCertificate | null;
}

/** What the checker needs to know of a node (SimNode). */
export interface CheckedNode {
  readonly index: number;
  readonly nodeId: Uint8Array;
  readonly byz: string | null;
  readonly chain: ChainEntry[];
}

const REPORTS_MAX = 20;

export class SafetyChecker {
  readonly safetyViolations: string[] = [];
  readonly doubleVotes: string[] = [];
  private readonly decided = new Map<number, string>();
  private readonly votesSigned = new Map<string, string>();

  constructor(
    private readonly clock: { readonly now: number },
    private readonly validatorsAt: (height: number) => ValidatorInfo[],
    private readonly log: (line: string) => void,
  ) {}

  /** Appends a decided block to the node's chain after checking it against its chain and every other node's. */
  applyBlock(nd: CheckedNode, entry: ChainEntry, height: number, crypto: PbftCrypto, how: string): void {
    const head = nd.chain.length - 1;
    if (height !== head + 1) {
      this.violation(nd, `node${nd.index} ${how} h=${height} but its chain is at ${head}`);
      return;
    }
    const block = decodeToyBlock(entry.payload);
    if (block === null || block.height !== height || !block.valid)
      this.violation(nd, `node${nd.index} ${how} h=${height}: not a valid block of that height`);
    else if (toHex(block.parentHash) !== toHex(nd.chain[head]!.hash))
      this.violation(nd, `node${nd.index} ${how} h=${height}: the block does not extend its head`);
    const check = entry.certificate
      ? verifyCertificate(entry.certificate, this.validatorsAt(height), crypto)
      : { ok: false, reason: "none" };
    if (!check.ok)
      this.violation(nd, `node${nd.index} ${how} h=${height} with a bad certificate: ${check.reason}`);
    nd.chain.push(entry);
    const hex = toHex(entry.hash);
    const known = this.decided.get(height);
    if (known === undefined) this.decided.set(height, hex);
    else if (known !== hex)
      this.violation(nd, `h=${height}: node${nd.index} ${how} ${hex.slice(0, 12)} != ${known.slice(0, 12)}`);
  }

  /** Honest nodes never sign two different hashes for one (type, height, view): the double-vote checker. */
  recordVote(nd: CheckedNode, msg: PbftMessage): void {
    if (nd.byz) return;
    if (msg.type !== "prePrepare" && msg.type !== "prepare" && msg.type !== "commit") return;
    if (!equalBytes(msg.sender, nd.nodeId)) return;
    const key = `${nd.index}/${msg.type}/${msg.height}/${msg.view}`;
    const hex = toHex(msg.blockHash);
    const known = this.votesSigned.get(key);
    if (known === undefined) this.votesSigned.set(key, hex);
    else if (known !== hex && this.doubleVotes.length < REPORTS_MAX) {
      this.doubleVotes.push(
        `t=${this.clock.now} node${nd.index} signed two ${msg.type} at h=${msg.height} v=${msg.view}`,
      );
      this.log(`DOUBLE VOTE node${nd.index} ${msg.type} h=${msg.height} v=${msg.view}`);
    }
  }

  /** A failure of an honest node (Byzantine nodes may do anything to themselves). */
  violation(nd: CheckedNode, text: string): void {
    if (nd.byz) return;
    if (this.safetyViolations.length < REPORTS_MAX) this.safetyViolations.push(`t=${this.clock.now} ${text}`);
    this.log(`SAFETY VIOLATION ${text}`);
  }
}
