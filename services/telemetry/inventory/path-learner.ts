/**
 * Learns one workload's path templates from the paths it sees. Segments shaped like
 * identifiers become `{param}` at once (segment-shape.ts); a position that shows more than
 * `threshold` distinct literals under the same prefix is an identifier too (usernames, slugs,
 * product codes), and collapses into `{param}` with everything learned below it merged.
 * The root never collapses: many distinct first segments are scanners, not one collection.
 *
 * Bounded: at most `maxNodes` prefixes are kept; past that, an unseen segment is `{param}`.
 * Pure apart from its own state, which toJSON/fromJSON carry across restarts.
 */
import { MAX_SEGMENTS, PARAM, joinSegments, looksLikeId, pathSegments } from "./segment-shape.js";

interface Node {
  children: Map<string, Node>;
  /** Every literal at this position is an identifier: new ones go to the `{param}` child. */
  collapsed: boolean;
}

/** The learner's state as JSON: `c` children, `x` collapsed. */
export interface LearnerNodeJSON {
  c?: Record<string, LearnerNodeJSON>;
  x?: 1;
}

export interface PathLearnerOptions {
  /** Distinct literals at one position under one prefix before it becomes `{param}`. */
  threshold: number;
  /** Prefixes kept in memory. */
  maxNodes: number;
}

export const defaultLearnerOptions: PathLearnerOptions = { threshold: 32, maxNodes: 1024 };

function newNode(): Node {
  return { children: new Map(), collapsed: false };
}

function literalCount(node: Node): number {
  return node.children.size - (node.children.has(PARAM) ? 1 : 0);
}

export class PathLearner {
  private readonly root: Node = newNode();
  private nodes = 1;
  /** Increases whenever a collapse may have changed templates already handed out. */
  private generationValue = 0;

  constructor(private readonly options: PathLearnerOptions = defaultLearnerOptions) {}

  /** Changes whenever templates handed out before may now resolve differently (see resolve). */
  get generation(): number {
    return this.generationValue;
  }

  get size(): number {
    return this.nodes;
  }

  /** Learns from one path and returns its template. */
  learn(path: string): string {
    const segments = pathSegments(path).map((s) => (looksLikeId(s) ? PARAM : s));
    const out: string[] = [];
    let node: Node | undefined = this.root;
    for (const segment of segments) {
      if (node === undefined) {
        out.push(segment);
        continue;
      }
      const key = this.keyFor(node, segment);
      out.push(key);
      node = this.childFor(node, key);
    }
    return joinSegments(out);
  }

  /** A template handed out earlier, as the learner would template it now (after collapses). */
  resolve(template: string): string {
    const out: string[] = [];
    let node: Node | undefined = this.root;
    for (const segment of pathSegments(template)) {
      const key = node?.collapsed && node !== this.root ? PARAM : segment;
      out.push(key);
      node = node?.children.get(key);
    }
    return joinSegments(out);
  }

  private keyFor(node: Node, segment: string): string {
    if (segment === PARAM || node.children.has(segment)) return segment;
    if (node.collapsed) return PARAM;
    if (node !== this.root && literalCount(node) >= this.options.threshold) {
      this.collapse(node);
      return PARAM;
    }
    return this.nodes >= this.options.maxNodes ? PARAM : segment;
  }

  private childFor(node: Node, key: string): Node | undefined {
    const existing = node.children.get(key);
    if (existing) return existing;
    if (this.nodes >= this.options.maxNodes) return undefined;
    const child = newNode();
    node.children.set(key, child);
    this.nodes++;
    return child;
  }

  /** Folds every literal child of `node` into its `{param}` child. */
  private collapse(node: Node): void {
    this.collapseInto(node);
    this.nodes = countNodes(this.root);
    this.generationValue++;
  }

  private collapseInto(node: Node): void {
    node.collapsed = true;
    const param = node.children.get(PARAM) ?? newNode();
    for (const [key, child] of [...node.children]) {
      if (key === PARAM) continue;
      node.children.delete(key);
      this.merge(param, child);
    }
    node.children.set(PARAM, param);
  }

  private merge(into: Node, from: Node): void {
    into.collapsed ||= from.collapsed;
    for (const [key, child] of from.children) {
      const target = into.children.get(key);
      if (target) this.merge(target, child);
      else into.children.set(key, child);
    }
    if ((into.collapsed && literalCount(into) > 0) || literalCount(into) > this.options.threshold) this.collapseInto(into);
  }

  toJSON(): LearnerNodeJSON {
    return nodeToJSON(this.root);
  }

  static fromJSON(json: LearnerNodeJSON, options: PathLearnerOptions = defaultLearnerOptions): PathLearner {
    const learner = new PathLearner(options);
    const budget = { left: options.maxNodes - 1 };
    copyInto(learner.root, json, budget, 0);
    learner.nodes = countNodes(learner.root);
    return learner;
  }
}

function countNodes(node: Node): number {
  let n = 1;
  for (const child of node.children.values()) n += countNodes(child);
  return n;
}

function nodeToJSON(node: Node): LearnerNodeJSON {
  const out: LearnerNodeJSON = {};
  if (node.collapsed) out.x = 1;
  if (node.children.size > 0) out.c = Object.fromEntries([...node.children].map(([k, v]) => [k, nodeToJSON(v)]));
  return out;
}

/** Rebuilds stored state, never past the node budget (stored state is input, not trusted to be small). */
function copyInto(node: Node, json: LearnerNodeJSON, budget: { left: number }, depth: number): void {
  node.collapsed = json.x === 1;
  if (depth >= MAX_SEGMENTS || typeof json.c !== "object" || json.c === null) return;
  for (const [key, child] of Object.entries(json.c)) {
    if (budget.left <= 0) return;
    budget.left--;
    const next = newNode();
    node.children.set(key, next);
    copyInto(next, child, budget, depth + 1);
  }
}
