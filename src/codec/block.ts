import { keccak256 } from "../crypto/index.js";
import type {
  Block,
  BlockHeader,
  CertificateSignature,
  CommitCertificate,
  Hash,
  Log,
  Receipt,
  Transaction,
} from "../types/index.js";
import { ReceiptStatus } from "../types/index.js";
import { bytesEqual } from "../util/hex.js";
import { CodecError } from "./errors.js";
import {
  checkArray,
  checkBytes,
  checkNumber,
  checkOptionalAddress,
  checkString,
  checkVarBytes,
  decodePb,
  encodePb,
  fail,
  fixedBytes,
  optionalAddress,
  type PbMessage,
  quantity,
  quantityToBytes,
  repeated,
  safeNumber,
  stringField,
  varBytes,
} from "./fields.js";
import { codecLimits } from "./options.js";
import { pb } from "./schema.js";
import type { SenderCache } from "./senderCache.js";
import { decodeTransaction } from "./transaction.js";

// ---------------------------------------------------------------- header

export function headerMessage(h: BlockHeader): PbMessage {
  const T = "BlockHeader";
  if (typeof h !== "object" || h === null) fail("CODEC_INVALID_FIELD", T, "", "not an object");
  return {
    chainId: quantityToBytes(h.chainId, "chainId", T),
    groupId: checkString(h.groupId, "groupId", T, codecLimits.groupIdLengthMax),
    number: checkNumber(h.number, "number", T),
    parentHash: checkBytes(h.parentHash, "parentHash", T, 32),
    timestampMs: checkNumber(h.timestampMs, "timestampMs", T),
    txRoot: checkBytes(h.txRoot, "txRoot", T, 32),
    receiptRoot: checkBytes(h.receiptRoot, "receiptRoot", T, 32),
    stateRoot: checkBytes(h.stateRoot, "stateRoot", T, 32),
    gasUsed: quantityToBytes(h.gasUsed, "gasUsed", T),
    proposer: checkBytes(h.proposer, "proposer", T, 32),
    view: checkNumber(h.view, "view", T),
  };
}

export function headerFromMessage(m: PbMessage): BlockHeader {
  const T = "BlockHeader";
  return {
    chainId: quantity(m, "chainId", T),
    groupId: stringField(m, "groupId", T, codecLimits.groupIdLengthMax),
    number: safeNumber(m, "number", T),
    parentHash: fixedBytes(m, "parentHash", T, 32),
    timestampMs: safeNumber(m, "timestampMs", T),
    txRoot: fixedBytes(m, "txRoot", T, 32),
    receiptRoot: fixedBytes(m, "receiptRoot", T, 32),
    stateRoot: fixedBytes(m, "stateRoot", T, 32),
    gasUsed: quantity(m, "gasUsed", T),
    proposer: fixedBytes(m, "proposer", T, 32),
    view: safeNumber(m, "view", T),
  };
}

export function encodeHeader(h: BlockHeader): Uint8Array {
  return encodePb(pb.BlockHeader, headerMessage(h));
}

export function decodeHeader(bytes: Uint8Array): BlockHeader {
  return headerFromMessage(decodePb(pb.BlockHeader, bytes, "BlockHeader", codecLimits.headerBytesMax));
}

/** Block hash = keccak256(encodeHeader(h)). Genesis' parentHash is 32 zero bytes by convention of the caller. */
export function hashHeader(h: BlockHeader): Hash {
  return keccak256(encodeHeader(h));
}

// ---------------------------------------------------------------- certificate

function certificateMessage(c: CommitCertificate): PbMessage {
  const T = "CommitCertificate";
  if (typeof c !== "object" || c === null) fail("CODEC_INVALID_FIELD", T, "", "not an object");
  const signatures = checkArray(c.signatures, "signatures", T, codecLimits.certificateSignaturesMax);
  return {
    height: checkNumber(c.height, "height", T),
    view: checkNumber(c.view, "view", T),
    blockHash: checkBytes(c.blockHash, "blockHash", T, 32),
    signatures: (signatures as CertificateSignature[]).map((s, i) => ({
      nodeId: checkBytes(s?.nodeId, `signatures[${i}].nodeId`, T, 32),
      signature: checkBytes(s?.signature, `signatures[${i}].signature`, T, 64),
    })),
  };
}

