import type { Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { decodeEventLog, decodeFunctionResult, encodeFunctionData, toFunctionSelector } from "viem/utils";
import { loadAccountKey } from "../crypto/index.js";
// The governance modules that hold no state, not ../execution/index.js: that one loads the EVM (~0.5 s of CPU).
import * as abi from "../execution/governance/abi.js";
import { decodeChange, describeChange } from "../execution/governance/change.js";
import { PROPOSAL_STATUS_NAMES } from "../execution/governance/layout.js";
import { bytesToHex, hexToBytes } from "../util/hex.js";
import { CliError, parseFlags } from "./args.js";
import { type RpcEndpoint, rpcRequest } from "./rpcClient.js";

const { COMMITTEE_ABI, CONTRACT_AUTH_ABI, PROPOSAL_KIND_NAMES } = abi;
const COMMITTEE = bytesToHex(abi.COMMITTEE_ADDRESS) as Hex;
const CONTRACT_AUTH = bytesToHex(abi.CONTRACT_AUTH_ADDRESS) as Hex;

export const GOV_USAGE = `consort gov — committee governance (signs with a key file, talks JSON-RPC to a node)

  consort gov propose <change> … --key FILE    create a proposal (your own vote counts "for")
      set-config KEY VALUE          add-observer NODEID          add-sealer NODEID WEIGHT (observer → sealer)
      set-weight NODEID WEIGHT      remove-node NODEID           set-governor ADDRESS WEIGHT (0 removes)
      set-rate PARTICIPATION% WIN%  deploy-type open|allow|deny  deploy-access ADDRESS open|close
      set-admin CONTRACT ADMIN      account-status ADDRESS normal|frozen|abolished
      contract-status CONTRACT normal|frozen|abolished
  consort gov vote ID for|against --key FILE
  consort gov revoke ID --key FILE              (the proposer only, while open)
  consort gov freeze|unfreeze|abolish ADDRESS [--contract] --key FILE   (shortcuts for account/contract-status)
  consort gov list [--from ID] [--count 20]     proposals, newest first
  consort gov show ID                           one proposal and its votes
  consort gov committee                         governors, weights, rates
  consort gov status ADDRESS                    account and contract status, deploy access
  consort gov acl method-type CONTRACT FUNC open|allow|deny --key FILE   (the contract's ACL admin)
  consort gov acl open|close CONTRACT FUNC ACCOUNT --key FILE
        FUNC is a selector (0xa9059cbb) or a signature ("transfer(address,uint256)")
Common flags: --rpc URL (default http://127.0.0.1:8545), --token JWT (a node with rpc.auth),
              --expiry BLOCKS (proposals; 0 = 10000), --json`;

/** How long one JSON-RPC call of a gov command may take. */
const RPC_TIMEOUT_MS = 15_000;

interface Common {
  rpc: RpcEndpoint;
  key?: string;
  json: boolean;
  expiry: bigint;
  contract: boolean;
  from?: string;
  count: number;
}

const view = async (c: Common, to: Hex, data: Hex) =>
  rpcRequest<Hex>(c.rpc, "eth_call", [{ to, data }, "latest"]);

/** Simulates, signs (legacy tx, key file), sends, waits for the receipt; returns it and the decoded events. */
async function send(c: Common, to: Hex, data: Hex) {
  if (c.key === undefined) throw new CliError("CLI_USAGE", "this command signs a transaction: --key FILE");
  const key = await loadAccountKey(c.key);
  const account = privateKeyToAccount(bytesToHex(key.privateKey) as Hex);
  // eth_call first: a refusal comes back with the rule's reason, and nothing is sent.
  await rpcRequest(c.rpc, "eth_call", [{ from: account.address, to, data }, "latest"]);
  const estimate = BigInt(
    await rpcRequest<Hex>(c.rpc, "eth_estimateGas", [{ from: account.address, to, data }]),
  );
  const [chainId, nonce, gasPrice] = await Promise.all([
    rpcRequest<Hex>(c.rpc, "eth_chainId", []),
    rpcRequest<Hex>(c.rpc, "eth_getTransactionCount", [account.address, "pending"]),
    rpcRequest<Hex>(c.rpc, "eth_gasPrice", []),
  ]);
  const raw = await account.signTransaction({
    type: "legacy",
    chainId: Number(chainId),
    nonce: Number(nonce),
    to,
    data,
    gas: estimate + estimate / 4n,
    gasPrice: BigInt(gasPrice),
  });
  const hash = await rpcRequest<Hex>(c.rpc, "eth_sendRawTransaction", [raw]);
  const deadline = Date.now() + 120_000;
  for (;;) {
    const receipt = await rpcRequest<{
      status: Hex;
      blockNumber: Hex;
      logs: { address: Hex; topics: Hex[]; data: Hex }[];
    } | null>(c.rpc, "eth_getTransactionReceipt", [hash]);
    if (receipt !== null) {
      const events = receipt.logs.flatMap((l) => {
        try {
          const abi = l.address.toLowerCase() === COMMITTEE ? COMMITTEE_ABI : CONTRACT_AUTH_ABI;
          const e = decodeEventLog({ abi, topics: l.topics as [Hex, ...Hex[]], data: l.data });
          return [{ event: e.eventName, args: e.args as Record<string, unknown> }];
        } catch {
          return [];
        }
      });
      return {
        hash,
        status: receipt.status === "0x1" ? "success" : "failed",
        block: Number(receipt.blockNumber),
        events,
      };
    }
    if (Date.now() > deadline) throw new CliError("CLI_USAGE", `no receipt for ${hash} after 120 s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function json(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2);
}

function need(args: string[], n: number, what: string): string[] {
  if (args.length < n) throw new CliError("CLI_USAGE", `expected ${what}\n\n${GOV_USAGE}`);
  return args;
}

const pick = <T>(word: string, options: Record<string, T>, what: string): T => {
  const v = options[word];
  if (v === undefined)
    throw new CliError("CLI_USAGE", `${what} must be one of ${Object.keys(options).join(", ")}, got ${word}`);
  return v;
};
const STATUS = { normal: 0, frozen: 1, abolished: 2 };
const MODE = { open: 0, allow: 1, deny: 2 };

/** The ABI call of `propose <change> …`. */
function proposalData(change: string, a: string[], expiry: bigint): Hex {
  const enc = (functionName: string, args: unknown[]) =>
    encodeFunctionData({
      abi: COMMITTEE_ABI,
      functionName: functionName as never,
      args: [...args, expiry] as never,
    });
  switch (change) {
    case "set-config":
      need(a, 2, "KEY VALUE");
      return enc("createSetSysConfigProposal", [a[0], a[1]]);
    case "add-observer":
      return enc("createAddObserverProposal", [need(a, 1, "NODEID")[0]]);
    case "add-sealer":
      need(a, 2, "NODEID WEIGHT");
      return enc("createAddSealerProposal", [a[0], BigInt(a[1]!)]);
    case "set-weight":
      need(a, 2, "NODEID WEIGHT");
      return enc("createSetWeightProposal", [a[0], BigInt(a[1]!)]);
    case "remove-node":
      return enc("createRmNodeProposal", [need(a, 1, "NODEID")[0]]);
    case "set-governor":
      need(a, 2, "ADDRESS WEIGHT");
      return enc("createUpdateGovernorProposal", [a[0], BigInt(a[1]!)]);
    case "set-rate":
      need(a, 2, "PARTICIPATION WIN (percent)");
      return enc("createSetRateProposal", [Number(a[0]), Number(a[1])]);
    case "deploy-type":
      return enc("createSetDeployAuthTypeProposal", [pick(need(a, 1, "open|allow|deny")[0]!, MODE, "mode")]);
    case "deploy-access":
      need(a, 2, "ADDRESS open|close");
      return enc("createModifyDeployAuthProposal", [
        a[0],
        pick(a[1]!, { open: true, close: false }, "access"),
      ]);
    case "set-admin":
      need(a, 2, "CONTRACT ADMIN");
      return enc("createResetAdminProposal", [a[1], a[0]]);
    case "account-status":
    case "contract-status":
      need(a, 2, "ADDRESS normal|frozen|abolished");
      return enc(
        change === "account-status" ? "createSetAccountStatusProposal" : "createSetContractStatusProposal",
        [a[0], pick(a[1]!, STATUS, "status")],
      );
    default:
      throw new CliError("CLI_USAGE", `unknown change "${change}"\n\n${GOV_USAGE}`);
  }
}

function selectorOf(func: string): Hex {
  if (/^0x[0-9a-fA-F]{8}$/.test(func)) return func.toLowerCase() as Hex;
  try {
    return toFunctionSelector(func.startsWith("function ") ? func : `function ${func}`);
  } catch {
    throw new CliError(
      "CLI_USAGE",
      `FUNC must be a 4-byte selector or a signature like "transfer(address,uint256)", got ${func}`,
    );
  }
}

async function proposalInfo(c: Common, id: bigint) {
  const out = await view(
    c,
    COMMITTEE,
    encodeFunctionData({ abi: COMMITTEE_ABI, functionName: "getProposalInfo", args: [id] }),
  );
  const [proposer, kind, status, createdAt, expiresAt, agree, against, args] = decodeFunctionResult({
    abi: COMMITTEE_ABI,
    functionName: "getProposalInfo",
    data: out,
  });
  if (kind === 0) throw new CliError("CLI_USAGE", `proposal ${id} does not exist`);
  const head = Number(await rpcRequest<Hex>(c.rpc, "eth_blockNumber", []));
  let state: string = PROPOSAL_STATUS_NAMES[status] ?? String(status);
  // Votes go into the next block: past expiresAt, an open proposal can never execute.
  if (state === "open" && head + 1 > Number(expiresAt)) state = "expired";
  const change = decodeChange(
    kind,
    args.map((x) => hexToBytes(x)),
  );
  return {
    id: id.toString(),
    type: PROPOSAL_KIND_NAMES[kind] ?? String(kind),
    change: describeChange(change),
    status: state,
    proposer,
    createdAt: Number(createdAt),
    expiresAt: Number(expiresAt),
    for: agree,
    against,
  };
}

function printProposal(p: Awaited<ReturnType<typeof proposalInfo>>): void {
  console.log(`proposal ${p.id}  [${p.status}]  ${p.change}`);
  console.log(`  proposer ${p.proposer}, created at block ${p.createdAt}, votes until block ${p.expiresAt}`);
  console.log(`  for (${p.for.length}): ${p.for.join(", ") || "-"}`);
  console.log(`  against (${p.against.length}): ${p.against.join(", ") || "-"}`);
}

async function committeeInfo(c: Common) {
  const out = await view(
    c,
    COMMITTEE,
    encodeFunctionData({ abi: COMMITTEE_ABI, functionName: "getCommitteeInfo" }),
  );
  const [participationRate, winRate, governors, weights] = decodeFunctionResult({
    abi: COMMITTEE_ABI,
    functionName: "getCommitteeInfo",
    data: out,
  });
  return {
    participationRate,
    winRate,
    governors: governors.map((address, i) => ({ address, weight: Number(weights[i]) })),
  };
}

async function authRead<T>(c: Common, functionName: string, args: unknown[]): Promise<T> {
  const data = encodeFunctionData({
    abi: CONTRACT_AUTH_ABI,
    functionName: functionName as never,
    args: args as never,
  });
  const out = await view(c, CONTRACT_AUTH, data);
  return decodeFunctionResult({
    abi: CONTRACT_AUTH_ABI,
    functionName: functionName as never,
    data: out,
  }) as T;
}

function report(c: Common, r: Awaited<ReturnType<typeof send>>): void {
  if (c.json) {
    console.log(json(r));
    return;
  }
  console.log(`tx ${r.hash}: ${r.status} in block ${r.block}`);
  for (const e of r.events) {
    const args = Object.entries(e.args)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(" ");
    console.log(`  ${e.event} ${args}`);
  }
}

export async function runGov(argv: string[]): Promise<void> {
  const { values, positionals } = parseFlags(
    argv,
    {
      rpc: { type: "string", default: "http://127.0.0.1:8545" },
      token: { type: "string" },
      key: { type: "string" },
      json: { type: "boolean", default: false },
      expiry: { type: "string", default: "0" },
      contract: { type: "boolean", default: false },
      from: { type: "string" },
      count: { type: "string", default: "20" },
    },
    GOV_USAGE,
  );
  if (!/^[0-9]{1,9}$/.test(values.expiry)) throw new CliError("CLI_USAGE", "--expiry must be a block count");
  const c: Common = {
    rpc: {
      url: values.rpc,
      timeoutMs: RPC_TIMEOUT_MS,
      ...(values.token === undefined ? {} : { token: values.token }),
    },
    json: values.json,
    expiry: BigInt(values.expiry),
    contract: values.contract,
    count: Math.min(200, Math.max(1, Number(values.count) || 20)),
    ...(values.key === undefined ? {} : { key: values.key }),
    ...(values.from === undefined ? {} : { from: values.from }),
  };
  const [command, ...args] = positionals;
  const id = (s: string | undefined) => {
    if (s === undefined || !/^[0-9]{1,18}$/.test(s))
      throw new CliError("CLI_USAGE", `expected a proposal ID, got ${s}`);
    return BigInt(s);
  };
  switch (command) {
    case "propose":
      return report(c, await send(c, COMMITTEE, proposalData(args[0] ?? "", args.slice(1), c.expiry)));
    case "freeze":
    case "unfreeze":
    case "abolish": {
      const status = { freeze: "frozen", unfreeze: "normal", abolish: "abolished" }[command];
      const change = c.contract ? "contract-status" : "account-status";
      return report(
        c,
        await send(c, COMMITTEE, proposalData(change, [need(args, 1, "ADDRESS")[0]!, status], c.expiry)),
      );
    }
    case "vote": {
      const agree = pick(args[1] ?? "", { for: true, against: false }, "the vote");
      const data = encodeFunctionData({
        abi: COMMITTEE_ABI,
        functionName: "voteProposal",
        args: [id(args[0]), agree],
      });
      return report(c, await send(c, COMMITTEE, data));
    }
    case "revoke": {
      const data = encodeFunctionData({
        abi: COMMITTEE_ABI,
        functionName: "revokeProposal",
        args: [id(args[0])],
      });
      return report(c, await send(c, COMMITTEE, data));
    }
    case "show": {
      const p = await proposalInfo(c, id(args[0]));
      if (c.json) console.log(json(p));
      else printProposal(p);
      return;
    }
    case "list": {
      const countData = encodeFunctionData({ abi: COMMITTEE_ABI, functionName: "proposalCount" });
      const total = decodeFunctionResult({
        abi: COMMITTEE_ABI,
        functionName: "proposalCount",
        data: await view(c, COMMITTEE, countData),
      });
      const from = c.from === undefined ? total : id(c.from);
      const list = [];
      for (let i = from; i >= 1n && list.length < c.count; i--) list.push(await proposalInfo(c, i));
      if (c.json) console.log(json(list));
      else if (list.length === 0) console.log("no proposals yet");
      else
        for (const p of list)
          console.log(
            `${p.id.padStart(4)}  ${p.status.padEnd(8)}  ${p.type.padEnd(15)}  ${p.change}  (for ${p.for.length}, against ${p.against.length})`,
          );
      return;
    }
    case "committee": {
      const info = await committeeInfo(c);
      if (c.json) console.log(json(info));
      else {
        console.log(`participation rate ${info.participationRate}%, win rate ${info.winRate}%`);
        for (const g of info.governors) console.log(`  ${g.address}  weight ${g.weight}`);
      }
      return;
    }
    case "status": {
      const address = need(args, 1, "ADDRESS")[0]!;
      const names = ["normal", "frozen", "abolished"];
      const [account, contract, deploy] = await Promise.all([
        authRead<number>(c, "getAccountStatus", [address]),
        authRead<number>(c, "getContractStatus", [address]),
        authRead<boolean>(c, "hasDeployAuth", [address]),
      ]);
      const out = { address, account: names[account], contract: names[contract], mayDeploy: deploy };
      if (c.json) console.log(json(out));
      else
        console.log(
          `${address}: account ${out.account}, contract ${out.contract}, may deploy: ${deploy ? "yes" : "no"}`,
        );
      return;
    }
    case "acl": {
      const [what, contract, func, third] = args;
      if (what === "method-type") {
        need(args, 4, "method-type CONTRACT FUNC open|allow|deny");
        const data = encodeFunctionData({
          abi: CONTRACT_AUTH_ABI,
          functionName: "setMethodAuthType",
          args: [contract as Hex, selectorOf(func!), pick(third!, MODE, "mode")],
        });
        return report(c, await send(c, CONTRACT_AUTH, data));
      }
      if (what === "open" || what === "close") {
        need(args, 4, `${what} CONTRACT FUNC ACCOUNT`);
        const data = encodeFunctionData({
          abi: CONTRACT_AUTH_ABI,
          functionName: what === "open" ? "openMethodAuth" : "closeMethodAuth",
          args: [contract as Hex, selectorOf(func!), third as Hex],
        });
        return report(c, await send(c, CONTRACT_AUTH, data));
      }
      throw new CliError("CLI_USAGE", `unknown acl command "${what}"\n\n${GOV_USAGE}`);
    }
    case undefined:
    case "help":
      console.log(GOV_USAGE);
      return;
    default:
      throw new CliError("CLI_USAGE", `unknown gov command "${command}"\n\n${GOV_USAGE}`);
  }
}
