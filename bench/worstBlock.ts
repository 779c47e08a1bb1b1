/**
 * Worst-block benchmark: `npm run bench:worst-block -- [--budget 20000000] [--tx-gas 5000000] [--no-yield]`.
 *
 * Executes blocks full of the costliest transactions we could write (endless loops of the cheapest opcodes, KECCAK,
 * SSTORE, memory expansion, cold state reads, calls to every precompile) through the real Executor (verify mode,
 * the replica's path) on a real LevelDB flat state, in this one process (one core). Per pattern: gas per CPU-second
 * and the time a block of block_gas_limit (the on-chain default) of it takes. The slowest pattern decides
 * block_gas_limit: its full block must execute within ~1 s (docs/limits.md). Also reports the longest stretch the
 * event loop was held (the longest gap between the callbacks of a 1-ms timer), which block execution's yields must
 * keep small.
 */
import "../src/util/polyfill.js";
import { type Abi, encodeFunctionData } from "viem";
import { loadArtifact } from "../contracts/artifacts.js";
import { CliError, parseFlags } from "../src/cli/args.js";
import { decodeTransaction } from "../src/codec/index.js";
import {
  type BlockContext,
  DEFAULT_SYSTEM_CONFIG_VALUES,
  Executor,
  genesisState,
  REPRICED_PARAMS,
} from "../src/execution/index.js";
import type { Transaction } from "../src/types/index.js";
import { bytesToHex, hexToBytes } from "../src/util/hex.js";
import { silentLogger } from "../src/util/logger.js";
import { LevelState } from "../test/execution/helpers.js";
import { machineInfo } from "./lib/bench.js";
import { benchSender, signLegacyTx } from "./lib/ethTx.js";

const CHAIN_ID = 20200n;
/** Gas limits of the bench chain itself: high, so any block size can be measured. */
const BENCH_LIMIT = 10n ** 12n;

const USAGE = `npm run bench:worst-block -- [options]

  --budget 20000000     gas executed per pattern (a block of budget / tx-gas txs)
  --tx-gas 5000000      gas limit of each tx
  --only "a;b"          only these patterns (names as printed, separated by ;)
  --no-yield            the stock interpreter that never yields (to measure the yielding overhead)
  --no-full-block       skip the final full block of the worst pattern at the default block_gas_limit`;

const FLAGS = {
  budget: { type: "string", default: "20000000" },
  "tx-gas": { type: "string", default: "5000000" },
  only: { type: "string" },
  "no-yield": { type: "boolean", default: false },
  "no-full-block": { type: "boolean", default: false },
  help: { type: "boolean", default: false },
} as const;

function bigIntFlag(value: string, name: string): bigint {
  if (!/^[1-9][0-9]*$/.test(value)) throw new CliError("CLI_USAGE", `--${name} must be a positive integer`);
  return BigInt(value);
}

/** Init code that deploys `runtime` as is: CODECOPY it to memory 0 and RETURN it. */
function deployCode(runtime: Uint8Array): Uint8Array {
  const n = runtime.length;
  const init = [0x61, n >> 8, n & 0xff, 0x80, 0x60, 0x0a, 0x5f, 0x39, 0x5f, 0xf3];
  return new Uint8Array([...init, ...runtime]);
}

/** JUMPDEST, `body` repeated `times`, PUSH0 JUMP: an endless loop of `body`. */
function loopCode(body: number[], times: number): Uint8Array {
  const code = [0x5b];
  for (let i = 0; i < times; i++) code.push(...body);
  code.push(0x5f, 0x56);
  return new Uint8Array(code);
}

const word = (v: bigint): string => v.toString(16).padStart(64, "0");
/** secp256k1 generator x: a valid r, so ecrecover does the whole recovery. */
const SECP_GX = 0x79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798n;
/** alt_bn128 G1 generator and the G2 generator (EIP-197 encoding: imaginary part first). */
const BN_G1 = word(1n) + word(2n);
const BN_G2 =
  "198e9393920d483a7260bfb731fb5d25f1aa493335a9e71297e485b7aef312c2" +
  "1800deef121f1e76426a00665e5c4479674322d4f75edadd46debd5cd992f6ed" +
  "090689d0585ff075ec9e99ad690c3395bc4b313370b38ef355acdadcd122975b" +
  "12c85ea5db8c6deb4aab71808dcb408fe3d1e7690c43d37b4ce6cc0166fa7daa";
