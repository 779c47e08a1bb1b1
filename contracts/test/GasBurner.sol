// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title Costly transaction patterns, for the worst-block benchmark (bench/worstBlock.ts) and the bounded-work
/// acceptance test. Every function except `fill` runs until it is out of gas: a caller burns exactly the gas limit
/// it sends. Never deploy it on a chain you care about.
contract GasBurner {
    /// The tightest endless loop Solidity emits (JUMPDEST, PUSH, JUMP).
    function spin() external pure {
        assembly {
            for {} 1 {} {}
        }
    }

    /// KECCAK256 of 32 bytes, chained, until out of gas.
    function hashes() external pure {
        assembly {
            let h := 0
            for {} 1 {} {
                mstore(0, h)
                h := keccak256(0, 32)
            }
        }
    }

    /// SSTORE to a fresh slot per iteration until out of gas (every write is journaled, then reverted).
    function stores() external {
        assembly {
            let i := 1
            for {} 1 {} {
                sstore(i, i)
                i := add(i, 1)
            }
        }
    }

    /// Writes `n` fresh slots and returns: the writes persist (state changes, state root, ledger batch).
    function fill(uint256 n) external {
        assembly {
            let base := add(sload(0), 1)
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                sstore(add(base, i), not(i))
            }
            sstore(0, add(base, n))
        }
    }

    /// Memory expansion: one word further per iteration until out of gas (quadratic memory cost).
    function grow() external pure {
        assembly {
            let p := 0
            for {} 1 {} {
                mstore(p, p)
                p := add(p, 32)
            }
        }
    }

    /// STATICCALL `target` (a precompile) with `input` over and over until out of gas.
    function callLoop(address target, bytes calldata input) external view {
        assembly {
            let len := input.length
            calldatacopy(0x80, input.offset, len)
            let out := add(0x80, len)
            for {} 1 {} {
                pop(staticcall(gas(), target, 0x80, len, out, 0x40))
            }
        }
    }

    /// EXTCODEHASH of a new (cold, absent) account per iteration: a state read each.
    function coldReads() external view {
        assembly {
            let a := 0x100000
            for {} 1 {} {
                pop(extcodehash(a))
                a := add(a, 1)
            }
        }
    }
}
