/**
 * Size bounds enforced by every decode (and encode, so that we never write what we could not read back).
 * Fixed by protocol, not configurable per node: all nodes must accept the same bytes.
 */
export const codecLimits = {
  /** A raw transaction (geth's txMaxSize is 128 KiB). */
  txBytesMax: 128 * 1024,
  /** An encoded header (fixed-size fields plus a group id). */
  headerBytesMax: 1024,
  /** An encoded block. */
  blockBytesMax: 64 * 1024 * 1024,
  blockTxCountMax: 200_000,
  /** An encoded receipt. */
  receiptBytesMax: 16 * 1024 * 1024,
  receiptLogsMax: 100_000,
  logTopicsMax: 4,
  logDataBytesMax: 8 * 1024 * 1024,
  receiptOutputBytesMax: 8 * 1024 * 1024,
  /** An encoded commit certificate. */
  certificateBytesMax: 1024 * 1024,
  certificateSignaturesMax: 4096,
  /** Group ids (header, native tx), in UTF-16 code units. */
  groupIdLengthMax: 64,
  /** Native transaction nonce. */
  nativeNonceBytesMax: 64,
  /** Ethereum quantities (uint256). */
  quantityBytesMax: 32,
  accessListItemsMax: 4096,
} as const;

export type CodecLimits = typeof codecLimits;
