// AdamW with decoupled weight decay applied only to parameters flagged `decay`, its state kept as named tensors.
// References: Loshchilov & Hutter, "Decoupled Weight Decay Regularization" (ICLR 2019); torch.optim.AdamW;
// AIM recipe (El-Nouby et al. 2024): betas (0.9, 0.95), eps 1e-8, weight decay 0.05.
import * as tf from '@tensorflow/tfjs-core';

/** One trainable tensor, as the model lists it. `decay: false` for biases, norms and position embeddings. */
export interface TrainableParameter {
  readonly name: string;
  readonly variable: tf.Variable;
  readonly decay: boolean;
}

export interface AdamWOptions {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
}

export const ADAMW_DEFAULTS: AdamWOptions = Object.freeze({ beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.05 });

/** Checkpoint names of the moment tensors: `optimizer.m.<param>` and `optimizer.v.<param>`. */
export const momentName = (moment: 'm' | 'v', param: string): string => `optimizer.${moment}.${param}`;

export class AdamW {
  readonly options: AdamWOptions;
  private readonly params: readonly TrainableParameter[];
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  /** Number of updates applied so far; bias correction uses it, so it is part of the checkpoint. */
  private updates = 0;

  constructor(params: readonly TrainableParameter[], options: Partial<AdamWOptions> = {}) {
    this.options = Object.freeze({ ...ADAMW_DEFAULTS, ...options });
    const { beta1, beta2, eps, weightDecay } = this.options;
    if (!(beta1 >= 0 && beta1 < 1)) throw new Error(`AdamW: beta1 must be in [0, 1), got ${beta1}`);
    if (!(beta2 >= 0 && beta2 < 1)) throw new Error(`AdamW: beta2 must be in [0, 1), got ${beta2}`);
    if (!(eps > 0)) throw new Error(`AdamW: eps must be > 0, got ${eps}`);
    if (!(weightDecay >= 0)) throw new Error(`AdamW: weightDecay must be >= 0, got ${weightDecay}`);
    const seen = new Set<string>();
    for (const p of params) {
      if (seen.has(p.name)) throw new Error(`AdamW: parameter name '${p.name}' appears twice`);
      seen.add(p.name);
    }
    // tf.variable keeps its initial value's tensor alive next to the variable; tidy releases those (variables survive),
    // so dispose() frees all moment memory.
    tf.tidy(() => {
      for (const p of params) {
        this.m.set(p.name, tf.variable(tf.zerosLike(p.variable), false, momentName('m', p.name)));
        this.v.set(p.name, tf.variable(tf.zerosLike(p.variable), false, momentName('v', p.name)));
      }
    });
    this.params = params;
  }

  get updateCount(): number {
    return this.updates;
  }

  /**
   * One update with learning rate `lr`. `grads` maps parameter name -> gradient of the same shape; every parameter
   * must have one; each is multiplied by `gradScale` first (how clipping is applied without another pass).
   * p <- p * (1 - lr * wd) [decay params only]; p <- p - lr * m_hat / (sqrt(v_hat) + eps).
   */
  apply(grads: ReadonlyMap<string, tf.Tensor>, lr: number, gradScale = 1): void {
    if (!Number.isFinite(lr) || lr < 0) throw new Error(`AdamW: learning rate must be finite and >= 0, got ${lr}`);
    if (!Number.isFinite(gradScale) || gradScale < 0) throw new Error(`AdamW: gradScale must be finite and >= 0, got ${gradScale}`);
    for (const p of this.params) {
      const g = grads.get(p.name);
      if (!g) throw new Error(`AdamW: no gradient for parameter '${p.name}'`);
      if (!tf.util.arraysEqual(g.shape, p.variable.shape)) {
        throw new Error(`AdamW: gradient of '${p.name}' has shape [${g.shape}], parameter has [${p.variable.shape}]`);
      }
    }
    this.updates += 1;
    const { beta1, beta2, eps, weightDecay } = this.options;
    const biasCorrection1 = 1 - beta1 ** this.updates;
    const biasCorrection2 = 1 - beta2 ** this.updates;
    tf.tidy(() => {
      for (const p of this.params) {
        const g = gradScale === 1 ? grads.get(p.name)! : tf.mul(grads.get(p.name)!, gradScale);
        const m = this.m.get(p.name)!;
        const v = this.v.get(p.name)!;
        const mNext = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
        const vNext = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
        m.assign(mNext);
        v.assign(vNext);
        // m_hat / (sqrt(v_hat) + eps), the same expression torch uses.
        const step = tf.div(tf.div(mNext, biasCorrection1), tf.add(tf.sqrt(tf.div(vNext, biasCorrection2)), eps));
        const decayed = p.decay && weightDecay > 0 ? tf.mul(p.variable, 1 - lr * weightDecay) : p.variable;
        p.variable.assign(tf.sub(decayed, tf.mul(step, lr)));
      }
    });
  }

  /** The moments as named tensors (views of the live state: do not dispose). */
  stateTensors(): Record<string, tf.Tensor> {
    const out: Record<string, tf.Tensor> = {};
    for (const p of this.params) {
      out[momentName('m', p.name)] = this.m.get(p.name)!;
      out[momentName('v', p.name)] = this.v.get(p.name)!;
    }
    return out;
  }

  /** Restores moments (copied) and the update count saved by `stateTensors()` / `updateCount`. */
  loadState(tensors: Readonly<Record<string, tf.Tensor>>, updateCount: number): void {
    if (!Number.isInteger(updateCount) || updateCount < 0) {
      throw new Error(`AdamW: update count must be an integer >= 0, got ${updateCount}`);
    }
    for (const p of this.params) {
      for (const moment of ['m', 'v'] as const) {
        const name = momentName(moment, p.name);
        const t = tensors[name];
        if (!t) throw new Error(`AdamW: optimizer state has no tensor '${name}'`);
        if (!tf.util.arraysEqual(t.shape, p.variable.shape)) {
          throw new Error(`AdamW: state '${name}' has shape [${t.shape}], parameter has [${p.variable.shape}]`);
        }
        (moment === 'm' ? this.m : this.v).get(p.name)!.assign(t);
      }
    }
    this.updates = updateCount;
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}
