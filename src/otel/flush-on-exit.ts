/**
 * Flushes telemetry when the process is about to end, so what is buffered (the last spans, the metric points
 * since the last export) is not lost: on SIGTERM and SIGINT (how orchestrators and Ctrl-C stop a service) and
 * on `beforeExit` (the event loop ran dry).
 *
 * A signal listener replaces Node's default of exiting. So after the flush, when nothing else listens for that
 * signal, the signal is raised again and the process ends as it would have without us (same signal, same exit
 * status). When the service has its own listener, stopping is left to it.
 */
export type ExitSignal = 'SIGTERM' | 'SIGINT';

export const EXIT_SIGNALS: readonly ExitSignal[] = ['SIGTERM', 'SIGINT'];

/** Installs the hooks; the returned function removes them. */
export function flushOnExit(flush: () => Promise<void>, signals: readonly ExitSignal[]): () => void {
  const onSignal = (signal: ExitSignal) => {
    remove();
    void flush()
      .catch(() => {
        // The SDK reports its own export failures; the process is going away either way.
      })
      .finally(() => {
        if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
      });
  };
  const onBeforeExit = () => {
    remove();
    void flush().catch(() => {});
  };
  const remove = () => {
    for (const signal of signals) process.off(signal, onSignal);
    process.off('beforeExit', onBeforeExit);
  };
  for (const signal of signals) process.on(signal, onSignal);
  process.on('beforeExit', onBeforeExit);
  return remove;
}
