// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IPayPerUseLease
 * @notice A pay-per-use lease of machines between a lessor and a lessee. For each billing period the
 * lessor's service posts the Merkle root of the period's usage records and the hash of the invoice; the
 * lessee acknowledges or disputes it within the dispute window, after which it counts as accepted.
 */
interface IPayPerUseLease {
    /// @notice Where a billing period stands.
    enum PeriodStatus {
        None,
        Posted,
        Acknowledged,
        Disputed,
        DeemedAccepted
    }

    /// @notice One billing period: its bounds, the posted usage and invoice, and its status.
    struct Period {
        uint64 startsAt;
        uint64 endsAt;
        uint64 postedAt;
        uint32 revision;
        PeriodStatus status;
        bytes32 usageRoot;
        bytes32 invoiceHash;
        uint256 amount;
        bytes32 disputeReason;
    }

    /// @notice A party or the operator is the zero address.
    error PayPerUseLeaseZeroAddress();

    /// @notice The lease covers no machine.
    error PayPerUseLeaseNoMachines();

    /// @notice The dispute window is zero.
    error PayPerUseLeaseZeroDisputeWindow();

    /// @notice The caller may not do this (lessor side: lessor or operator; lessee side: lessee).
    error PayPerUseLeaseUnauthorizedAccount(address account);

    /// @notice The period index names no posted period.
    error PayPerUseLeaseUnknownPeriod(uint256 index);

    /// @notice A period must end after it starts.
    error PayPerUseLeaseInvalidPeriodEnd(uint64 startsAt, uint64 endsAt);

    /// @notice A period's usage can only be posted once the period is over.
    error PayPerUseLeasePeriodNotEnded(uint64 endsAt, uint64 now_);

    /// @notice The usage root or the invoice hash is zero.
    error PayPerUseLeaseEmptyHash();

    /// @notice The period is not in the status this step needs.
    error PayPerUseLeaseUnexpectedStatus(uint256 index, PeriodStatus status);

    /// @notice The dispute window of the period closed; it can no longer be acknowledged or disputed.
    error PayPerUseLeaseDisputeWindowClosed(uint256 index, uint64 closedAt);

    /// @notice The dispute window of the period is still open; it cannot be deemed accepted yet.
    error PayPerUseLeaseDisputeWindowOpen(uint256 index, uint64 closesAt);

    /**
     * @notice The lessor changed the service account allowed to post usage.
     * @param previousOperator the account that could post before
     * @param newOperator the account that can post now
     */
    event OperatorChanged(address indexed previousOperator, address indexed newOperator);

    /**
     * @notice A period's usage and invoice were posted (revision 0) or re-posted after a dispute.
     * @param index the period's index, from 0
     * @param startsAt the period's start (unix seconds)
     * @param endsAt the period's end (unix seconds, exclusive)
     * @param usageRoot the Merkle root of the period's usage records
     * @param invoiceHash the hash of the invoice's canonical form
     * @param amount the invoice total in minor currency units
     * @param revision 0 for the first posting, then one more per revision
     */
    event UsagePosted(
        uint256 indexed index,
        uint64 startsAt,
        uint64 endsAt,
        bytes32 usageRoot,
        bytes32 invoiceHash,
        uint256 amount,
        uint32 revision
    );

    /**
     * @notice The lessee acknowledged the period's invoice.
     * @param index the period's index
     * @param invoiceHash the invoice acknowledged
     */
    event UsageAcknowledged(uint256 indexed index, bytes32 invoiceHash);

    /**
     * @notice The lessee disputed the period's invoice.
     * @param index the period's index
     * @param invoiceHash the invoice disputed
     * @param reasonHash the hash of the lessee's written reason
     */
    event UsageDisputed(uint256 indexed index, bytes32 invoiceHash, bytes32 reasonHash);

    /**
     * @notice The dispute window passed without an answer; the invoice counts as accepted.
     * @param index the period's index
     * @param invoiceHash the invoice accepted
     */
    event UsageDeemedAccepted(uint256 indexed index, bytes32 invoiceHash);

    /**
     * @notice Lets `newOperator` post usage for the lessor (lessor only).
     * @param newOperator the lessor's service account
     */
    function setOperator(address newOperator) external;

    /**
     * @notice Posts the next period, which starts where the previous one ended (lessor or operator).
     * @param endsAt the period's end; not in the future
     * @param usageRoot the Merkle root of the period's usage records
     * @param invoiceHash the hash of the invoice's canonical form
     * @param amount the invoice total in minor currency units
     * @return index the new period's index
     */
    function postUsage(uint64 endsAt, bytes32 usageRoot, bytes32 invoiceHash, uint256 amount)
        external
        returns (uint256 index);

    /**
     * @notice Re-posts a disputed period with corrected usage and invoice (lessor or operator).
     * @param index the disputed period
     * @param usageRoot the corrected usage root
     * @param invoiceHash the corrected invoice's hash
     * @param amount the corrected total
     */
    function reviseUsage(uint256 index, bytes32 usageRoot, bytes32 invoiceHash, uint256 amount) external;

    /**
     * @notice Acknowledges a posted period within its dispute window (lessee only).
     * @param index the period
     */
    function acknowledge(uint256 index) external;

    /**
     * @notice Disputes a posted period within its dispute window (lessee only).
     * @param index the period
     * @param reasonHash the hash of the written reason
     */
    function dispute(uint256 index, bytes32 reasonHash) external;

    /**
     * @notice Marks a posted period accepted once its dispute window passed (anyone).
     * @param index the period
     */
    function finalize(uint256 index) external;

    /// @notice The lessor.
    function lessor() external view returns (address);

    /// @notice The lessee.
    function lessee() external view returns (address);

    /// @notice The lessor's service account allowed to post usage.
    function operator() external view returns (address);

    /// @notice The hash of the tariff's canonical form.
    function tariffHash() external view returns (bytes32);

    /// @notice The leased machines' ids.
    function machineIds() external view returns (bytes32[] memory);

    /// @notice The lease's start (unix seconds), where the first period starts.
    function startsAt() external view returns (uint64);

    /// @notice The dispute window after each posting, in seconds.
    function disputeWindow() external view returns (uint64);

    /// @notice How many periods were posted.
    function periodCount() external view returns (uint256);

    /**
     * @notice A posted period.
     * @param index the period
     */
    function period(uint256 index) external view returns (Period memory);

    /**
     * @notice The status of a period, `DeemedAccepted` as soon as its window passed without an answer.
     * @param index the period
     */
    function effectiveStatus(uint256 index) external view returns (PeriodStatus);

    /**
     * @notice Whether a usage record belongs to the period's posted usage root.
     * @param index the period
     * @param recordHash the usage record's hash
     * @param proof the sibling hashes from the leaf up to the root (OpenZeppelin StandardMerkleTree)
     */
    function verifyUsageRecord(uint256 index, bytes32 recordHash, bytes32[] calldata proof)
        external
        view
        returns (bool);
}
