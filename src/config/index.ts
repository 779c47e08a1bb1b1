export {
  assertRpcSafeForGenesis,
  DEV_GOVERNOR_KEY_FILE,
  devAccountAddresses,
  devAccountKey,
  isLoopbackHost,
} from "./devKeys.js";
export { ConfigError, type ConfigErrorCode } from "./errors.js";
export {
  type GenesisConfig,
  genesisToJson,
  loadGenesis,
  parseGenesis,
  readJsonFile,
} from "./genesis.js";
export { loadNodeConfig, type NodeConfig, parseNodeConfig } from "./nodeConfig.js";
