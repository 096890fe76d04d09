/** What startTelemetry throws when an OpenTelemetry package it needs is not installed. */
export class MissingPackageError extends Error {
  override readonly name = 'MissingPackageError';
  /** The npm package that could not be loaded. */
  readonly packageName: string;

  constructor(packageName: string, neededFor: string, cause: unknown) {
    super(
      `${neededFor} needs the package ${packageName}, which is not installed: run \`npm install ${packageName}\`.`,
      { cause },
    );
    this.packageName = packageName;
  }
}
