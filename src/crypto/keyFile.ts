import { randomBytes } from "node:crypto";
import { readFile, rename, unlink, writeFile } from "node:fs/promises";
import { bytesEqual, bytesToHex, hexToBytes } from "../util/hex.js";
import { CryptoError } from "./errors.js";
import { NodeKey } from "./nodeKey.js";
import { privateKeyToAddress } from "./secp256k1.js";

/**
 * Key files (JSON, mode 0600):
 *   node key:    { "type": "ed25519",   "seed": "0x…32 B",       "nodeId": "0x…32 B" }
 *   account key: { "type": "secp256k1", "privateKey": "0x…32 B", "address": "0x…20 B" }
 *                (reading, `address` may be left out: it is derived from the key, and checked when present)
 * Written to a temporary file created with mode 0600, then renamed over `path` (atomic, never world-readable).
 */

export interface AccountKey {
  privateKey: Uint8Array;
  address: Uint8Array;
}

async function writeKeyFile(path: string, content: Record<string, string>): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600, flag: "wx" });
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw new CryptoError(
      "CRYPTO_KEY_FILE_WRITE_FAILED",
      `cannot write key file ${path}`,
      { path },
      { cause: err },
    );
  }
}

async function readKeyFile(path: string, type: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new CryptoError(
        "CRYPTO_KEY_FILE_MISSING",
        `key file ${path} does not exist`,
        { path },
        { cause: err },
      );
    }
    throw new CryptoError(
      "CRYPTO_KEY_FILE_UNREADABLE",
      `cannot read key file ${path}`,
      { path },
      { cause: err },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CryptoError(
      "CRYPTO_KEY_FILE_MALFORMED",
      `key file ${path} is not JSON`,
      { path },
      { cause: err },
    );
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new CryptoError("CRYPTO_KEY_FILE_MALFORMED", `key file ${path} is not a JSON object`, { path });
  }
  const obj = json as Record<string, unknown>;
  if (obj.type !== type) {
    throw new CryptoError(
      "CRYPTO_KEY_FILE_WRONG_TYPE",
      `key file ${path} has type ${String(obj.type)}, want ${type}`,
      {
        path,
        type: obj.type,
      },
    );
  }
  return obj;
}

function hexField(obj: Record<string, unknown>, field: string, length: number, path: string): Uint8Array {
  const value = obj[field];
  if (typeof value !== "string") {
    throw new CryptoError("CRYPTO_KEY_FILE_MALFORMED", `key file ${path}: field ${field} missing`, {
      path,
      field,
    });
  }
  let bytes: Uint8Array;
  try {
    bytes = hexToBytes(value, field);
  } catch (err) {
    throw new CryptoError(
      "CRYPTO_KEY_FILE_MALFORMED",
      `key file ${path}: field ${field} is not hex`,
      { path, field },
      {
        cause: err,
      },
    );
  }
  if (bytes.length !== length) {
    throw new CryptoError(
      "CRYPTO_KEY_FILE_BAD_LENGTH",
      `key file ${path}: field ${field} has ${bytes.length} bytes, want ${length}`,
      { path, field, length: bytes.length },
    );
  }
  return bytes;
}

export async function saveNodeKey(path: string, key: NodeKey): Promise<void> {
  await writeKeyFile(path, { type: "ed25519", seed: bytesToHex(key.seed), nodeId: bytesToHex(key.nodeId) });
}

export async function loadNodeKey(path: string): Promise<NodeKey> {
  const obj = await readKeyFile(path, "ed25519");
  const seed = hexField(obj, "seed", 32, path);
  const nodeId = hexField(obj, "nodeId", 32, path);
  const key = NodeKey.fromSeed(seed);
  if (!bytesEqual(key.nodeId, nodeId)) {
    throw new CryptoError("CRYPTO_KEY_FILE_MISMATCH", `key file ${path}: nodeId does not match the seed`, {
      path,
      nodeId: bytesToHex(nodeId),
      derived: bytesToHex(key.nodeId),
    });
  }
  return key;
}

export async function saveAccountKey(path: string, privateKey: Uint8Array): Promise<void> {
  const address = privateKeyToAddress(privateKey);
  await writeKeyFile(path, {
    type: "secp256k1",
    privateKey: bytesToHex(privateKey),
    address: bytesToHex(address),
  });
}

export async function loadAccountKey(path: string): Promise<AccountKey> {
  const obj = await readKeyFile(path, "secp256k1");
  const privateKey = hexField(obj, "privateKey", 32, path);
  const address = obj.address === undefined ? null : hexField(obj, "address", 20, path);
  let derived: Uint8Array;
  try {
    derived = privateKeyToAddress(privateKey);
  } catch (err) {
    throw new CryptoError(
      "CRYPTO_KEY_FILE_MALFORMED",
      `key file ${path}: invalid secp256k1 private key`,
      { path },
      {
        cause: err,
      },
    );
  }
  if (address === null) return { privateKey, address: derived };
  if (!bytesEqual(derived, address)) {
    throw new CryptoError(
      "CRYPTO_KEY_FILE_MISMATCH",
      `key file ${path}: address does not match the private key`,
      {
        path,
        address: bytesToHex(address),
        derived: bytesToHex(derived),
      },
    );
  }
  return { privateKey, address };
}