const BN_ORDER_MINUS_1 = 0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000000n;

/** Raw endless-loop contracts (JUMPDEST, body × n, PUSH0 JUMP), deployed in the setup block. */
const LOOPS = {
  /** The cheapest opcodes: GAS POP (2 + 2 gas). */
  loop: loopCode([0x5a, 0x50], 100),
  /** KECCAK256 of 4 KiB of memory, again and again: the per-word cost (memory is paid once). */
  keccakLong: loopCode([0x61, 0x10, 0x00, 0x5f, 0x20, 0x50], 10),
};

interface Pattern {
  name: string;
  /** "burner" = GasBurner.<fn>(args); otherwise one of the raw LOOPS. */
  target: "burner" | keyof typeof LOOPS;
  data: Uint8Array;
}

function patterns(burnerAbi: Abi, txGas: bigint): Pattern[] {
  const call = (fn: string, args: unknown[] = []) =>
    hexToBytes(encodeFunctionData({ abi: burnerAbi, functionName: fn, args }));
  const precompile = (name: string, address: number, inputHex: string): Pattern => ({
    name,
    target: "burner",
    data: call("callLoop", [`0x${address.toString(16).padStart(40, "0")}`, `0x${inputHex}`]),
  });
  // The largest single calls that 90 % of a tx's gas pays for, at the schedule's prices (src/execution/gasSchedule.ts).
  const callGas = (txGas * 9n) / 10n;
  const price = (name: string) => BigInt(REPRICED_PARAMS.find((p) => p.name === name)!.consort);
  const blakeRounds = Number(callGas / price("blake2RoundGas"));
  const pairs = Math.max(1, Number((callGas - price("bn254PairingGas")) / price("bn254PairingWordGas")));
  const blake2fInput = (rounds: number) =>
    `${rounds.toString(16).padStart(8, "0")}${"00".repeat(64 + 128 + 16)}01`;
  return [
    { name: "endless loop (Solidity)", target: "burner", data: call("spin") },
    { name: "cheapest opcodes (GAS POP)", target: "loop", data: new Uint8Array(0) },
    { name: "KECCAK256 32 B", target: "burner", data: call("hashes") },
    { name: "KECCAK256 4 KiB", target: "keccakLong", data: new Uint8Array(0) },
    { name: "SSTORE fresh slots", target: "burner", data: call("stores") },
    { name: "memory expansion", target: "burner", data: call("grow") },
    { name: "cold account reads", target: "burner", data: call("coldReads") },
    // A message to an account without code: the per-message cost of this EVM, with no precompile work at all.
    precompile("call to an account without code", 0xc0de, ""),
    precompile("ecrecover (0x01)", 1, word(1n) + word(27n) + word(SECP_GX) + word(1n)),
    precompile("sha256 32 B (0x02)", 2, word(7n)),
    precompile("ripemd160 32 B (0x03)", 3, word(7n)),
    precompile("identity 0 B (0x04)", 4, ""),
    precompile(
      "modexp 32 B, exp 2^256-1 (0x05)",
      5,
      word(32n) + word(32n) + word(32n) + word(3n) + word(2n ** 256n - 1n) + word(2n ** 255n - 19n),
    ),
    precompile(
      "modexp 1 B mod, exp 2^256-1 (0x05)",
      5,
      `${word(1n) + word(32n) + word(1n)}03${word(2n ** 256n - 1n)}fb`,
    ),
    precompile("bn256 add (0x06)", 6, BN_G1 + BN_G1),
    precompile("bn256 mul (0x07)", 7, BN_G1 + word(BN_ORDER_MINUS_1)),
    precompile("bn256 pairing, 2 pairs (0x08)", 8, BN_G1 + BN_G2 + BN_G1 + BN_G2),
    precompile("blake2f 10000 rounds (0x09)", 9, blake2fInput(10_000)),
    precompile("blake2f 1 round (0x09)", 9, blake2fInput(1)),
    // One call as large as a tx of --tx-gas allows: a precompile runs to its end without yielding.
    precompile(`one blake2f call of ${blakeRounds} rounds (0x09)`, 9, blake2fInput(blakeRounds)),
    precompile(`one bn256 pairing call of ${pairs} pairs (0x08)`, 8, (BN_G1 + BN_G2).repeat(pairs)),
  ];
}

/**
 * Gaps between the callbacks of a 1-ms interval timer: how long the event loop was held. On a loaded machine the OS
 * also deschedules the process now and then, which shows as a gap too: the p99 tells the two apart.
 */