function certificateFromMessage(m: PbMessage): CommitCertificate {
  const T = "CommitCertificate";
  const signatures = repeated(m, "signatures", T, codecLimits.certificateSignaturesMax) as PbMessage[];
  return {
    height: safeNumber(m, "height", T),
    view: safeNumber(m, "view", T),
    blockHash: fixedBytes(m, "blockHash", T, 32),
    signatures: signatures.map((s, i) => ({
      nodeId: fixedBytes(s, "nodeId", `${T}.signatures[${i}]`, 32),
      signature: fixedBytes(s, "signature", `${T}.signatures[${i}]`, 64),
    })),
  };
}

export function encodeCertificate(c: CommitCertificate): Uint8Array {
  return encodePb(pb.CommitCertificate, certificateMessage(c));
}

export function decodeCertificate(bytes: Uint8Array): CommitCertificate {
  return certificateFromMessage(
    decodePb(pb.CommitCertificate, bytes, "CommitCertificate", codecLimits.certificateBytesMax),
  );
}

// ---------------------------------------------------------------- block

export interface DecodeBlockOptions {
  /** Use the senders stored with each transaction (our own disk) instead of recovering them. */
  trustSenders?: boolean;
  /** Chain id every transaction must have; defaults to the header's chainId. */
  chainId?: bigint;
  /** This node's recovered senders (see SenderCache): txs it recovered before are not recovered again. */
  senders?: SenderCache;
}

export function encodeBlock(b: Block): Uint8Array {
  const T = "Block";
  if (typeof b !== "object" || b === null) fail("CODEC_INVALID_FIELD", T, "", "not an object");
  const txs = checkArray(b.transactions, "transactions", T, codecLimits.blockTxCountMax) as Transaction[];
  const out = encodePb(pb.Block, {
    header: headerMessage(b.header),
    transactions: txs.map((tx, i) => ({
      raw: checkVarBytes(tx?.raw, `transactions[${i}].raw`, T, codecLimits.txBytesMax),
      sender: checkBytes(tx?.sender, `transactions[${i}].sender`, T, 20),
    })),
    certificate: b.certificate === null ? null : certificateMessage(b.certificate),
  });
  if (out.length > codecLimits.blockBytesMax) {
    fail("CODEC_TOO_LARGE", T, "", `${out.length} bytes exceeds ${codecLimits.blockBytesMax}`);
  }
  return out;
}

export function decodeBlock(bytes: Uint8Array, opts: DecodeBlockOptions = {}): Block {
  const T = "Block";
  const m = decodePb(pb.Block, bytes, T, codecLimits.blockBytesMax);
  if (m.header === undefined || m.header === null) fail("CODEC_MISSING_FIELD", T, "header", "missing");
  const header = headerFromMessage(m.header as PbMessage);
  const chainId = opts.chainId ?? header.chainId;
  const stored = repeated(m, "transactions", T, codecLimits.blockTxCountMax) as PbMessage[];
  const transactions = stored.map((entry, i) => {
    const field = `transactions[${i}]`;
    const raw = varBytes(entry, "raw", T, codecLimits.txBytesMax);
    const sender = fixedBytes(entry, "sender", `${T}.${field}`, 20);
    let tx: Transaction;
    try {
      tx = decodeTransaction(
        raw,
        opts.trustSenders ? { chainId, sender } : { chainId, senders: opts.senders },
      );
    } catch (err) {
      if (!(err instanceof CodecError)) throw err;
      throw new CodecError(
        err.code,
        `${T}.${field}: ${err.message}`,
        { ...err.meta, txIndex: i },
        { cause: err },
      );
    }
    if (!opts.trustSenders && !bytesEqual(tx.sender, sender)) {
      throw new CodecError(
        "CODEC_SENDER_MISMATCH",
        `${T}.${field}: stored sender differs from the recovered one`,
        {
          type: T,
          field,
          txIndex: i,
        },
      );
    }
    return tx;
  });
  const certificate =
    m.certificate === undefined || m.certificate === null
      ? null
      : certificateFromMessage(m.certificate as PbMessage);
  return { header, transactions, certificate };
}

