import { type MerkleProof, verifyMerkleProof } from "../crypto/index.js";
import { hexToBytes } from "../util/hex.js";
import { CliError, parseFlags } from "./args.js";
import { type RpcEndpoint, rpcRequest } from "./rpcClient.js";

export const PROOF_USAGE = `consort proof verify <txHash> [--rpc http://127.0.0.1:8545] [--token JWT] [--group group0]
    fetches the transaction's receipt with its Merkle proofs (FISCO getTransactionReceipt, requireProof) and the
    block header from the node, and checks both proofs against the header's txsRoot and receiptsRoot`;

/** A proof as FISCO getTransaction / getTransactionReceipt return it with requireProof. */
export interface ProofJson {
  blockNumber: number;
  blockHash: string;
  index: number;
  leaf: string;
  root: string;
  proof: MerkleProof;
}

export interface ProofCheck {
  what: string;
  ok: boolean;
  detail: string;
}

const HASH = /^0x[0-9a-fA-F]{64}$/;

/**
 * Checks a transaction proof and a receipt proof against a header's roots (what `consort proof verify` prints):
 * the tx proof's leaf is the tx hash, both proofs name the header's block, their roots are the header's, and each
 * Merkle path leads from its leaf to its root (src/crypto verifyMerkleProof). The receipt leaf is
 * keccak256(encoded receipt), taken from the proof: it binds the receipt the node stored, not the JSON it printed.
 */
export function checkProofs(
  txHash: string,
  header: { number: number; hash: string; txsRoot: string; receiptsRoot: string },
  txProof: ProofJson,
  receiptProof: ProofJson,
): ProofCheck[] {
  const checks: ProofCheck[] = [];
  const check = (what: string, ok: boolean, detail: string) => checks.push({ what, ok, detail });
  for (const [name, p, root] of [
    ["tx", txProof, header.txsRoot],
    ["receipt", receiptProof, header.receiptsRoot],
  ] as const) {
    const wellFormed =
      typeof p === "object" &&
      p !== null &&
      typeof p.leaf === "string" &&
      HASH.test(p.leaf) &&
      typeof p.root === "string" &&
      HASH.test(p.root);
    if (!wellFormed) {
      check(`${name} proof`, false, "malformed: expected hex leaf and root");
      continue;
    }
    check(
      `${name} proof block`,
      p.blockNumber === header.number && p.blockHash.toLowerCase() === header.hash.toLowerCase(),
      `block ${p.blockNumber} ${p.blockHash}`,
    );
    check(
      `${name} root`,
      p.root.toLowerCase() === root.toLowerCase(),
      `proof root ${p.root}, header ${root}`,
    );
    const path = verifyMerkleProof(hexToBytes(root), hexToBytes(p.leaf), p.proof);
    check(
      `${name} Merkle path`,
      path,
      `leaf ${p.leaf} at ${p.proof?.index} of ${p.proof?.leafCount} (${p.proof?.siblings?.length ?? 0} siblings)`,
    );
  }
  if (typeof txProof?.leaf === "string") {
    check("tx leaf", txProof.leaf.toLowerCase() === txHash.toLowerCase(), `leaf ${txProof.leaf}`);
  }
  return checks;
}

/** How long one JSON-RPC call of `proof verify` may take. */
const RPC_TIMEOUT_MS = 10_000;

/** Fetches the proofs of `txHash` and the header of its block from `rpc` and checks them. */
export async function verifyTxProofs(
  rpc: RpcEndpoint,
  group: string,
  txHash: string,
): Promise<{ blockNumber: number; checks: ProofCheck[] }> {
  const receipt = (await rpcRequest(rpc, "getTransactionReceipt", [group, "", txHash, true])) as {
    blockNumber: number;
    txProof: ProofJson;
    receiptProof: ProofJson;
  } | null;
  if (receipt === null)
    throw new CliError("CLI_USAGE", `transaction ${txHash} is not committed on ${rpc.url}`);
  const header = (await rpcRequest(rpc, "getBlockByNumber", [
    group,
    "",
    receipt.blockNumber,
    true,
    true,
  ])) as {
    number: number;
    hash: string;
    txsRoot: string;
    receiptsRoot: string;
  };
  return {
    blockNumber: header.number,
    checks: checkProofs(txHash, header, receipt.txProof, receipt.receiptProof),
  };
}

/** `consort proof verify <txHash> [--rpc URL] [--token JWT] [--group ID]`: prints each check; throws when one fails. */
export async function runProofCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseFlags(
    argv,
    {
      rpc: { type: "string", default: "http://127.0.0.1:8545" },
      token: { type: "string" },
      group: { type: "string", default: "group0" },
    },
    `  ${PROOF_USAGE}`,
  );
  const [verb, txHash] = positionals;
  if (verb !== "verify" || txHash === undefined || !HASH.test(txHash)) {
    throw new CliError("CLI_USAGE", `usage:\n  ${PROOF_USAGE}`);
  }
  const rpc: RpcEndpoint = {
    url: values.rpc,
    timeoutMs: RPC_TIMEOUT_MS,
    ...(values.token === undefined ? {} : { token: values.token }),
  };
  const { blockNumber, checks } = await verifyTxProofs(rpc, values.group, txHash);
  for (const c of checks) console.log(`${c.ok ? "ok  " : "FAIL"} ${c.what}: ${c.detail}`);
  if (checks.some((c) => !c.ok)) throw new CliError("CLI_USAGE", "proof verification FAILED");
  console.log(`verified: ${txHash} and its receipt are in block ${blockNumber} under its header's roots`);
}
