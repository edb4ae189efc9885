"""Incentive scoreboards (激励与奖惩): rankings, the points ledger, rule sets and what-if replays."""
