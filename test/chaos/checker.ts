/**
 * The checker, run after each scenario has healed and the clients have stopped:
 *   1. every node has the same block hash at every height (read over JSON-RPC, FISCO getBlockByNumber);
 *   2. every block carries a commit certificate that verifies (src/consensus verifyCertificate with src/crypto's
 *      Ed25519 and keccak) against the genesis sealers, and no height has two valid certificates for different blocks;
 *   3. every acknowledged tx is in the chain on every node, in the very block its receipt named;
 *   4. no tx is in the chain twice.
 * Heights already checked are not fetched again, except for a node whose data was wiped (it re-synced them).
 */
import { verifyCertificate } from "../../src/consensus/index.js";
import { keccak256, verifyNodeSignature } from "../../src/crypto/index.js";
import type { CommitCertificate, ValidatorInfo } from "../../src/types/index.js";
import { hexToBytes } from "../../src/util/hex.js";
import type { Acknowledged } from "./history.js";
import { rpcCall } from "./rpc.js";

const crypto = { verify: verifyNodeSignature, hash: keccak256 };
/** A certificate's view is not in the RPC block (the header has the view it was first proposed in): search up. */
const CERT_VIEW_SEARCH_MAX = 4096;

interface FiscoBlock {
  number: number;
  hash: string;
  view: number;
  sealerList: string[];
  signatureList: { index: number; signature: string }[];
  transactions: string[];
}

interface SeenBlock {
  hash: string;
  certOk: boolean;
  certView: number | null;
  txs: string[];
}

export interface CheckResult {
  ok: boolean;
  height: number;
  violations: string[];
  lost: number;
  misplaced: number;
  checkedBlocks: number;
}

export class Checker {
  /** Per node, per height: what it served and whether its certificate verified. */
  private readonly seen: Map<number, SeenBlock>[];
  private readonly txHeight = new Map<string, number>();
  /** Acknowledged txs already reported lost or misplaced. */
  private readonly reported = new Set<string>();

  constructor(
    private readonly urls: string[],
    private readonly sealers: ValidatorInfo[],
  ) {
    this.seen = urls.map(() => new Map());
  }

  /** Forget what node i served (its data was wiped): it is fetched and checked again in full. */
  forget(node: number): void {
    this.seen[node]!.clear();
  }

  async check(acknowledged: Iterable<Acknowledged>): Promise<CheckResult> {
    const violations: string[] = [];
    const heights = await Promise.all(
      this.urls.map((u) => rpcCall<number>(u, "getBlockNumber", ["group0", ""], 10_000)),
    );
    const height = Math.min(...heights);
    if (new Set(heights).size > 1) violations.push(`heights differ after quiescence: ${heights.join(", ")}`);
    let checkedBlocks = 0;
    for (let node = 0; node < this.urls.length; node++) {
      checkedBlocks += await this.fetchNode(node, height, violations);
    }
    this.compareNodes(height, violations);
    const { lost, misplaced } = this.checkAcknowledged(acknowledged, height, violations);
    return { ok: violations.length === 0, height, violations, lost, misplaced, checkedBlocks };
  }

  private async fetchNode(node: number, height: number, violations: string[]): Promise<number> {
    const seen = this.seen[node]!;
    let fetched = 0;
    for (let n = 1; n <= height; n++) {
      if (seen.has(n)) continue;
      const b = await rpcCall<FiscoBlock | null>(
        this.urls[node]!,
        "getBlockByNumber",
        ["group0", "", n, false, true],
        10_000,
      );
      if (!b) {
        violations.push(`node${node} has no block ${n} below its head`);
        continue;
      }
      const { ok, view } = this.verifyBlockCertificate(b);
      seen.set(n, { hash: b.hash, certOk: ok, certView: view, txs: b.transactions });
      if (!ok) violations.push(`node${node} block ${n} (${b.hash}): commit certificate does not verify`);
      fetched++;
    }
    return fetched;
  }

  private verifyBlockCertificate(b: FiscoBlock): { ok: boolean; view: number | null } {
    const signatures = b.signatureList.map((s) => ({
      nodeId: hexToBytes(b.sealerList[s.index] ?? "0x"),
      signature: hexToBytes(s.signature),
    }));
    if (signatures.length === 0) return { ok: false, view: null };
    for (let view = b.view; view <= b.view + CERT_VIEW_SEARCH_MAX; view++) {
      const cert: CommitCertificate = { height: b.number, view, blockHash: hexToBytes(b.hash), signatures };
      // One signature tells the view (all signed the same digest); then the whole certificate is checked.
      const first: CommitCertificate = { ...cert, signatures: signatures.slice(0, 1) };
      const probe = verifyCertificate(first, this.sealers, crypto);
      if (!probe.ok && probe.reason === "BAD_SIGNATURE") continue;
      return { ok: verifyCertificate(cert, this.sealers, crypto).ok, view };
    }
    return { ok: false, view: null };
  }

  private compareNodes(height: number, violations: string[]): void {
    this.txHeight.clear();
    for (let n = 1; n <= height; n++) {
      const blocks = this.seen.map((s) => s.get(n));
      const hashes = new Set(blocks.map((b) => b?.hash));
      if (hashes.size > 1) {
        const valid = new Set(blocks.filter((b) => b?.certOk).map((b) => b!.hash));
        violations.push(
          valid.size > 1
            ? `SAFETY: height ${n} has ${valid.size} blocks with valid commit certificates: ${[...valid].join(", ")}`
            : `nodes disagree at height ${n}: ${blocks.map((b) => b?.hash ?? "none").join(", ")}`,
        );
      }
      for (const tx of blocks[0]?.txs ?? []) {
        const key = tx.toLowerCase();
        const earlier = this.txHeight.get(key);
        if (earlier !== undefined) violations.push(`tx ${tx} is in block ${earlier} and again in block ${n}`);
        this.txHeight.set(key, n);
      }
    }
  }

  private checkAcknowledged(
    acknowledged: Iterable<Acknowledged>,
    height: number,
    violations: string[],
  ): { lost: number; misplaced: number } {
    let lost = 0;
    let misplaced = 0;
    for (const a of acknowledged) {
      // Every check looks at every acknowledged tx (a later fault may lose an earlier one); each loss counts once.
      if (this.reported.has(a.tx)) continue;
      const at = this.txHeight.get(a.tx.toLowerCase());
      if (at === undefined) {
        this.reported.add(a.tx);
        lost++;
        violations.push(
          `LOST: tx ${a.tx} acknowledged by node${a.node} in block ${a.blockNumber} (${a.scenario}) is not in the chain (height ${height})`,
        );
        continue;
      }
      const hashes = this.seen.map((s) => s.get(a.blockNumber)?.hash);
      if (at !== a.blockNumber || hashes.some((h) => h !== a.blockHash)) {
        this.reported.add(a.tx);
        misplaced++;
        violations.push(
          `MISPLACED: tx ${a.tx} acknowledged in block ${a.blockNumber} ${a.blockHash} (${a.scenario}) is in block ${at} ${hashes[0]}`,
        );
      }
    }
    return { lost, misplaced };
  }
}
