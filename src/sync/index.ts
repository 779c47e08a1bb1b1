export { BlockSync, type BlockSyncOptions, defaultBlockSyncOptions } from "./blockSync.js";
export { defaultTxFetchOptions, TxFetch, type TxFetchOptions } from "./txFetch.js";
export { defaultTxGossipOptions, TxGossip, type TxGossipOptions } from "./txGossip.js";
export { SyncError, type SyncErrorCode } from "./wire.js";
