export {
  type DecodeBlockOptions,
  decodeBlock,
  decodeCertificate,
  decodeHeader,
  decodeReceipt,
  encodeBlock,
  encodeCertificate,
  encodeHeader,
  encodeReceipt,
  hashHeader,
} from "./block.js";
export {
  type CompactBlock,
  type CompactTx,
  decodeCompactBlock,
  encodeCompactBlock,
} from "./compactBlock.js";
export { CodecError, type CodecErrorCode } from "./errors.js";
export type { DecodeTxOptions } from "./ethTx.js";
export {
  decodeNativeTx,
  encodeNativeTx,
  NATIVE_TX_TYPE_BYTE,
  type NativeTxFields,
  nativeTxSigningHash,
} from "./nativeTx.js";
export { type CodecLimits, codecLimits } from "./options.js";
export { CONSORT_PROTO } from "./schema.js";
export { SENDER_CACHE_ENTRIES_DEFAULT, SenderCache, type SenderCacheStats } from "./senderCache.js";
export { decodeTransaction, decodeTransactionAsync, type SenderRecoverer } from "./transaction.js";
