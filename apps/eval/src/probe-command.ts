// eval:probe: frozen features of one or more checkpoints (or a random-init trunk) -> probe -> report with baselines,
// a block sweep and, for a run folder, pretraining validation loss against probe accuracy.
// References: El-Nouby et al. 2024 (AIM) Sec. 5 (attentive probe, block choice, loss vs downstream accuracy).
import { mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { TRANSFORM_REVISION } from '@aim/data';
import {
  configFromMetadata,
  createAim,
  saveAimCheckpoint,
  loadAimCheckpoint,
  readSafetensors,
  resolveAimConfig,
  type AimConfig,
  type AimModel,
} from '@aim/model';
import type { BlockSelection, ProbeArgs, ProbeKind } from './cli-args.js';
import { UsageError } from './cli-args.js';
import { FeatureCache, fileSha256, type CacheKey } from './cache.js';
import { resolveCheckpoints } from './checkpoints.js';
import { loadSplit, type LabeledPatches } from './data-source.js';
import { type EngineTarget, extractBlockMeans } from './extract.js';
import { addBlock, finishMean } from './features.js';
import { attentiveProbeOf, modelHeads } from './heads.js';
import { CLASS_NAMES_METADATA_KEY, resolveClassNames } from './class-names.js';
import { PROBE_BLOCKS_METADATA_KEY } from './features-command.js';
import { recipeOf, runProbe, type HeadFactories, type LabeledFeatures, type ProbeOutcome, type ProbeSettings } from './probes.js';
import type { ProbeHead } from './train-probe.js';
import { reportFromMetrics, writeReport, type BaselineResult, type CheckpointPoint, type EvalReport, type SweepPoint } from './report.js';

export type Split = 'train' | 'test';

/** Turns a data spec (`mnist:train`, a shard pattern ...) into shard URLs; the MNIST preparation lives behind it. */
export type DataResolver = (spec: string, split: Split) => Promise<string | readonly string[]>;

export interface ProbeCommandDeps {
  readonly resolveData: DataResolver;
  readonly log?: (line: string) => void;
  /** Decode workers of the data loader. */
  readonly workers?: number;
  /** When set, trunk features are extracted on the WebGPU engine there. */
  readonly engine?: EngineTarget;
}

/** A trunk to probe: where its weights come from and what identifies them in the feature cache. */
interface TrunkSource {
  readonly label: string;
  readonly step: number | null;
  readonly valLoss: number | null;
  identity(): Promise<string>;
  load(): Promise<AimModel>;
}

/** The 0-based blocks a selection names for a config. */
export function resolveBlocks(sel: BlockSelection, config: AimConfig): number[] {
  if (sel.kind === 'last') return [...config.probeBlocks.last];
  if (sel.kind === 'best') return [...config.probeBlocks.best];
  for (const b of sel.blocks) {
    if (b >= config.depth) throw new UsageError(`--blocks: block ${b} does not exist; ${config.name} has blocks 0..${config.depth - 1}`);
  }
  return [...sel.blocks];
}

async function checkpointConfig(file: string): Promise<AimConfig> {
  const f = await readSafetensors(file);
  try {
    const config = configFromMetadata(f.metadata, basename(file));
    if (!config) throw new Error(`${file}: no AIM config in its metadata, so the trunk's shape is unknown`);
    return config;
  } finally {
    await f.close();
  }
}

function canonicalConfig(config: AimConfig): string {
  const { name: _name, ...shape } = config;
  return JSON.stringify(shape);
}

function randomInitTrunk(config: AimConfig, seed: number, label: string): TrunkSource {
  return {
    label,
    step: null,
    valLoss: null,
    identity: async () => `random-init:${canonicalConfig(config)}:seed=${seed}`,
    load: async () => createAim(config, {}, { seed, pretrainHead: false }),
  };
}

/**
 * Features of one trunk on both splits: means of block sets, read from the cache or extracted by one trunk pass per
 * group of sets whose tables fit in `maxExtractBytes` together.
 */
class TrunkFeatures {
  private model: AimModel | null = null;
  private id: string | null = null;

  constructor(
    private readonly trunk: TrunkSource,
    private readonly ctx: FeatureContext,
  ) {}

  private async key(split: Split, blocks: readonly number[]): Promise<CacheKey> {
    this.id ??= await this.trunk.identity();
    return { trunk: this.id, blocks, data: this.ctx.dataKey[split], transform: this.ctx.transform };
  }

  /** Puts the sets that are not cached yet into the cache (the block sweep's singles, before it probes them). */
  async prepare(split: Split, sets: readonly (readonly number[])[]): Promise<void> {
    const missing: (readonly number[])[] = [];
    for (const set of sets) if (!(await this.ctx.cache.has(await this.key(split, set)))) missing.push(set);
    await this.extract(split, missing, () => {});
  }

  /**
   * The mean of the chosen blocks' raw outputs (the paper's probe input): from the cache, else from the cached single
   * blocks when all of them are there (a sweep's; summed one at a time in the set's order, the same bits as the
   * trunk pass gives), else from a trunk pass.
   */
  async averaged(split: Split, blocks: readonly number[]): Promise<LabeledFeatures> {
    const hit = await this.ctx.cache.get(await this.key(split, blocks));
    if (hit) return hit;
    const composed = await this.fromSingles(split, blocks);
    if (composed) return composed;
    let made: LabeledFeatures | undefined;
    await this.extract(split, [blocks], (entry) => {
      made = entry;
    });
    return made!;
  }

  /** The set's mean summed from its cached single blocks (and cached), or undefined when one of them is not cached. */
  private async fromSingles(split: Split, blocks: readonly number[]): Promise<LabeledFeatures | undefined> {
    if (blocks.length < 2) return undefined;
    for (const b of blocks) if (!(await this.ctx.cache.has(await this.key(split, [b])))) return undefined;
    let sum: LabeledFeatures | undefined;
    for (const b of blocks) {
      const single = await this.ctx.cache.get(await this.key(split, [b]));
      if (!single) return undefined; // gone since has(): extract instead
      sum ??= { features: { ...single.features, data: new Float32Array(single.features.data.length) }, labels: single.labels };
      addBlock(sum.features.data, single.features.data);
    }
    finishMean(sum!.features.data, blocks.length);
    this.ctx.log(`  blocks ${blocks.join(',')} of ${this.trunk.label} on ${split}: averaged from the cached single blocks`);
    await this.ctx.cache.put(await this.key(split, blocks), sum!);
    return sum;
  }

  /** Extracts `sets` into the cache, handing each entry to `use` (which may keep it); nothing else keeps them. */
  private async extract(split: Split, sets: readonly (readonly number[])[], use: (entry: LabeledFeatures) => void): Promise<void> {
    if (sets.length === 0) return;
    const data = await this.ctx.data(split);
    this.model ??= await this.trunk.load();
    const bytesPerTable = data.n * data.tokens * this.model.config.width * 4;
    const group = Math.max(1, Math.floor(this.ctx.maxExtractBytes / bytesPerTable));
    for (let i = 0; i < sets.length; i += group) {
      const part = sets.slice(i, i + group);
      this.ctx.log(`  extracting ${part.map((set) => `blocks ${set.join(',')}`).join('; ')} of ${this.trunk.label} on ${split} (${data.n} samples)`);
      const means = await extractBlockMeans(this.model, data, part, 64, this.ctx.engine);
      for (let j = 0; j < part.length; j++) {
        const entry = { features: means[j], labels: data.labels };
        await this.ctx.cache.put(await this.key(split, part[j]), entry);
        use(entry);
      }
    }
  }

  dispose(): void {
    this.model?.dispose();
    this.model = null;
  }
}

interface FeatureContext {
  readonly cache: FeatureCache;
  readonly dataKey: Record<Split, { spec: string; limit: number }>;
  readonly transform: CacheKey['transform'];
  readonly data: (split: Split) => Promise<LabeledPatches>;
  readonly log: (line: string) => void;
  /** Largest feature table extracted in one trunk pass. */
  readonly maxExtractBytes: number;
  readonly engine?: EngineTarget;
}

/** Normalised input pixels as one "token" per image: the input of the raw-pixel linear baseline. */
function pixelFeatures(d: LabeledPatches): LabeledFeatures {
  return { features: { data: d.patches, n: d.n, tokens: 1, dim: d.tokens * d.patchDim }, labels: d.labels };
}

/**
 * Saves the trunk with its trained attentive probe (apple/ml-aim `head.*` names, probe blocks in the metadata), so
 * `eval:features` on it also writes logits. Nothing is saved for other probes.
 */
async function saveTrunkWithProbe(
  trunk: TrunkSource,
  head: ProbeHead,
  blocks: readonly number[],
  classNames: readonly string[] | undefined,
  outDir: string,
): Promise<string | null> {
  const probe = attentiveProbeOf(head);
  if (!probe) return null;
  const model = await trunk.load();
  try {
    await mkdir(outDir, { recursive: true });
    const path = join(outDir, 'probe.safetensors');
    const metadata: Record<string, string> = { [PROBE_BLOCKS_METADATA_KEY]: JSON.stringify(blocks), trunk: trunk.label };
    if (classNames) metadata[CLASS_NAMES_METADATA_KEY] = JSON.stringify(classNames);
    await saveAimCheckpoint(path, { model, probe, metadata });
    return path;
  } finally {
    model.dispose();
  }
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

function defaultOutDir(args: ProbeArgs): string {
  const name = args.randomInit ? `random-init-${args.variant}` : basename(args.checkpoint!).replace(/\.safetensors$/, '');
  return join('runs', 'eval', `${name}-${args.probe}`);
}

export interface ProbeCommandResult {
  readonly report: EvalReport;
  readonly outDir: string;
  readonly files: string[];
}

/** Runs eval:probe (the backend must already be selected). */
export async function probeCommand(args: ProbeArgs, deps: ProbeCommandDeps): Promise<ProbeCommandResult> {
  const log = deps.log ?? ((line: string) => console.log(line));
  // Trunks, the newest checkpoint last; it is the one reported, swept and compared with the baselines.
  let config: AimConfig;
  let trunks: TrunkSource[];
  if (args.randomInit) {
    config = resolveAimConfig(args.variant!);
    trunks = [randomInitTrunk(config, args.initSeed, `random-init:${args.variant}`)];
  } else {
    const refs = resolveCheckpoints(args.checkpoint!, log);
    config = await checkpointConfig(refs.at(-1)!.file);
    trunks = [];
    for (const ref of refs) {
      const c = await checkpointConfig(ref.file);
      if (canonicalConfig(c) !== canonicalConfig(config)) throw new Error(`${ref.file}: its config differs from ${refs.at(-1)!.file}; probe one run at a time`);
      trunks.push({
        label: ref.label,
        step: ref.step,
        valLoss: ref.valLoss,
        identity: () => fileSha256(ref.file),
        load: async () => {
          const loaded = await loadAimCheckpoint(ref.file, { allowPrefixes: ['optimizer.', 'linear_probe.'] });
          loaded.probe?.dispose();
          return loaded.model;
        },
      });
    }
  }
  const blocks = resolveBlocks(args.blocks, config);
  const outDir = args.out ?? defaultOutDir(args);
  const settings: ProbeSettings = { ...args };
  const heads: HeadFactories = modelHeads(config.heads);
  log(
    `eval:probe: ${args.probe} probe, blocks ${blocks.join(',')}, ${trunks.length} trunk(s) of ${config.name} (${config.imageSize}px, patch ${config.patchSize})`,
  );

  const loaded = new Map<Split, Promise<LabeledPatches>>();
  const specs: Record<Split, string> = { train: args.train, test: args.test };
  const limits: Record<Split, number> = { train: args.trainLimit, test: args.testLimit };
  const ctx: FeatureContext = {
    cache: new FeatureCache(join(args.cacheDir, 'eval-features')),
    dataKey: { train: { spec: args.train, limit: args.trainLimit }, test: { spec: args.test, limit: args.testLimit } },
    transform: { name: 'eval', imageSize: config.imageSize, patchSize: config.patchSize, revision: TRANSFORM_REVISION },
    log,
    maxExtractBytes: 1.5e9,
    engine: deps.engine,
    data: (split) => {
      let p = loaded.get(split);
      if (!p) {
        p = (async () => {
          const shards = await deps.resolveData(specs[split], split);
          log(`  reading ${split} data ${specs[split]} (up to ${limits[split]} samples)`);
          return loadSplit({
            shards,
            name: `--${split} ${specs[split]}`,
            limit: limits[split],
            imageSize: config.imageSize,
            patchSize: config.patchSize,
            workers: deps.workers,
          });
        })();
        loaded.set(split, p);
      }
      return p;
    },
  };

  let numClasses = 0;
  let trainSamples = 0;
  // Known once the first probe has seen the labels; checked then, before any file is written.
  let classNames: string[] | undefined;
  let classNamesChecked = false;
  const classNamesFor = (): string[] | undefined => {
    if (!classNamesChecked) [classNames, classNamesChecked] = [resolveClassNames(args.classNames, specs, numClasses), true];
    return classNames;
  };
  const probeOn = async (kind: ProbeKind, train: LabeledFeatures, test: LabeledFeatures, what: string, keepHead = false): Promise<ProbeOutcome> => {
    for (const labels of [train.labels, test.labels]) for (const y of labels) numClasses = Math.max(numClasses, y + 1);
    trainSamples = train.labels.length;
    const t0 = Date.now();
    classNamesFor();
    const outcome = await runProbe(kind, train, test, numClasses, settings, heads, { keepHead });
    log(`  ${what}: top-1 ${pct(outcome.metrics.top1)}, top-5 ${pct(outcome.metrics.top5)} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    return outcome;
  };
  const probeTrunk = async (tf: TrunkFeatures, what: string, sel: readonly number[], keepHead = false) =>
    probeOn(args.probe, await tf.averaged('train', sel), await tf.averaged('test', sel), what, keepHead);

  // 1. Every checkpoint with the chosen blocks (the loss-vs-accuracy series); the newest is the headline.
  const checkpointPoints: CheckpointPoint[] = [];
  let probeFile: string | null = null;
  let main: ProbeOutcome | null = null;
  let sweep: SweepPoint[] | null = null;
  for (let i = 0; i < trunks.length; i++) {
    const trunk = trunks[i];
    const tfeat = new TrunkFeatures(trunk, ctx);
    try {
      const headline = i === trunks.length - 1;
      const outcome = await probeTrunk(tfeat, `${trunk.label} blocks ${blocks.join(',')}`, blocks, headline);
      if (outcome.head) {
        try {
          probeFile = await saveTrunkWithProbe(trunk, outcome.head, blocks, classNamesFor(), outDir);
        } finally {
          outcome.head.dispose();
        }
      }
      checkpointPoints.push({ checkpoint: trunk.label, step: trunk.step, valLoss: trunk.valLoss, top1: outcome.metrics.top1, top5: outcome.metrics.top5 });
      if (headline) {
        main = outcome;
        // 2. Block sweep of the headline trunk: the same probe on each single block.
        if (args.sweep) {
          sweep = [];
          const singles = Array.from({ length: config.depth }, (_, b) => [b]);
          for (const split of ['train', 'test'] as const) await tfeat.prepare(split, singles);
          for (let b = 0; b < config.depth; b++) {
            const m = (await probeTrunk(tfeat, `sweep block ${b}`, [b])).metrics;
            sweep.push({ block: b, top1: m.top1, top5: m.top5 });
          }
        }
      }
    } finally {
      tfeat.dispose();
    }
  }

  // 3. Baselines: an untrained trunk of the same shape with the same probe, and a linear probe on raw pixels.
  const baselines: BaselineResult[] = [];
  if (args.baselines) {
    if (!args.randomInit) {
      const rnd = new TrunkFeatures(randomInitTrunk(config, args.initSeed, `random-init:${config.name}`), ctx);
      try {
        const m = (await probeTrunk(rnd, `baseline random-init trunk`, blocks)).metrics;
        baselines.push({ name: 'random-init trunk (same shape, untrained)', probe: args.probe, blocks, top1: m.top1, top5: m.top5 });
      } finally {
        rnd.dispose();
      }
    }
    const pixelsTrain = pixelFeatures(await ctx.data('train'));
    const pixelsTest = pixelFeatures(await ctx.data('test'));
    const m = (await probeOn('linear', pixelsTrain, pixelsTest, 'baseline raw pixels, linear')).metrics;
    baselines.push({ name: 'raw pixels (normalised input)', probe: 'linear', blocks: null, top1: m.top1, top5: m.top5 });
  }

  const headline = main!;
  const report = reportFromMetrics(headline.metrics, {
    checkpoint: trunks.at(-1)!.label,
    probe: args.probe,
    blocks,
    recipe: { ...recipeOf(args.probe, settings), blocksAveraged: blocks, finalTrainLoss: headline.epochLosses.at(-1) ?? null },
    data: {
      train: args.train,
      test: args.test,
      trainSamples,
      testSamples: headline.metrics.numSamples,
      numClasses,
      transform: `eval: resize shorter side to ${Math.round((config.imageSize * 256) / 224)}, centre crop ${config.imageSize}, ImageNet normalisation`,
    },
    model: { variant: config.name, width: config.width, depth: config.depth, heads: config.heads, patchSize: config.patchSize, imageSize: config.imageSize },
    baselines,
    blockSweep: sweep ? { probe: args.probe, points: sweep } : null,
    checkpoints: trunks.length > 1 ? checkpointPoints : [],
    ...(classNames ? { classNames } : {}),
  });
  const files = await writeReport(outDir, report);
  if (probeFile) files.push(probeFile);
  log(`wrote ${files.join(', ')}`);
  return { report, outDir, files };
}
