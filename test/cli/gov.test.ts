import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseNodeConfig } from "../../src/config/index.js";
import { saveAccountKey } from "../../src/crypto/index.js";
import { ConsortNode } from "../../src/node/index.js";
import { silentLogger } from "../../src/util/logger.js";
import { hexToBytes, rpc, rpcUrl, SingleNodeNet } from "../node/helpers.js";

const run = promisify(execFile);
const MAIN = path.join(import.meta.dirname, "../../src/cli/main.ts");

function consort(...args: string[]) {
  return run(process.execPath, ["--import", "tsx", MAIN, ...args], { timeout: 90_000 });
}

describe("consort testnet: governors are never shared", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "consort-gov-cli-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("two runs produce different governors, with 0600 key files printed once; --governor takes given ones", async () => {
    const runs: { addresses: string[]; accounts: { address: string }[] }[] = [];
    for (const name of ["a", "b"]) {
      const out = path.join(dir, name);
      const { stdout } = await consort("testnet", "--out", out, "--validators", "1", "--governors", "3");
      const genesis = JSON.parse(await readFile(path.join(out, "genesis.json"), "utf8"));
      const addresses = genesis.committee.governors.map((g: { address: string }) => g.address);
      expect(addresses).toHaveLength(3);
      for (let i = 0; i < 3; i++) {
        const keyFile = path.join(out, `governor${i}.key`);
        expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
        expect(JSON.parse(await readFile(keyFile, "utf8")).address).toBe(addresses[i]);
        expect(stdout).toContain(`${addresses[i]} weight 1  key: ${keyFile} (0600`);
      }
      expect((await stat(path.join(out, "accounts.json"))).mode & 0o777).toBe(0o600);
      runs.push({
        addresses,
        accounts: JSON.parse(await readFile(path.join(out, "accounts.json"), "utf8")).accounts,
      });
    }
    expect(runs[0]!.addresses.some((a: string) => runs[1]!.addresses.includes(a))).toBe(false);
    expect(runs[0]!.accounts[0]!.address).not.toBe(runs[1]!.accounts[0]!.address);

    const given = `0x${"ab".repeat(20)}`;
    const out = path.join(dir, "given");
    await consort(
      "testnet",
      "--out",
      out,
      "--validators",
      "1",
      "--governor",
      `${given}:2`,
      "--governor",
      `0x${"cd".repeat(20)}`,
    );
    const genesis = JSON.parse(await readFile(path.join(out, "genesis.json"), "utf8"));
    expect(genesis.committee.governors).toEqual([
      { address: given, weight: 2 },
      { address: `0x${"cd".repeat(20)}`, weight: 1 },
    ]);
    await expect(stat(path.join(out, "governor0.key"))).rejects.toThrow();
    await expect(consort("testnet", "--out", out, "--governor", "0x12")).rejects.toMatchObject({
      stderr: expect.stringContaining("--governor must be 0x + 40 hex digits"),
    });
  }, 300_000);
});

describe("consort gov against a running node", () => {
  let net: SingleNodeNet;
  let node: ConsortNode;
  let url: string;
  let keyFile: string;
  let outsiderKey: string;

  beforeAll(async () => {
    net = await SingleNodeNet.create(); // dev keys: account 0 is the only governor
    node = await net.start();
    url = rpcUrl(node);
    keyFile = path.join(net.dir, "gov.key");
    outsiderKey = path.join(net.dir, "outsider.key");
    await saveAccountKey(keyFile, hexToBytes(net.accounts[0]!.privateKey));
    await saveAccountKey(outsiderKey, hexToBytes(net.accounts[1]!.privateKey));
  });
  afterAll(async () => {
    await node?.close();
    await net?.remove();
  });

  it("a node whose genesis governor is a public dev key refuses RPC beyond loopback, naming why", async () => {
    const json = JSON.parse(await readFile(net.configFile, "utf8"));
    json.rpc = { host: "0.0.0.0", port: 0 };
    json.dataDir = path.join(net.dir, "other-data");
    const file = path.join(path.dirname(net.configFile), "public.json");
    await writeFile(file, JSON.stringify(json));
    await expect(
      ConsortNode.create(parseNodeConfig(json, file), { logger: silentLogger() }),
    ).rejects.toMatchObject({
      code: "CONFIG_INVALID",
      message: expect.stringMatching(
        /governor 0x[0-9a-f]{40} is a public dev key .* refuses to serve RPC on 0\.0\.0\.0/,
      ),
    });
  });

  it("propose, list, show, committee, status; refusals print the rule; the RPC read methods agree", async () => {
    const { stdout } = await consort(
      "gov",
      "propose",
      "set-config",
      "tx_count_limit",
      "9",
      "--key",
      keyFile,
      "--rpc",
      url,
    );
    expect(stdout).toMatch(/tx 0x[0-9a-f]{64}: success in block \d+/);
    expect(stdout).toContain("ProposalCreated proposalId=1");
    expect(stdout).toContain("ProposalExecuted proposalId=1");

    const shown = JSON.parse((await consort("gov", "show", "1", "--json", "--rpc", url)).stdout);
    expect(shown).toMatchObject({
      id: "1",
      type: "set-config",
      change: "set system config tx_count_limit = 9",
      status: "executed",
    });
    expect((await consort("gov", "list", "--rpc", url)).stdout).toMatch(/1 {2}executed {2}set-config/);
    await expect(
      consort("gov", "propose", "add-sealer", `0x${"11".repeat(32)}`, "1", "--key", keyFile, "--rpc", url),
    ).rejects.toMatchObject({
      stderr: expect.stringContaining("is not an observer: a node becomes a sealer only after"),
    });
    await expect(
      consort("gov", "freeze", net.accounts[2]!.address, "--key", outsiderKey, "--rpc", url),
    ).rejects.toMatchObject({ stderr: expect.stringContaining("is not a governor") });

    const status = JSON.parse(
      (await consort("gov", "status", net.accounts[2]!.address, "--json", "--rpc", url)).stdout,
    );
    expect(status).toMatchObject({ account: "normal", contract: "normal", mayDeploy: true });

    // The FISCO-style read methods.
    const committee = await rpc<{
      governors: { address: string; weight: number }[];
      participationRate: number;
    }>(url, "getCommitteeInfo", ["group0", ""]);
    expect(committee).toEqual({
      participationRate: 51,
      winRate: 51,
      governors: [{ address: net.accounts[0]!.address.toLowerCase(), weight: 1 }],
    });
    expect(await rpc(url, "getProposalInfo", ["group0", "", 1])).toMatchObject({
      status: "executed",
      type: "set-config",
    });
    expect(await rpc(url, "getProposalList", ["group0", ""])).toMatchObject({
      total: 1,
      proposals: [{ id: 1 }],
    });
    expect(await rpc(url, "getDeployAuth", ["group0", "", net.accounts[2]!.address])).toMatchObject({
      mode: "open",
      allowed: true,
    });
    expect(await rpc(url, "getAccountStatus", ["group0", "", net.accounts[2]!.address])).toMatchObject({
      account: "normal",
      contract: "normal",
    });
    expect(
      await rpc(url, "getMethodAuth", [
        "group0",
        "",
        `0x${"22".repeat(20)}`,
        "0x12345678",
        net.accounts[2]!.address,
      ]),
    ).toMatchObject({ mode: "open", allowed: true, admin: `0x${"0".repeat(40)}` });
    await expect(rpc(url, "getProposalInfo", ["group0", "", 7])).rejects.toThrow(/proposal 7 does not exist/);
  }, 300_000);
});