// ---------------------------------------------------------------- receipt

function logMessage(log: Log, i: number): PbMessage {
  const T = "Receipt";
  const f = `logs[${i}]`;
  if (typeof log !== "object" || log === null) fail("CODEC_INVALID_FIELD", T, f, "not an object");
  const topics = checkArray(log.topics, `${f}.topics`, T, codecLimits.logTopicsMax) as Uint8Array[];
  return {
    address: checkBytes(log.address, `${f}.address`, T, 20),
    topics: topics.map((t, j) => checkBytes(t, `${f}.topics[${j}]`, T, 32)),
    data: checkVarBytes(log.data, `${f}.data`, T, codecLimits.logDataBytesMax),
  };
}

export function encodeReceipt(r: Receipt): Uint8Array {
  const T = "Receipt";
  if (typeof r !== "object" || r === null) fail("CODEC_INVALID_FIELD", T, "", "not an object");
  if (r.status !== ReceiptStatus.Failed && r.status !== ReceiptStatus.Success) {
    fail("CODEC_INVALID_FIELD", T, "status", "not 0 or 1");
  }
  const logs = checkArray(r.logs, "logs", T, codecLimits.receiptLogsMax) as Log[];
  const out = encodePb(pb.Receipt, {
    txHash: checkBytes(r.txHash, "txHash", T, 32),
    status: r.status,
    gasUsed: quantityToBytes(r.gasUsed, "gasUsed", T),
    cumulativeGasUsed: quantityToBytes(r.cumulativeGasUsed, "cumulativeGasUsed", T),
    logs: logs.map(logMessage),
    contractAddress: checkOptionalAddress(r.contractAddress, "contractAddress", T),
    output: checkVarBytes(r.output, "output", T, codecLimits.receiptOutputBytesMax),
    logsBloom: checkBytes(r.logsBloom, "logsBloom", T, 256),
  });
  if (out.length > codecLimits.receiptBytesMax) {
    fail("CODEC_TOO_LARGE", T, "", `${out.length} bytes exceeds ${codecLimits.receiptBytesMax}`);
  }
  return out;
}

export function decodeReceipt(bytes: Uint8Array): Receipt {
  const T = "Receipt";
  const m = decodePb(pb.Receipt, bytes, T, codecLimits.receiptBytesMax);
  const status = safeNumber(m, "status", T);
  if (status !== ReceiptStatus.Failed && status !== ReceiptStatus.Success) {
    fail("CODEC_INVALID_FIELD", T, "status", `status ${status} is not 0 or 1`);
  }
  const logs = repeated(m, "logs", T, codecLimits.receiptLogsMax) as PbMessage[];
  return {
    txHash: fixedBytes(m, "txHash", T, 32),
    status: status as ReceiptStatus,
    gasUsed: quantity(m, "gasUsed", T),
    cumulativeGasUsed: quantity(m, "cumulativeGasUsed", T),
    logs: logs.map((log, i) => {
      const f = `logs[${i}]`;
      const topics = repeated(log, "topics", `${T}.${f}`, codecLimits.logTopicsMax) as Uint8Array[];
      return {
        address: fixedBytes(log, "address", `${T}.${f}`, 20),
        topics: topics.map((t, j) => {
          if (!(t instanceof Uint8Array) || t.length !== 32) {
            fail("CODEC_INVALID_FIELD", T, `${f}.topics[${j}]`, "want 32 bytes");
          }
          return new Uint8Array(t);
        }),
        data: varBytes(log, "data", `${T}.${f}`, codecLimits.logDataBytesMax),
      };
    }),
    contractAddress: optionalAddress(m, "contractAddress", T),
    output: varBytes(m, "output", T, codecLimits.receiptOutputBytesMax),
    logsBloom: fixedBytes(m, "logsBloom", T, 256),
  };
}
