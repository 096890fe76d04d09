/**
 * Loads the OpenTelemetry SDK packages that only resilient-chat/otel uses, when startTelemetry runs.
 *
 * Why not peer dependencies: the SDK's 0.x packages move a minor at a time, in lockstep with whatever a
 * service's own setup pins (auto-instrumentations-node, sdk-node); any range we declared would sooner or later
 * make `npm install` fail with ERESOLVE beside them. Resolved here instead, from the service's own
 * node_modules, with an error naming the package when it is missing.
 *
 * require() rather than import(): startTelemetry stays synchronous (it must run before the service makes
 * calls), and the OpenTelemetry packages ship CommonJS builds; their API state is global, shared by both.
 */
import { createRequire } from 'node:module';
import { MissingPackageError } from './missing-package-error.js';

export interface PackageLoader {
  /** Loads a package as the caller's code would find it, or throws MissingPackageError. */
  load<T>(packageName: string, neededFor: string): T;
  /** A loader that resolves from inside `packageName`, so what it loads is the copy that package uses. */
  within(packageName: string): PackageLoader;
}

const fromHere = createRequire(import.meta.url);

export function packageLoader(require: NodeJS.Require = fromHere): PackageLoader {
  return {
    load<T>(packageName: string, neededFor: string): T {
      try {
        return require(packageName) as T;
      } catch (error) {
        if (isNotFound(error, packageName)) throw new MissingPackageError(packageName, neededFor, error);
        throw error;
      }
    },
    within(packageName: string): PackageLoader {
      return packageLoader(createRequire(require.resolve(packageName)));
    },
  };
}

/** Only the package itself missing counts: a broken install inside it should surface as it is. */
function isNotFound(error: unknown, packageName: string): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') &&
    String((error as Error).message).includes(`'${packageName}'`)
  );
}
