/** The retry budget under a controlled clock. */
import { describe, expect, test } from 'vitest';
import { RetryBudget } from '../../src/policy/retry-budget.js';

describe('RetryBudget (controlled clock)', () => {
  test('allows ratio x calls plus the per-second floor over the window', () => {
    let now = 0;
    const budget = new RetryBudget({ ratio: 0.1, minRetriesPerSecond: 1, windowMs: 10_000 }, () => now);
    for (let i = 0; i < 100; i++) budget.deposit();
    let granted = 0;
    while (budget.tryWithdraw()) granted++;
    expect(granted).toBe(20); // 100 x 0.1 + 1/s x 10 s
    now += 10_001; // the window has passed: only the floor is left
    granted = 0;
    while (budget.tryWithdraw()) granted++;
    expect(granted).toBe(10);
  });

  test('a zero budget refuses every retry', () => {
    const budget = new RetryBudget({ ratio: 0, minRetriesPerSecond: 0, windowMs: 1_000 });
    budget.deposit();
    expect(budget.tryWithdraw()).toBe(false);
  });
});
