/**
 * The modules of `npm run mutate -- <module>`: the source each one mutates (Stryker globs; `file:from-to` limits a
 * file to those lines) and the unit test files that may kill its mutants. Each mutant runs only the tests that
 * cover it among these files, so a run takes minutes on 2 cores instead of the whole suite per mutant.
 */
export interface MutationModule {
  mutate: string[];
  tests: string[];
  /**
   * false: the module's test files share one module graph per mutant run (vitest `isolate: false`) instead of
   * loading src/ and the libraries again for each file. For modules whose test files keep no state between them
   * and whose mutants each run several files (codec: ~0.7 s of imports per file, half the time of a mutant).
   */
  isolate?: boolean;
}

export const modules: Record<string, MutationModule> = {
  "pbft-core": {
    mutate: [
      "src/consensus/pbft/core/**/*.ts",
      "!src/consensus/pbft/core/index.ts",
      "!src/consensus/pbft/core/types.ts",
    ],
    tests: [
      "test/consensus/core.test.ts",
      "test/consensus/coreCatchUp.test.ts",
      "test/consensus/coreViewChange.test.ts",
      "test/consensus/coreFuture.test.ts",
      "test/consensus/coreState.test.ts",
      "test/consensus/round.test.ts",
      "test/consensus/quorum.test.ts",
      "test/consensus/futureBuffer.test.ts",
      "test/consensus/certificate.test.ts",
      "test/consensus/digest.test.ts",
      "test/consensus/validate.test.ts",
      "test/consensus/corePipeline.test.ts",
      "test/sim/scenarios.test.ts",
    ],
  },
  "cert-check": {
    // The certificate check of the core, and the chain's checkCertificate (the lines of that method).
    mutate: ["src/consensus/pbft/core/certificate.ts", "src/chain/chain.ts:348-351"],
    tests: ["test/consensus/certificate.test.ts", "test/consensus/core.test.ts", "test/chain/chain.test.ts"],
  },
  driver: {
    mutate: ["src/consensus/driver.ts", "src/consensus/heldTxs.ts", "src/consensus/proposer.ts"],
    tests: [
      "test/consensus/driver.test.ts",
      "test/consensus/driverPropose.test.ts",
      "test/consensus/driverLifecycle.test.ts",
      "test/consensus/driverRound.test.ts",
      "test/consensus/driverProposal.test.ts",
      "test/consensus/driverSeams.test.ts",
      "test/consensus/driverPipeline.test.ts",
      "test/consensus/heldTxs.test.ts",
    ],
  },
  codec: {
    isolate: false,
    mutate: ["src/codec/**/*.ts", "!src/codec/index.ts", "!src/codec/options.ts"],
    tests: [
      "test/codec/block.test.ts",
      "test/codec/blockRefusals.test.ts",
      "test/codec/compactBlock.test.ts",
      "test/codec/ethTx.test.ts",
      "test/codec/ethTxRefusals.test.ts",
      "test/codec/fields.test.ts",
      "test/codec/golden.test.ts",
      "test/codec/headerRefusals.test.ts",
      "test/codec/moduleLoad.test.ts",
      "test/codec/nativeTxRefusals.test.ts",
      "test/codec/properties.test.ts",
      "test/codec/receiptRefusals.test.ts",
      "test/codec/roundTrip.test.ts",
      "test/codec/senderCache.test.ts",
      "test/codec/transaction.test.ts",
    ],
  },
  "txpool-admission": {
    mutate: ["src/txpool/admission.ts"],
    tests: [
      "test/txpool/admission.test.ts",
      "test/txpool/admissionRules.test.ts",
      "test/txpool/fairness.test.ts",
      "test/txpool/lifecycle.test.ts",
    ],
  },
  "ledger-commit": {
    // checkCommit and the block's writes, and LevelLedger's commit section (commitBlock, commitNow).
    mutate: ["src/ledger/commitBatch.ts", "src/ledger/levelLedger.ts:132-180"],
    tests: ["test/ledger/levelLedger.test.ts"],
  },
  "ledger-reads": {
    // What the ledger answers from memory: the committed-state read cache (never stale), recent blocks and receipts,
    // and the byte-bounded LRU under both.
    mutate: ["src/ledger/stateReadCache.ts", "src/ledger/blockReads.ts", "src/ledger/lru.ts"],
    tests: [
      "test/ledger/stateReadCache.test.ts",
      "test/ledger/blockReads.test.ts",
      "test/ledger/lru.test.ts",
      "test/ledger/levelLedger.test.ts",
    ],
  },
  "chain-verify": {
    // Chain.verifyBlock and its helpers up to checkCertificate (verifyDecoded, gas limit, extends-head, roots), and
    // the running verifications that let h+1 wait for h and let consensus and sync share one execution of a block.
    mutate: ["src/chain/chain.ts:239-367", "src/chain/runningVerifications.ts"],
    tests: ["test/chain/chain.test.ts", "test/chain/pipelined.test.ts"],
  },
  "evm-hot-paths": {
    // Copies of @ethereumjs/evm code (runInterpreter, MSTORE, LOG) and the EIP lookup: they must equal the stock.
    mutate: ["src/execution/evmHotPaths.ts"],
    tests: ["test/execution/evmHotPaths.test.ts"],
  },
  "ledger-nonces": {
    // The native-nonce anti-replay window: in memory while it fits, LevelDB past the bound, pruning.
    mutate: ["src/ledger/nonceWindow.ts"],
    tests: ["test/ledger/nonceWindow.test.ts", "test/ledger/levelLedger.test.ts"],
  },
  "recovery-threads": {
    // Sender recovery on worker threads (the main thread's side: batching, the message cap, fallbacks). The worker's
    // own script is plain JS loaded in another thread, where a mutant could not be switched on: not mutated.
    mutate: ["src/crypto/recoveryThreads.ts"],
    tests: ["test/crypto/recoveryThreads.test.ts", "test/txpool/recoveryThreads.test.ts"],
  },
  "loop-priority": {
    // What keeps the critical path first on the event loop: the hard state log (synchronous WAL), the admission
    // slicer and the block execution's yielder.
    mutate: ["src/consensus/hardStateLog.ts", "src/util/loopSlicer.ts", "src/execution/yielder.ts"],
    tests: [
      "test/consensus/hardStateLog.test.ts",
      "test/util/loopSlicer.test.ts",
      "test/execution/yielder.test.ts",
    ],
  },
  governance: {
    // The governance system contracts: the committee and its proposals (votes, tally, expiry, the node-set safety
    // checks), the permission checks of senders, deployments and calls, ContractAuth's method ACLs, and the state
    // layout they read and write. abi.ts holds only the ABIs and constants, index.ts only re-exports: not mutated.
    mutate: [
      "src/execution/governance/**/*.ts",
      "!src/execution/governance/index.ts",
      "!src/execution/governance/abi.ts",
    ],
    // One module graph per mutant run (the files keep no state between them), and of the node tests only the two
    // that reach what the executor's tests cannot (the pool's permission check at admission): a node per test
    // makes test/node/{systemContracts,fisco} seconds per mutant, for proposals the executor's tests make too.
    isolate: false,
    tests: [
      "test/execution/governance.test.ts",
      "test/execution/systemContracts.test.ts",
      "test/node/governance.test.ts",
      "test/node/permissionCheck.test.ts",
    ],
  },
  "rpc-access": {
    // Who may call the JSON-RPC and what: bearer tokens and client certificates to principals (auth.ts), each
    // method's right (rights.ts), the Host and Origin guard (guard.ts), and the chain's CA for mTLS (ca.ts).
    // rights.ts only up to withRights: its method tables are data that rights.test.ts checks entry by entry, and
    // as module-level constants each of their ~100 mutants would run every test file (Stryker's static mutants).
    mutate: ["src/rpc/auth.ts", "src/rpc/rights.ts:1-37", "src/rpc/guard.ts", "src/rpc/ca.ts"],
    // One module graph per mutant run (each file starts and closes its own servers and temp dirs). Not run: the
    // CLI's tests (test/cli/rpcAuth: it spawns `consort`, ~10 s, and ca.test.ts checks what it writes) and the
    // envelope's (the guard is pinned by auth.test.ts, directly and through the server).
    isolate: false,
    tests: [
      "test/rpc/auth.test.ts",
      "test/rpc/rights.test.ts",
      "test/rpc/ca.test.ts",
      "test/rpc/config.test.ts",
      "test/node/rpcAccess.test.ts",
    ],
  },
  "txpool-pool": {
    // The pool's structure: per-sender pending lists and their indexes, nonce gaps, eviction when full, round-robin
    // sealing, parking, in-flight and sealed bookkeeping, commits and expiry (admission.ts is txpool-admission).
    mutate: ["src/txpool/txPool.ts", "src/txpool/pending.ts", "src/txpool/sealing.ts"],
    tests: [
      "test/txpool/admission.test.ts",
      "test/txpool/admissionRules.test.ts",
      "test/txpool/fairness.test.ts",
      "test/txpool/lifecycle.test.ts",
      "test/txpool/pipelined.test.ts",
      "test/txpool/pending.test.ts",
      "test/txpool/recoveryThreads.test.ts",
    ],
  },
  "block-sync": {
    // Catching up: which peers are asked (heads, blocks, proposal txs), what is blamed on a peer, what is skipped.
    mutate: [
      "src/sync/blockSync.ts",
      "src/sync/behindReport.ts",
      "src/sync/otherGenesis.ts",
      "src/sync/txFetch.ts",
    ],
    tests: [
      "test/sync/blockSync.test.ts",
      "test/sync/blockSyncHostile.test.ts",
      "test/sync/txFetch.test.ts",
      "test/sync/txGossip.test.ts",
    ],
  },
  "network-input": {
    // What a member's bytes and behaviour decide: who may connect (admission.ts: the member list, the gate, bans),
    // what misbehaviour costs (penalties.ts), the length-prefixed stream frames (framing.ts) and the gossip frame
    // (gossipFrame.ts) read from peers, and whom an accepted gossip message is relayed to (gossipRelay.ts). Of
    // streams.ts only the lines that judge a peer's frames: serveDirect (the direct message's bound and topic
    // byte), request's read of the answer, and serveRequest, respond and onBadFrame (the request bound, busy,
    // oversize, what is blamed); not the protocol registration nor withStream's mapping of our own dial failures.
    // Not run: restart, muxer and peerId tests (no line of these files that the others do not cover too).
    // One module graph per mutant run: each file stops its own transports after each test, and a mutant of
    // admission.ts runs most of the files (a first run with isolated files tested 125 of 598 mutants in 14 min).
    isolate: false,
    mutate: [
      "src/network/admission.ts",
      "src/network/penalties.ts",
      "src/network/framing.ts",
      "src/network/gossipFrame.ts",
      "src/network/gossipRelay.ts",
      "src/network/streams.ts:114-145",
      "src/network/streams.ts:169-197",
      "src/network/streams.ts:268-351",
    ],
    tests: [
      "test/network/admission.test.ts",
      "test/network/penalties.test.ts",
      "test/network/penalty.test.ts",
      "test/network/framing.test.ts",
      "test/network/gossipCheck.test.ts",
      "test/network/gossipRelay.test.ts",
      "test/network/libp2pTransport.test.ts",
    ],
  },
};
