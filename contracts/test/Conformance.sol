// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// Writes values that depend on the block a transaction lands in (eth_estimateGas must price them as they will be),
/// and loops forever on request (calls and estimates must end out of gas). Test contract of issue 16.
contract BlockWriter {
    uint256 public number;
    uint256 public timestamp;
    uint256 public gasPrice;
    uint256 public baseFee;
    uint256 public prevrandao;

    constructor() {
        number = block.number;
        timestamp = block.timestamp;
        gasPrice = tx.gasprice;
        baseFee = block.basefee;
        prevrandao = block.prevrandao;
    }

    function writeNumber() external {
        number = block.number;
    }

    function writeTimestamp() external {
        timestamp = block.timestamp;
    }

    function writeGasPrice() external {
        gasPrice = tx.gasprice;
    }

    function writeBaseFee() external {
        baseFee = block.basefee;
    }

    function writePrevrandao() external {
        prevrandao = block.prevrandao;
    }

    /// Clears every field, so the next write pays for a zero → non-zero store again.
    function clear() external {
        delete number;
        delete timestamp;
        delete gasPrice;
        delete baseFee;
        delete prevrandao;
    }

    function spin() external pure returns (uint256 i) {
        while (true) {
            unchecked {
                i++;
            }
        }
    }
}

/// The inner contract of a reverted nested call.
contract Callee {
    uint256 public value;

    function set(uint256 v) external {
        value = v;
        require(v < 100, "value too large");
    }
}

/// Calls Callee and bubbles its revert up (debug_traceTransaction's reverted nested call).
contract Caller {
    Callee public immutable callee;

    constructor(Callee c) {
        callee = c;
    }

    function forward(uint256 v) external {
        callee.set(v);
    }
}