class StallProbe {
  private timer: NodeJS.Timeout | null = null;
  private lastMs = 0;
  private gaps: number[] = [];
  start(): void {
    this.lastMs = performance.now();
    this.gaps = [];
    this.timer = setInterval(() => {
      const now = performance.now();
      this.gaps.push(now - this.lastMs);
      this.lastMs = now;
    }, 1);
  }
  /** Stops after one more timer turn, so a stall that lasted until the end is counted. */
  async stop(): Promise<{ maxMs: number; p99Ms: number }> {
    await new Promise((resolve) => setTimeout(resolve, 1));
    if (this.timer) clearInterval(this.timer);
    const sorted = this.gaps.sort((a, b) => a - b);
    return {
      maxMs: sorted[sorted.length - 1] ?? 0,
      p99Ms: sorted[Math.floor(sorted.length * 0.99)] ?? 0,
    };
  }
}

interface Row {
  name: string;
  txs: number;
  gasUsed: bigint;
  wallMs: number;
  cpuMs: number;
  /** Longest event-loop stall seen during the block, and the 99th percentile of the gaps (ms). */
  stallMs: number;
  stallP99Ms: number;
  gasPerCpuSecond: number;
}

async function main(argv: string[]): Promise<void> {
  const flags = parseFlags(argv, FLAGS, USAGE).values;
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  const budget = bigIntFlag(flags.budget, "budget");
  const txGas = bigIntFlag(flags["tx-gas"], "tx-gas");
  const only = flags.only !== undefined ? flags.only.split(";") : null;
  const yieldOn = !flags["no-yield"];
  const machine = machineInfo();
  console.log(
    `machine: ${machine.cpus}× ${machine.cpuModel}, node ${machine.node}, load ${machine.loadAvg.join(" ")}; ` +
      `block execution ${yieldOn ? "yielding every 5 ms" : "NOT yielding (stock interpreter)"}`,
  );

  const state = await LevelState.open();
  try {
    const admin = benchSender("worst-block admin", 0);
    const genesis = genesisState({
      chainId: CHAIN_ID,
      groupId: "group0",
      sealers: [{ nodeId: new Uint8Array(32).fill(1), weight: 1 }],
      observers: [],
      committee: { governors: [{ address: hexToBytes(admin.address), weight: 1 }] },
      alloc: [],
      systemConfig: { tx_gas_limit: BENCH_LIMIT, block_gas_limit: BENCH_LIMIT },
    });
    await state.apply(genesis.stateChanges);
    // No state cache: the same blocks run again and again here, and an attacker would touch fresh keys anyway.
    const executor = new Executor(
      { blockYieldIntervalMs: yieldOn ? 5 : null, stateCacheEntries: 0 },
      { logger: silentLogger() },
    );
    let number = 0;
    let parentStateRoot = genesis.stateRoot;
    const ctx = (): BlockContext => ({
      number: number + 1,
      timestampMs: 1_700_000_000_000 + (number + 1) * 1000,
      coinbase: new Uint8Array(20),
      chainId: CHAIN_ID,
      groupId: "group0",
      gasLimit: BENCH_LIMIT,
      parentStateRoot,
    });
    const sign = (
      from: { privateKey: Uint8Array },
      nonce: bigint,
      to: string | null,
      data: Uint8Array,
      gasLimit: bigint,
    ): Transaction =>
      decodeTransaction(
        hexToBytes(
          signLegacyTx(
            { chainId: CHAIN_ID, nonce, gasPrice: 0n, gasLimit, to, value: 0n, data: bytesToHex(data) },
            from.privateKey,
          ).raw,
        ),
      );

    // Block 1: the GasBurner contract and the raw cheapest-opcode loop.
    const burner = loadArtifact("GasBurner");
    const setup = [
      sign(admin, 0n, null, hexToBytes(burner.bytecode), 10_000_000n),
      ...Object.values(LOOPS).map((code, i) =>
        sign(admin, BigInt(i + 1), null, deployCode(code), 10_000_000n),
      ),
    ];
    const deployed = await executor.executeBlock(state, ctx(), setup, "build");
    if (deployed.receipts.some((r) => r.status !== 1 || r.contractAddress === null)) {
      throw new Error("deploying the benchmark contracts failed");
    }
    await state.apply(deployed.stateChanges);
    number++;
    parentStateRoot = deployed.stateRoot;
    const addresses: Record<Pattern["target"], string> = {
      burner: bytesToHex(deployed.receipts[0]!.contractAddress!),
      loop: bytesToHex(deployed.receipts[1]!.contractAddress!),
      keccakLong: bytesToHex(deployed.receipts[2]!.contractAddress!),
    };

    let senderIndex = 0;
    const blockOf = (p: Pattern, gasTotal: bigint, gasPerTx: bigint): Transaction[] => {
      const txs: Transaction[] = [];
      for (let gas = 0n; gas + gasPerTx <= gasTotal; gas += gasPerTx) {
        txs.push(sign(benchSender("worst-block", senderIndex++), 0n, addresses[p.target], p.data, gasPerTx));
      }
      return txs;
    };

    const stalls = new StallProbe();
    const run = async (name: string, txs: Transaction[]): Promise<Row> => {
      // Verify mode (the replica's path): the state is not applied, so the same txs could run again.
      stalls.start();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const out = await executor.executeBlock(state, ctx(), txs, "verify");
      const wallMs = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const stall = await stalls.stop();
      const cpuMs = (cpu.user + cpu.system) / 1000;
      return {
        name,
        txs: txs.length,
        gasUsed: out.gasUsed,
        wallMs,
        cpuMs,
        stallMs: stall.maxMs,
        stallP99Ms: stall.p99Ms,
        gasPerCpuSecond: Number(out.gasUsed) / (cpuMs / 1000),
      };
    };

    // Warm-up: lazy module loading and JIT of every path, not measured.
    const all = patterns(burner.abi as Abi, txGas).filter((p) => only === null || only.includes(p.name));
    for (const p of all) await run(p.name, blockOf(p, 300_000n, 300_000n));

    const rows: Row[] = [];
    for (const p of all) {
      const row = await run(p.name, blockOf(p, budget, txGas));
      rows.push(row);
      console.log(
        `  ${p.name}: ${(row.gasPerCpuSecond / 1e6).toFixed(1)} Mgas per CPU-second (${row.cpuMs.toFixed(0)} ms CPU, ` +
          `${row.wallMs.toFixed(0)} ms wall, loop held ${row.stallMs.toFixed(1)} ms max, ${row.stallP99Ms.toFixed(1)} ms p99)`,
      );
    }
    const blockGasLimit = BigInt(DEFAULT_SYSTEM_CONFIG_VALUES.block_gas_limit!);
    const txGasLimit = BigInt(DEFAULT_SYSTEM_CONFIG_VALUES.tx_gas_limit!);
    rows.sort((a, b) => a.gasPerCpuSecond - b.gasPerCpuSecond);
    console.log(
      `\n| pattern | Mgas per CPU-second | full block of ${blockGasLimit} gas (ms CPU) | loop held, max / p99 (ms) |`,
    );
    console.log("| --- | ---: | ---: | ---: |");
    for (const r of rows) {
      const fullMs = (Number(blockGasLimit) / r.gasPerCpuSecond) * 1000;
      console.log(
        `| ${r.name} | ${(r.gasPerCpuSecond / 1e6).toFixed(1)} | ${fullMs.toFixed(0)} | ${r.stallMs.toFixed(1)} / ${r.stallP99Ms.toFixed(1)} |`,
      );
    }
    const worst = rows[0];
    if (worst !== undefined) {
      const suggested = worst.gasPerCpuSecond; // gas of 1 s of the worst pattern
      console.log(
        `\nworst: ${worst.name}; 1 s of it is ${(suggested / 1e6).toFixed(1)} Mgas ` +
          `(default block_gas_limit ${blockGasLimit}, tx_gas_limit ${txGasLimit})`,
      );
      if (!flags["no-full-block"]) {
        const p = all.find((x) => x.name === worst.name)!;
        const full = await run(p.name, blockOf(p, blockGasLimit, txGasLimit));
        console.log(
          `full block of the worst pattern at the defaults: ${full.txs} txs, ${full.gasUsed} gas in ` +
            `${full.wallMs.toFixed(0)} ms wall / ${full.cpuMs.toFixed(0)} ms CPU, loop held ${full.stallMs.toFixed(1)} ms max, ${full.stallP99Ms.toFixed(1)} ms p99`,
        );
      }
    }
  } finally {
    await state.close();
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err instanceof CliError ? err.message : err);
  process.exit(err instanceof CliError ? 2 : 1);
});
