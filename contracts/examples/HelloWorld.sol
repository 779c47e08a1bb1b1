// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title The classic FISCO BCOS example: a string you can read and change.
contract HelloWorld {
    string private name;

    event NameChanged(address indexed by, string oldName, string newName);

    constructor() {
        name = "Hello, World!";
    }

    function get() external view returns (string memory) {
        return name;
    }

    function set(string calldata n) external {
        emit NameChanged(msg.sender, name, n);
        name = n;
    }
}
