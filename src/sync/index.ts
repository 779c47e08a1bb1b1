export { BlockSync, type BlockSyncOptions, defaultBlockSyncOptions } from "./blockSync.js";
export { defaultTxGossipOptions, TxGossip, type TxGossipOptions } from "./txGossip.js";
export { SyncError, type SyncErrorCode } from "./wire.js";
