// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IAnchorRegistry
 * @notice Tamper evidence for off-chain records: Merkle roots of record batches and, per machine, an
 * append-only hash chain of maintenance-log entries.
 */
interface IAnchorRegistry {
    /// @notice What the registry keeps about one anchored root.
    struct Anchor {
        uint64 anchoredAt;
        uint64 blockNumber;
        uint64 recordCount;
    }

    /// @notice The root is zero, which never names a batch.
    error AnchorRegistryEmptyRoot();

    /// @notice A batch must hold at least one record.
    error AnchorRegistryEmptyBatch();

    /// @notice The root was anchored before; a root is stored once.
    error AnchorRegistryRootAlreadyAnchored(bytes32 root, uint64 anchoredAt);

    /// @notice The caller appended against a log head that is no longer the machine's current head.
    error AnchorRegistryStaleLogHead(bytes32 machineId, bytes32 expectedHead, bytes32 currentHead);

    /// @notice The log entry hash is zero.
    error AnchorRegistryEmptyLogEntry();

    /**
     * @notice A batch root was stored.
     * @param root the Merkle root of the batch (OpenZeppelin StandardMerkleTree over one bytes32 value)
     * @param anchorer the account that sent the transaction
     * @param recordCount how many records the batch holds
     * @param kind what the records are, for example "telemetry", "maintenance", "quality", "billing"
     * @param metadata free text for the batch, for example a JSON object with the time range
     */
    event RootAnchored(
        bytes32 indexed root,
        address indexed anchorer,
        uint256 recordCount,
        string kind,
        string metadata
    );

    /**
     * @notice An entry was appended to a machine's maintenance-log hash chain.
     * @param machineId the machine (keccak256 of its id, or any 32-byte id)
     * @param index the position of the entry in the machine's chain, from 0
     * @param entryHash the hash of the entry's canonical form
     * @param previousHead the chain head before the entry (zero for the first entry)
     * @param newHead keccak256(abi.encode(previousHead, entryHash, index))
     */
    event LogEntryAppended(
        bytes32 indexed machineId,
        uint256 indexed index,
        bytes32 entryHash,
        bytes32 previousHead,
        bytes32 newHead
    );

    /**
     * @notice Stores a batch root once, with the block's time and number.
     * @param root the batch's Merkle root
     * @param recordCount how many records the batch holds (at least one)
     * @param kind what the records are
     * @param metadata free text for the batch
     */
    function anchor(bytes32 root, uint256 recordCount, string calldata kind, string calldata metadata) external;

    /**
     * @notice Appends an entry to a machine's maintenance-log hash chain.
     * @param machineId the machine
     * @param entryHash the hash of the entry's canonical form
     * @param expectedHead the head the caller built on; guards against concurrent appends
     * @return newHead the machine's new chain head
     */
    function appendLogEntry(bytes32 machineId, bytes32 entryHash, bytes32 expectedHead)
        external
        returns (bytes32 newHead);

    /**
     * @notice What the registry keeps about a root; all fields are zero for a root never anchored.
     * @param root the batch's Merkle root
     */
    function anchorOf(bytes32 root) external view returns (Anchor memory);

    /**
     * @notice Whether a record belongs to an anchored batch.
     * @dev True only when `root` is stored and `proof` leads from the record's leaf to `root`, with the
     * leaf keccak256(bytes.concat(keccak256(abi.encode(recordHash)))) and sorted-pair inner nodes.
     * @param root the batch's Merkle root
     * @param recordHash the record's hash
     * @param proof the sibling hashes from the leaf up to the root
     */
    function verifyRecord(bytes32 root, bytes32 recordHash, bytes32[] calldata proof) external view returns (bool);

    /**
     * @notice A machine's current maintenance-log head and the number of entries in its chain.
     * @param machineId the machine
     */
    function logHead(bytes32 machineId) external view returns (bytes32 head, uint256 length);

    /**
     * @notice The chain head right after the entry at `index` was appended (zero past the end).
     * @param machineId the machine
     * @param index the position of the entry
     */
    function logHeadAt(bytes32 machineId, uint256 index) external view returns (bytes32);

    /**
     * @notice Whether `entryHash` sits at `index` of the machine's chain right after `previousHead`.
     * @param machineId the machine
     * @param index the position of the entry
     * @param previousHead the chain head before the entry
     * @param entryHash the hash of the entry's canonical form
     */
    function verifyLogEntry(bytes32 machineId, uint256 index, bytes32 previousHead, bytes32 entryHash)
        external
        view
        returns (bool);
}
