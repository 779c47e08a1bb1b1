import protobuf from "protobufjs";

/**
 * The protobuf schema of everything Consort puts on disk or on the wire (except consensus messages).
 * Determinism rules: proto3 (default values are not written), fields written in field-number order, no maps,
 * quantities (bigint) as minimal big-endian `bytes` (0 = empty), heights/views/timestamps as uint64 numbers.
 * Changing a field number or type changes block hashes: test/codec/golden.test.ts catches it.
 */
export const CONSORT_PROTO = `
syntax = "proto3";
package consort;

message BlockHeader {
  bytes chain_id = 1;
  string group_id = 2;
  uint64 number = 3;
  bytes parent_hash = 4;
  uint64 timestamp_ms = 5;
  bytes tx_root = 6;
  bytes receipt_root = 7;
  bytes state_root = 8;
  bytes gas_used = 9;
  bytes proposer = 10;
  uint64 view = 11;
}

message CertificateSignature {
  bytes node_id = 1;
  bytes signature = 2;
}

message CommitCertificate {
  uint64 height = 1;
  uint64 view = 2;
  bytes block_hash = 3;
  repeated CertificateSignature signatures = 4;
}

// A transaction inside a stored block: the exact signed bytes plus the sender recovered when it was accepted.
message BlockTx {
  bytes raw = 1;
  bytes sender = 2;
}

message Block {
  BlockHeader header = 1;
  repeated BlockTx transactions = 2;
  CommitCertificate certificate = 3;
}

// A proposal on the consensus wire: the header plus, per transaction, its hash and sender (no raw bytes).
// Replicas resolve the transactions from their pool / ledger and fetch the missing ones by hash.
message CompactTx {
  bytes hash = 1;
  bytes sender = 2;
}

message CompactBlock {
  BlockHeader header = 1;
  repeated CompactTx transactions = 2;
}

message Log {
  bytes address = 1;
  repeated bytes topics = 2;
  bytes data = 3;
}

message Receipt {
  bytes tx_hash = 1;
  uint32 status = 2;
  bytes gas_used = 3;
  bytes cumulative_gas_used = 4;
  repeated Log logs = 5;
  bytes contract_address = 6;
  bytes output = 7;
  bytes logs_bloom = 8;
}

// Native transaction (type 0x7c). Signing hash = keccak256(0x7c || NativeTxBody).
message NativeTxBody {
  bytes chain_id = 1;
  string group_id = 2;
  bytes nonce = 3;
  uint64 block_limit = 4;
  bytes to = 5;
  bytes value = 6;
  bytes input = 7;
  bytes gas_limit = 8;
  bytes gas_price = 9;
}

// raw = 0x7c || NativeTxEnvelope. Fields 1..9 are NativeTxBody's, so the canonical envelope is
// NativeTxBody's bytes followed by NativeTxSignature's.
message NativeTxEnvelope {
  bytes chain_id = 1;
  string group_id = 2;
  bytes nonce = 3;
  uint64 block_limit = 4;
  bytes to = 5;
  bytes value = 6;
  bytes input = 7;
  bytes gas_limit = 8;
  bytes gas_price = 9;
  bytes signature = 10;
  uint32 recovery = 11;
}

message NativeTxSignature {
  bytes signature = 10;
  uint32 recovery = 11;
}
`;

const root = protobuf.parse(CONSORT_PROTO, { keepCase: false }).root;

export const pb = {
  BlockHeader: root.lookupType("consort.BlockHeader"),
  CertificateSignature: root.lookupType("consort.CertificateSignature"),
  CommitCertificate: root.lookupType("consort.CommitCertificate"),
  BlockTx: root.lookupType("consort.BlockTx"),
  Block: root.lookupType("consort.Block"),
  CompactTx: root.lookupType("consort.CompactTx"),
  CompactBlock: root.lookupType("consort.CompactBlock"),
  Log: root.lookupType("consort.Log"),
  Receipt: root.lookupType("consort.Receipt"),
  NativeTxBody: root.lookupType("consort.NativeTxBody"),
  NativeTxEnvelope: root.lookupType("consort.NativeTxEnvelope"),
  NativeTxSignature: root.lookupType("consort.NativeTxSignature"),
};
