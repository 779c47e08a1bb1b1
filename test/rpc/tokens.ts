import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { ConsortNode } from "../../src/node/index.js";
import { generateTokenKey, issueToken } from "../../src/rpc/auth.js";
import type { RpcJwtOptions } from "../../src/rpc/options.js";
import type { Right } from "../../src/rpc/rights.js";
import { silentLogger } from "../../src/util/logger.js";
import { rpcUrl, SingleNodeNet } from "../node/helpers.js";

/** An HS256 secret in a temp dir and tokens signed with it (or with another secret: forged). */
export class TestTokens {
  private constructor(
    readonly dir: string,
    readonly secretFile: string,
    private readonly otherSecretFile: string,
  ) {}

  static async create(): Promise<TestTokens> {
    const dir = await mkdtemp(path.join(os.tmpdir(), "consort-tokens-"));
    const t = new TestTokens(dir, path.join(dir, "jwt.secret"), path.join(dir, "other.secret"));
    await generateTokenKey("HS256", t.secretFile);
    await generateTokenKey("HS256", t.otherSecretFile);
    return t;
  }

  get jwt(): RpcJwtOptions {
    return { algorithm: "HS256", keyFile: this.secretFile };
  }

  issue(
    principal: string,
    rights: Right[],
    opts: { expiresInS?: number; nowMs?: number } = {},
  ): Promise<string> {
    return issueToken({
      algorithm: "HS256",
      keyFile: this.secretFile,
      principal,
      rights,
      expiresInS: opts.expiresInS ?? 3600,
      nowMs: opts.nowMs,
    });
  }

  /** Expired an hour ago (beyond the clock tolerance). */
  expired(principal: string, rights: Right[]): Promise<string> {
    return this.issue(principal, rights, { expiresInS: 60, nowMs: Date.now() - 3_600_000 });
  }

  /** Well-formed, but signed with a secret the node does not know. */
  forged(principal: string, rights: Right[]): Promise<string> {
    return issueToken({
      algorithm: "HS256",
      keyFile: this.otherSecretFile,
      principal,
      rights,
      expiresInS: 3600,
    });
  }

  remove(): Promise<void> {
    return rm(this.dir, { recursive: true, force: true });
  }
}

/** A real single-node chain whose JSON-RPC wants bearer tokens signed with `tokens`' secret. */
export class TokenNode {
  private constructor(
    readonly net: SingleNodeNet,
    readonly node: ConsortNode,
    readonly tokens: TestTokens,
  ) {}

  static async start(): Promise<TokenNode> {
    const net = await SingleNodeNet.create();
    const tokens = await TestTokens.create();
    const cfg = await net.config();
    cfg.rpc.security = { ...cfg.rpc.security, jwt: tokens.jwt };
    const node = await ConsortNode.create(cfg, { logger: silentLogger() });
    await node.start();
    return new TokenNode(net, node, tokens);
  }

  get url(): string {
    return rpcUrl(this.node);
  }

  async stop(): Promise<void> {
    await this.node.close();
    await this.net.remove();
    await this.tokens.remove();
  }
}
