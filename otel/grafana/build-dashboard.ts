/** Writes otel/grafana/dashboards/chat-completion-resilience.json from dashboard.ts (npm run otel:dashboard). */
import { writeFileSync } from 'node:fs';
import { dashboardJson } from './dashboard.js';

const target = new URL('./dashboards/chat-completion-resilience.json', import.meta.url);
writeFileSync(target, dashboardJson());
console.log(`wrote ${target.pathname}`);
