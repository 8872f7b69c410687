// A line difference of two JSON values, pretty-printed: what a change does, shown before it is made.

import { h } from './dom.js';

/** The lines of `a` and `b` as [kind, line] with kind `same`, `del` or `add` (longest common subsequence). */
export function lineDiff(a, b) {
  const lines = (text) => (text === '' ? [] : text.split('\n'));
  const x = lines(a);
  const y = lines(b);
  // lengths[i][j]: the longest common subsequence of x[i..] and y[j..]. Documents are small (hundreds of lines).
  const lengths = Array.from({ length: x.length + 1 }, () => new Uint32Array(y.length + 1));
  for (let i = x.length - 1; i >= 0; i -= 1) {
    for (let j = y.length - 1; j >= 0; j -= 1) {
      lengths[i][j] = x[i] === y[j] ? lengths[i + 1][j + 1] + 1 : Math.max(lengths[i + 1][j], lengths[i][j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < x.length && j < y.length) {
    if (x[i] === y[j]) {
      out.push(['same', x[i]]);
      i += 1;
      j += 1;
    } else if (lengths[i + 1][j] >= lengths[i][j + 1]) {
      out.push(['del', x[i]]);
      i += 1;
    } else {
      out.push(['add', y[j]]);
      j += 1;
    }
  }
  while (i < x.length) out.push(['del', x[i++]]);
  while (j < y.length) out.push(['add', y[j++]]);
  return out;
}

const MARKS = { same: '  ', del: '- ', add: '+ ' };

/**
 * A `<pre>` showing the difference between `before` and `after` (JSON values; undefined for none), with
 * unchanged runs longer than 2 × `context` lines folded.
 */
export function diffView(before, after, attrs = {}, context = 3) {
  const text = (value) => (value === undefined ? '' : JSON.stringify(sortKeys(value), null, 2));
  const lines = lineDiff(text(before), text(after));
  const changed = lines.some(([kind]) => kind !== 'same');
  const pre = h('pre', { class: 'diff', ...attrs });
  if (!changed) {
    pre.append(h('span', { class: 'same' }, 'No difference.'));
    return pre;
  }
  const near = lines.map((_, index) => lines.slice(Math.max(0, index - context), index + context + 1).some(([kind]) => kind !== 'same'));
  let folded = 0;
  const flush = () => {
    if (folded) pre.append(h('span', { class: 'same' }, `  … ${folded} unchanged line${folded === 1 ? '' : 's'}`));
    folded = 0;
  };
  lines.forEach(([kind, line], index) => {
    if (kind === 'same' && !near[index]) {
      folded += 1;
      return;
    }
    flush();
    pre.append(h('span', { class: kind }, MARKS[kind] + line));
  });
  flush();
  return pre;
}

// Keys in one order on both sides, so a field added at the end of one object does not show as a moved block.
function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((key) => [key, sortKeys(value[key])]));
  }
  return value;
}
