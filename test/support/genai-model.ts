/**
 * The GenAI conventions' model files (open-telemetry/semantic-conventions-genai, `model/`) at the commit that
 * GENAI_LATEST_CONVENTIONS pins, read as the tests' reference for the `gen_ai_latest_experimental` names.
 * Like the OTLP protos (otlp-receiver.ts) they are fetched on first use into .tools/ and never committed: the
 * repository's archive of that commit from GitHub (the repository publishes no package), or, where
 * SEMCONV_GENAI_MODEL names a directory, that checkout's `model/`. Where neither can be had (no route to
 * GitHub), `unavailable` says why and the tests that need the model are skipped, saying so.
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { GENAI_LATEST_CONVENTIONS } from '../../src/telemetry/semconv.js';

export interface ModelMetric {
  instrument: string;
  unit: string;
  /** Every attribute key the metric may carry, its groups resolved, its refinements' included. */
  attributes: Set<string>;
}

export interface GenAIModel {
  /** Where the files were read from. */
  source: string;
  metrics: Map<string, ModelMetric>;
  /** Span types (`gen_ai.client.inference`...) and the attribute keys each may carry. */
  spans: Map<string, Set<string>>;
  /** Events and the attribute keys each may carry. */
  events: Map<string, Set<string>>;
  /** Attribute keys the registries define, with their enum values where they have members. */
  registry: Map<string, Set<string>>;
}

type Ref = { ref?: string; ref_group?: string; key?: string };
type Group = { id: string; attributes?: Ref[] };
type Yaml = {
  attribute_groups?: Group[];
  attributes?: (Ref & { type?: { members?: { value?: unknown }[] } })[];
  metrics?: { name: string; instrument: string; unit: string; attributes?: Ref[] }[];
  metric_refinements?: { ref: string; attributes?: Ref[] }[];
  spans?: { type: string; attributes?: Ref[] }[];
  span_refinements?: { ref: string; attributes?: Ref[] }[];
  events?: { name: string; attributes?: Ref[] }[];
};

const { repository, commit } = GENAI_LATEST_CONVENTIONS;

function fetchedModel(): string {
  const tools = fileURLToPath(new URL(`../../.tools/semconv-genai/${commit}/`, import.meta.url));
  const model = join(tools, 'model');
  if (existsSync(model)) return model;
  const work = mkdtempSync(join(tmpdir(), 'semconv-genai-'));
  try {
    const archive = join(work, 'archive.tar.gz');
    // curl rather than fetch: this runs at import, synchronously, like the other fetched test assets.
    execFileSync(
      'curl',
      [
        '-sSfL',
        '--max-time',
        '60',
        '-o',
        archive,
        `https://github.com/${repository}/archive/${commit}.tar.gz`,
      ],
      { stdio: 'pipe' },
    );
    execFileSync('tar', ['-xzf', archive, '-C', work, '--strip-components=1', '--wildcards', '*/model/*']);
    mkdirSync(tools, { recursive: true });
    execFileSync('cp', ['-R', join(work, 'model'), tools]);
    writeFileSync(join(tools, 'SOURCE'), `https://github.com/${repository}/tree/${commit}/model\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return model;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(entry.name) ? [path] : [];
  });
}

function readModel(dir: string): GenAIModel {
  const docs = yamlFiles(dir).map((file) => (parse(readFileSync(file, 'utf8')) ?? {}) as Yaml);
  const groups = new Map<string, Ref[]>();
  for (const doc of docs)
    for (const group of doc.attribute_groups ?? []) groups.set(group.id, group.attributes ?? []);
  // Spans are groups too: an event may take a span's attributes (`ref_group: span.gen_ai.client.inference`).
  for (const doc of docs)
    for (const span of doc.spans ?? []) groups.set(`span.${span.type}`, span.attributes ?? []);
  const resolve = (refs: Ref[] | undefined, seen = new Set<string>()): Set<string> => {
    const keys = new Set<string>();
    for (const ref of refs ?? []) {
      const key = ref.ref ?? ref.key;
      if (key) keys.add(key);
      if (ref.ref_group && !seen.has(ref.ref_group)) {
        seen.add(ref.ref_group);
        for (const k of resolve(groups.get(ref.ref_group), seen)) keys.add(k);
      }
    }
    return keys;
  };
  const model: GenAIModel = {
    source: dir,
    metrics: new Map(),
    spans: new Map(),
    events: new Map(),
    registry: new Map(),
  };
  for (const doc of docs) {
    for (const attribute of doc.attributes ?? []) {
      if (!attribute.key) continue;
      const members = attribute.type?.members?.map((m) => String(m.value)) ?? [];
      model.registry.set(attribute.key, new Set(members));
    }
    for (const metric of doc.metrics ?? []) {
      model.metrics.set(metric.name, {
        instrument: metric.instrument,
        unit: metric.unit,
        attributes: resolve(metric.attributes),
      });
    }
    for (const span of doc.spans ?? []) model.spans.set(span.type, resolve(span.attributes));
    for (const event of doc.events ?? []) model.events.set(event.name, resolve(event.attributes));
  }
  for (const doc of docs) {
    for (const refinement of doc.metric_refinements ?? []) {
      const metric = model.metrics.get(refinement.ref);
      for (const key of resolve(refinement.attributes)) metric?.attributes.add(key);
    }
    for (const refinement of doc.span_refinements ?? []) {
      const span = model.spans.get(refinement.ref);
      for (const key of resolve(refinement.attributes)) span?.add(key);
    }
  }
  return model;
}

function load(): { model: GenAIModel; unavailable?: undefined } | { model?: undefined; unavailable: string } {
  const local = process.env.SEMCONV_GENAI_MODEL;
  try {
    return { model: readModel(local ?? fetchedModel()) };
  } catch (error) {
    const why = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return {
      unavailable: local
        ? `SEMCONV_GENAI_MODEL=${local} could not be read: ${why}`
        : `the model files of ${repository} at ${commit} could not be fetched (${why}); set SEMCONV_GENAI_MODEL to a checkout's model/ directory to run these checks`,
    };
  }
}

export const genAIModel = load();
