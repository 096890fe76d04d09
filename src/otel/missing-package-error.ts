/**
 * What startTelemetry throws when an OpenTelemetry package it needs is not installed: the package's one
 * MissingPackageError (code RESILIENT_CHAT_MISSING_PACKAGE), re-exported for the `resilient-chat/otel` entry.
 */
export { MissingPackageError } from '../errors.js';
