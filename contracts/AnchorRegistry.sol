// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IAnchorRegistry} from "./interfaces/IAnchorRegistry.sol";

/**
 * @title AnchorRegistry
 * @notice Stores Merkle roots of record batches, each once with its block time, and keeps a per-machine
 * append-only hash chain of maintenance-log entries. Writers hold `ANCHORER_ROLE`, which the admin
 * (`DEFAULT_ADMIN_ROLE`) grants and revokes.
 * @dev Leaves follow OpenZeppelin's StandardMerkleTree for one `bytes32` value, so a proof made by
 * the npm package merkle-tree of OpenZeppelin (or by `twin_models.merkle`) verifies here unchanged.
 */
contract AnchorRegistry is AccessControl, IAnchorRegistry {
    /// @notice The role allowed to anchor roots and append log entries.
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");

    mapping(bytes32 root => Anchor) private _anchors;
    mapping(bytes32 machineId => bytes32[] heads) private _logHeads;

    /**
     * @notice Makes `admin` the registry's admin; the admin then grants `ANCHORER_ROLE` to the writers.
     * @param admin the account holding `DEFAULT_ADMIN_ROLE`
     */
    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc IAnchorRegistry
    function anchor(
        bytes32 root,
        uint256 recordCount,
        string calldata kind,
        string calldata metadata
    ) external onlyRole(ANCHORER_ROLE) {
        if (root == bytes32(0)) revert AnchorRegistryEmptyRoot();
        if (recordCount == 0) revert AnchorRegistryEmptyBatch();
        uint64 anchoredAt = _anchors[root].anchoredAt;
        if (anchoredAt != 0) revert AnchorRegistryRootAlreadyAnchored(root, anchoredAt);
        _anchors[root] = Anchor({
            anchoredAt: uint64(block.timestamp),
            blockNumber: uint64(block.number),
            recordCount: uint64(recordCount)
        });
        emit RootAnchored(root, msg.sender, recordCount, kind, metadata);
    }

    /// @inheritdoc IAnchorRegistry
    function appendLogEntry(
        bytes32 machineId,
        bytes32 entryHash,
        bytes32 expectedHead
    ) external onlyRole(ANCHORER_ROLE) returns (bytes32 newHead) {
        if (entryHash == bytes32(0)) revert AnchorRegistryEmptyLogEntry();
        bytes32[] storage heads = _logHeads[machineId];
        uint256 index = heads.length;
        bytes32 previousHead = index == 0 ? bytes32(0) : heads[index - 1];
        if (previousHead != expectedHead) revert AnchorRegistryStaleLogHead(machineId, expectedHead, previousHead);
        newHead = _link(previousHead, entryHash, index);
        heads.push(newHead);
        emit LogEntryAppended(machineId, index, entryHash, previousHead, newHead);
    }

    /// @inheritdoc IAnchorRegistry
    function anchorOf(bytes32 root) external view returns (Anchor memory) {
        return _anchors[root];
    }

    /// @inheritdoc IAnchorRegistry
    function verifyRecord(bytes32 root, bytes32 recordHash, bytes32[] calldata proof) external view returns (bool) {
        if (_anchors[root].anchoredAt == 0) return false;
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(recordHash))));
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }

    /// @inheritdoc IAnchorRegistry
    function logHead(bytes32 machineId) external view returns (bytes32 head, uint256 length) {
        bytes32[] storage heads = _logHeads[machineId];
        length = heads.length;
        head = length == 0 ? bytes32(0) : heads[length - 1];
    }

    /// @inheritdoc IAnchorRegistry
    function logHeadAt(bytes32 machineId, uint256 index) external view returns (bytes32) {
        bytes32[] storage heads = _logHeads[machineId];
        return index < heads.length ? heads[index] : bytes32(0);
    }

    /// @inheritdoc IAnchorRegistry
    function verifyLogEntry(
        bytes32 machineId,
        uint256 index,
        bytes32 previousHead,
        bytes32 entryHash
    ) external view returns (bool) {
        bytes32[] storage heads = _logHeads[machineId];
        if (index >= heads.length) return false;
        bytes32 expectedPrevious = index == 0 ? bytes32(0) : heads[index - 1];
        return previousHead == expectedPrevious && heads[index] == _link(previousHead, entryHash, index);
    }

    function _link(bytes32 previousHead, bytes32 entryHash, uint256 index) private pure returns (bytes32) {
        return keccak256(abi.encode(previousHead, entryHash, index));
    }
}
