// The checks a sample passes on the main thread before any decode: it has an image member, the user's predicates
// accept it, and its label (when one is asked for) is an integer.
import { sampleCls, sampleJson, sampleText, type Sample } from '@aim/webdataset';
import type { Outcome, SampleInfo } from './loader-types.js';

export interface SampleChecks {
  /** Members tried, in order, for the image. */
  readonly imageKeys: readonly string[];
  readonly predicates: ReadonlyArray<[string, (sample: SampleInfo) => boolean]>;
  /** Member holding the class label, if any. */
  readonly labelKey: string | undefined;
}

/** Passed: the image member and the label (-1 for none). Failed: the rejection. */
export type CheckedSample = { ok: true; imageExt: string; label: number } | Extract<Outcome, { ok: false }>;

/** What a predicate sees; json is parsed on first access only, so predicates that do not read it cost nothing. */
export function sampleInfo(sample: Sample): SampleInfo {
  let json: unknown;
  let jsonDone = false;
  return {
    key: sample.__key__,
    url: sample.__url__,
    get json() {
      if (!jsonDone) {
        json = sample.json === undefined ? undefined : sampleJson(sample);
        jsonDone = true;
      }
      return json;
    },
    get txt() {
      return sample.txt === undefined ? undefined : sampleText(sample);
    },
    sample,
  };
}

export function checkSample(sample: Sample, checks: SampleChecks): CheckedSample {
  const key = sample.__key__;
  const url = sample.__url__;
  const { imageKeys, predicates, labelKey } = checks;
  const imageExt = imageKeys.find((ext) => sample[ext] !== undefined && typeof sample[ext] !== 'string');
  if (imageExt === undefined) {
    const has = Object.keys(sample).filter((k) => !k.startsWith('__'));
    return { ok: false, key, url, reason: 'missing_image', message: `no ${imageKeys.join('/')} member (has: ${has.join(', ') || 'none'})` };
  }
  if (predicates.length > 0) {
    const info = sampleInfo(sample);
    for (const [name, predicate] of predicates) {
      let pass: boolean;
      let why = 'predicate returned false';
      try {
        pass = predicate(info) === true;
      } catch (err) {
        pass = false;
        why = `predicate threw: ${(err as Error).message}`;
      }
      if (!pass) return { ok: false, key, url, reason: `filter:${name}`, message: why };
    }
  }
  let label = -1;
  if (labelKey !== undefined && sample[labelKey] !== undefined) {
    try {
      label = sampleCls(sample, labelKey);
    } catch (err) {
      return { ok: false, key, url, reason: 'filter:label', message: (err as Error).message };
    }
  }
  return { ok: true, imageExt, label };
}
