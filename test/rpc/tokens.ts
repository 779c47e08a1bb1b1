import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { generateTokenKey, issueToken } from "../../src/rpc/auth.js";
import type { RpcJwtOptions } from "../../src/rpc/options.js";
import type { Right } from "../../src/rpc/rights.js";

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
