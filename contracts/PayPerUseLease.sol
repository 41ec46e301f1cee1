// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IPayPerUseLease} from "./interfaces/IPayPerUseLease.sol";

/**
 * @title PayPerUseLease
 * @notice One lease: lessor, lessee, the tariff's hash, the machines, and its billing periods. The lessor
 * (or its service account, the operator) posts each period's usage root and invoice hash once the period
 * is over; the lessee acknowledges or disputes within `disputeWindow` seconds; afterwards anyone may
 * mark the period accepted. A disputed period is re-posted with a new revision.
 * @dev Periods are contiguous: each starts where the previous one ended, the first at `startsAt`.
 */
contract PayPerUseLease is IPayPerUseLease {
    address private immutable _lessor;
    address private immutable _lessee;
    bytes32 private immutable _tariffHash;
    uint64 private immutable _startsAt;
    uint64 private immutable _disputeWindow;
    address private _operator;
    bytes32[] private _machineIds;
    Period[] private _periods;

    modifier onlyLessorSide() {
        if (msg.sender != _lessor && msg.sender != _operator) revert PayPerUseLeaseUnauthorizedAccount(msg.sender);
        _;
    }

    modifier onlyLessee() {
        if (msg.sender != _lessee) revert PayPerUseLeaseUnauthorizedAccount(msg.sender);
        _;
    }

    /**
     * @notice Opens the lease.
     * @param lessor_ the machine owner
     * @param lessee_ the factory running the machines
     * @param operator_ the lessor's service account allowed to post usage
     * @param tariffHash_ the hash of the tariff's canonical form
     * @param machineIds_ the leased machines' ids (at least one)
     * @param startsAt_ the lease's start, where the first period starts (unix seconds)
     * @param disputeWindow_ seconds the lessee has after each posting to acknowledge or dispute
     */
    constructor(
        address lessor_,
        address lessee_,
        address operator_,
        bytes32 tariffHash_,
        bytes32[] memory machineIds_,
        uint64 startsAt_,
        uint64 disputeWindow_
    ) {
        if (lessor_ == address(0) || lessee_ == address(0) || operator_ == address(0)) {
            revert PayPerUseLeaseZeroAddress();
        }
        if (machineIds_.length == 0) revert PayPerUseLeaseNoMachines();
        if (disputeWindow_ == 0) revert PayPerUseLeaseZeroDisputeWindow();
        _lessor = lessor_;
        _lessee = lessee_;
        _operator = operator_;
        _tariffHash = tariffHash_;
        _machineIds = machineIds_;
        _startsAt = startsAt_;
        _disputeWindow = disputeWindow_;
    }

    /// @inheritdoc IPayPerUseLease
    function setOperator(address newOperator) external {
        if (msg.sender != _lessor) revert PayPerUseLeaseUnauthorizedAccount(msg.sender);
        if (newOperator == address(0)) revert PayPerUseLeaseZeroAddress();
        address previous = _operator;
        _operator = newOperator;
        emit OperatorChanged(previous, newOperator);
    }

    /// @inheritdoc IPayPerUseLease
    function postUsage(
        uint64 endsAt,
        bytes32 usageRoot,
        bytes32 invoiceHash,
        uint256 amount
    ) external onlyLessorSide returns (uint256 index) {
        index = _periods.length;
        uint64 startsAt_ = index == 0 ? _startsAt : _periods[index - 1].endsAt;
        if (endsAt <= startsAt_) revert PayPerUseLeaseInvalidPeriodEnd(startsAt_, endsAt);
        if (endsAt > block.timestamp) revert PayPerUseLeasePeriodNotEnded(endsAt, uint64(block.timestamp));
        if (usageRoot == bytes32(0) || invoiceHash == bytes32(0)) revert PayPerUseLeaseEmptyHash();
        _periods.push(
            Period({
                startsAt: startsAt_,
                endsAt: endsAt,
                postedAt: uint64(block.timestamp),
                revision: 0,
                status: PeriodStatus.Posted,
                usageRoot: usageRoot,
                invoiceHash: invoiceHash,
                amount: amount,
                disputeReason: bytes32(0)
            })
        );
        emit UsagePosted(index, startsAt_, endsAt, usageRoot, invoiceHash, amount, 0);
    }

    /// @inheritdoc IPayPerUseLease
    function reviseUsage(
        uint256 index,
        bytes32 usageRoot,
        bytes32 invoiceHash,
        uint256 amount
    ) external onlyLessorSide {
        Period storage p = _period(index);
        if (p.status != PeriodStatus.Disputed) revert PayPerUseLeaseUnexpectedStatus(index, p.status);
        if (usageRoot == bytes32(0) || invoiceHash == bytes32(0)) revert PayPerUseLeaseEmptyHash();
        p.usageRoot = usageRoot;
        p.invoiceHash = invoiceHash;
        p.amount = amount;
        p.postedAt = uint64(block.timestamp);
        p.revision += 1;
        p.status = PeriodStatus.Posted;
        emit UsagePosted(index, p.startsAt, p.endsAt, usageRoot, invoiceHash, amount, p.revision);
    }

    /// @inheritdoc IPayPerUseLease
    function acknowledge(uint256 index) external onlyLessee {
        Period storage p = _openPeriod(index);
        p.status = PeriodStatus.Acknowledged;
        emit UsageAcknowledged(index, p.invoiceHash);
    }

    /// @inheritdoc IPayPerUseLease
    function dispute(uint256 index, bytes32 reasonHash) external onlyLessee {
        Period storage p = _openPeriod(index);
        p.status = PeriodStatus.Disputed;
        p.disputeReason = reasonHash;
        emit UsageDisputed(index, p.invoiceHash, reasonHash);
    }

    /// @inheritdoc IPayPerUseLease
    function finalize(uint256 index) external {
        Period storage p = _period(index);
        if (p.status != PeriodStatus.Posted) revert PayPerUseLeaseUnexpectedStatus(index, p.status);
        uint64 closesAt = p.postedAt + _disputeWindow;
        if (block.timestamp <= closesAt) revert PayPerUseLeaseDisputeWindowOpen(index, closesAt);
        p.status = PeriodStatus.DeemedAccepted;
        emit UsageDeemedAccepted(index, p.invoiceHash);
    }

    /// @inheritdoc IPayPerUseLease
    function lessor() external view returns (address) {
        return _lessor;
    }

    /// @inheritdoc IPayPerUseLease
    function lessee() external view returns (address) {
        return _lessee;
    }

    /// @inheritdoc IPayPerUseLease
    function operator() external view returns (address) {
        return _operator;
    }

    /// @inheritdoc IPayPerUseLease
    function tariffHash() external view returns (bytes32) {
        return _tariffHash;
    }

    /// @inheritdoc IPayPerUseLease
    function machineIds() external view returns (bytes32[] memory) {
        return _machineIds;
    }

    /// @inheritdoc IPayPerUseLease
    function startsAt() external view returns (uint64) {
        return _startsAt;
    }

    /// @inheritdoc IPayPerUseLease
    function disputeWindow() external view returns (uint64) {
        return _disputeWindow;
    }

    /// @inheritdoc IPayPerUseLease
    function periodCount() external view returns (uint256) {
        return _periods.length;
    }

    /// @inheritdoc IPayPerUseLease
    function period(uint256 index) external view returns (Period memory) {
        return _period(index);
    }

    /// @inheritdoc IPayPerUseLease
    function effectiveStatus(uint256 index) external view returns (PeriodStatus) {
        Period storage p = _period(index);
        if (p.status == PeriodStatus.Posted && block.timestamp > p.postedAt + _disputeWindow) {
            return PeriodStatus.DeemedAccepted;
        }
        return p.status;
    }

    /// @inheritdoc IPayPerUseLease
    function verifyUsageRecord(
        uint256 index,
        bytes32 recordHash,
        bytes32[] calldata proof
    ) external view returns (bool) {
        if (index >= _periods.length) return false;
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(recordHash))));
        return MerkleProof.verifyCalldata(proof, _periods[index].usageRoot, leaf);
    }

    function _period(uint256 index) private view returns (Period storage) {
        if (index >= _periods.length) revert PayPerUseLeaseUnknownPeriod(index);
        return _periods[index];
    }

    function _openPeriod(uint256 index) private view returns (Period storage p) {
        p = _period(index);
        if (p.status != PeriodStatus.Posted) revert PayPerUseLeaseUnexpectedStatus(index, p.status);
        uint64 closesAt = p.postedAt + _disputeWindow;
        if (block.timestamp > closesAt) revert PayPerUseLeaseDisputeWindowClosed(index, closesAt);
    }
}
