/** Reading the one chat span of a test call and its events. */
import type { Attributes } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { expect } from 'vitest';
import { telemetryNames } from '../../src/index.js';
import type { TelemetryHarness } from './telemetry.js';

export async function onlySpan(harness: TelemetryHarness): Promise<ReadableSpan> {
  const spans = await harness.spans();
  expect(spans, 'exactly one chat span per call').toHaveLength(1);
  return spans[0] as ReadableSpan;
}

export function retryEvents(span: ReadableSpan): Attributes[] {
  return span.events.filter((e) => e.name === telemetryNames.EVENT_RETRY).map((e) => e.attributes ?? {});
}

export function giveUpEvents(span: ReadableSpan): Attributes[] {
  return span.events.filter((e) => e.name === telemetryNames.EVENT_GIVE_UP).map((e) => e.attributes ?? {});
}

export const quietLogger = { warn() {} };
