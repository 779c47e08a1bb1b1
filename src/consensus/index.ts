/** Consensus module public surface (see pbft/). */
export * from "./pbft/index.js";
