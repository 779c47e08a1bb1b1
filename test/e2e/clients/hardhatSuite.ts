import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { rpc } from "../harness.js";
import { ACCOUNT, type ClientNet } from "./net.js";

const FIXTURE = path.join(import.meta.dirname, "../../fixtures/hardhat");
const RUN_TIMEOUT_MS = 120_000;

interface DeployOutput {
  network: string;
  chainId: number;
  deployer: string;
  address: string;
  txHash: string;
  status: number;
  blockNumber: number;
  contractAddress: string;
  codeBytes: number;
  balance: string;
}

/** Runs a command in the fixture, bounded: SIGKILL after `timeoutMs`. */
function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: FIXTURE,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * A plain Hardhat 2 project (test/fixtures/hardhat) with the testnet as an external HTTP network: Hardhat's own
 * provider signs with the configured key (eth_accounts / eth_sendTransaction answered inside Hardhat, then
 * eth_sendRawTransaction to the node), ethers drives it through hre.network.provider.
 */
export function hardhatSuite(getNet: () => ClientNet): void {
  describe("Hardhat 2 (external HTTP network)", () => {
    it(
      "`npx hardhat run --no-compile --network consort scripts/deploy.cjs` deploys Asset",
      async () => {
        const net = getNet();
        const account = net.accounts[ACCOUNT.hardhat]!;
        const result = await run(
          "npx",
          ["--no-install", "hardhat", "run", "--no-compile", "--network", "consort", "scripts/deploy.cjs"],
          {
            CONSORT_RPC_URL: net.url,
            CONSORT_DEPLOYER_KEY: account.privateKey,
            HARDHAT_DISABLE_TELEMETRY_PROMPT: "1",
            npm_config_offline: "true",
            FORCE_COLOR: "0",
          },
          RUN_TIMEOUT_MS,
        );
        expect(result.stderr + result.stdout).not.toMatch(/Downloading compiler/i);
        expect(result.code, `hardhat failed:\n${result.stderr}\n${result.stdout}`).toBe(0);
        const line = result.stdout
          .trim()
          .split("\n")
          .findLast((l) => l.startsWith("{"));
        expect(line, result.stdout).toBeDefined();
        const out = JSON.parse(line!) as DeployOutput;
        expect(out.network).toBe("consort");
        expect(out.chainId).toBe(20200);
        expect(out.deployer.toLowerCase()).toBe(account.address.toLowerCase());
        expect(out.status).toBe(1);
        expect(out.contractAddress).toBe(out.address);
        expect(out.codeBytes).toBeGreaterThan(0);
        expect(out.balance).toBe("1000000");

        // The node agrees: receipt, code, and the deployer's token balance.
        const receipt = await rpc<{ status: string; contractAddress: string; blockNumber: string }>(
          net.url,
          "eth_getTransactionReceipt",
          [out.txHash],
        );
        expect(receipt.status).toBe("0x1");
        expect(receipt.contractAddress.toLowerCase()).toBe(out.address.toLowerCase());
        expect(Number(receipt.blockNumber)).toBe(out.blockNumber);
        const code = await rpc<string>(net.url, "eth_getCode", [out.address, "latest"]);
        expect((code.length - 2) / 2).toBe(out.codeBytes);
        // --no-compile: Hardhat wrote no artifacts and no compiler cache in the fixture.
        expect(existsSync(path.join(FIXTURE, "artifacts"))).toBe(false);
      },
      RUN_TIMEOUT_MS + 10_000,
    );
  });
}
