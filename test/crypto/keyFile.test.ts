import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CryptoError,
  generatePrivateKey,
  loadAccountKey,
  loadNodeKey,
  NodeKey,
  privateKeyToAddress,
  saveAccountKey,
  saveNodeKey,
} from "../../src/crypto/index.js";
import { bytesToHex } from "../../src/util/hex.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "consort-keyfile-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CryptoError);
  expect((err as CryptoError).code).toBe(code);
}

describe("node key files", () => {
  it("save writes mode 0600 JSON and load gives the same key", async () => {
    const path = join(dir, "node.json");
    const key = NodeKey.generate();
    await saveNodeKey(path, key);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const loaded = await loadNodeKey(path);
    expect(loaded.nodeId).toEqual(key.nodeId);
    expect(loaded.seed).toEqual(key.seed);
    // Overwriting keeps 0600.
    await saveNodeKey(path, NodeKey.generate());
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it("load errors are typed", async () => {
    const key = NodeKey.generate();
    const other = NodeKey.generate();
    const file = async (name: string, content: string) => {
      const path = join(dir, name);
      await writeFile(path, content);
      return path;
    };
    await expectCode(loadNodeKey(join(dir, "missing.json")), "CRYPTO_KEY_FILE_MISSING");
    await expectCode(loadNodeKey(dir), "CRYPTO_KEY_FILE_UNREADABLE");
    await expectCode(loadNodeKey(await file("garbage.json", "{not json")), "CRYPTO_KEY_FILE_MALFORMED");
    await expectCode(loadNodeKey(await file("array.json", "[]")), "CRYPTO_KEY_FILE_MALFORMED");
    const good = { type: "ed25519", seed: bytesToHex(key.seed), nodeId: bytesToHex(key.nodeId) };
    await expectCode(
      loadNodeKey(await file("type.json", JSON.stringify({ ...good, type: "secp256k1" }))),
      "CRYPTO_KEY_FILE_WRONG_TYPE",
    );
    await expectCode(
      loadNodeKey(await file("noseed.json", JSON.stringify({ type: "ed25519", nodeId: good.nodeId }))),
      "CRYPTO_KEY_FILE_MALFORMED",
    );
    await expectCode(
      loadNodeKey(await file("hex.json", JSON.stringify({ ...good, seed: "0xzz" }))),
      "CRYPTO_KEY_FILE_MALFORMED",
    );
    await expectCode(
      loadNodeKey(await file("short.json", JSON.stringify({ ...good, seed: good.seed.slice(0, -2) }))),
      "CRYPTO_KEY_FILE_BAD_LENGTH",
    );
    await expectCode(
      loadNodeKey(await file("mismatch.json", JSON.stringify({ ...good, nodeId: bytesToHex(other.nodeId) }))),
      "CRYPTO_KEY_FILE_MISMATCH",
    );
    await expectCode(saveNodeKey(join(dir, "no-such-dir", "k.json"), key), "CRYPTO_KEY_FILE_WRITE_FAILED");
  });
});

describe("account key files", () => {
  it("round-trips with mode 0600 and checks the address", async () => {
    const path = join(dir, "account.json");
    const privateKey = generatePrivateKey();
    await saveAccountKey(path, privateKey);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const loaded = await loadAccountKey(path);
    expect(loaded.privateKey).toEqual(privateKey);
    expect(loaded.address).toEqual(privateKeyToAddress(privateKey));

    const bad = join(dir, "account-bad.json");
    await writeFile(
      bad,
      JSON.stringify({
        type: "secp256k1",
        privateKey: bytesToHex(privateKey),
        address: `0x${"11".repeat(20)}`,
      }),
    );
    await expectCode(loadAccountKey(bad), "CRYPTO_KEY_FILE_MISMATCH");
    await expectCode(loadAccountKey(join(dir, "node.json")), "CRYPTO_KEY_FILE_WRONG_TYPE");
  });

  it("derives the address when the file leaves it out (a key written by hand), and checks what is there", async () => {
    const privateKey = generatePrivateKey();
    const bare = join(dir, "bare.json");
    await writeFile(bare, JSON.stringify({ type: "secp256k1", privateKey: bytesToHex(privateKey) }));
    expect((await loadAccountKey(bare)).address).toEqual(privateKeyToAddress(privateKey));
    const notHex = join(dir, "address-not-hex.json");
    await writeFile(
      notHex,
      JSON.stringify({ type: "secp256k1", privateKey: bytesToHex(privateKey), address: 7 }),
    );
    await expectCode(loadAccountKey(notHex), "CRYPTO_KEY_FILE_MALFORMED");
    const noKey = join(dir, "no-private-key.json");
    await writeFile(
      noKey,
      JSON.stringify({ type: "secp256k1", address: bytesToHex(privateKeyToAddress(privateKey)) }),
    );
    await expectCode(loadAccountKey(noKey), "CRYPTO_KEY_FILE_MALFORMED");
  });
});
