/**
 * Grafana's `$__rate_interval` for a Prometheus datasource, as Grafana computes it, so that the stack test and
 * otel/check-stack.ts evaluate the dashboard's queries with the windows Grafana would use. Written out here
 * because Grafana ships it only inside its frontend bundle.
 *
 *   $__rate_interval = max($__interval + timeInterval, 4 x timeInterval)
 *   $__interval      = max(timeInterval, round(time range / max data points))
 *
 * where `timeInterval` is the datasource's "scrape interval" setting (here: the metric export interval).
 */

/** Grafana's interval rounding (rangeutil.roundInterval): to a "nice" step, in ms. */
export function roundInterval(ms: number): number {
  const steps: [below: number, value: number][] = [
    [15, 10],
    [35, 20],
    [75, 50],
    [150, 100],
    [350, 200],
    [750, 500],
    [1_500, 1_000],
    [3_500, 2_000],
    [7_500, 5_000],
    [12_500, 10_000],
    [17_500, 15_000],
    [25_000, 20_000],
    [45_000, 30_000],
    [90_000, 60_000],
    [210_000, 120_000],
    [450_000, 300_000],
    [750_000, 600_000],
    [1_050_000, 900_000],
    [1_500_000, 1_200_000],
    [2_700_000, 1_800_000],
    [5_400_000, 3_600_000],
    [9_000_000, 7_200_000],
    [16_200_000, 10_800_000],
    [32_400_000, 21_600_000],
    [86_400_000, 43_200_000],
    [604_800_000, 86_400_000],
    [1_814_400_000, 604_800_000],
    [3_628_800_000, 2_592_000_000],
  ];
  for (const [below, value] of steps) if (ms < below) return value;
  return 31_536_000_000;
}

/**
 * `$__rate_interval` in seconds, for a datasource whose `timeInterval` is `timeIntervalS`, a dashboard time
 * range of `rangeS` and a panel `maxDataPoints` wide (Grafana uses the panel's width in pixels).
 */
export function grafanaRateInterval(timeIntervalS: number, rangeS = 3600, maxDataPoints = 1000): number {
  const interval = Math.max(timeIntervalS, roundInterval((rangeS * 1000) / maxDataPoints) / 1000);
  return Math.max(interval + timeIntervalS, 4 * timeIntervalS);
}

/** Seconds in a Prometheus/Grafana duration such as `60s`, `1m`, `1h`, `7d`. */
export function durationSeconds(duration: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(duration);
  if (!match) throw new Error(`not a duration: ${JSON.stringify(duration)}`);
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}
